"""Edit a share of a generated bench site's pages in place, as a site changes between two crawls.

    .venv/bin/python bench/mutate_site.py bench/site-recrawl --share 0.1 --round 1

A page is chosen by a hash of ``(round, its global index)``, so the same command edits the same
pages, and a later round edits others. An edit changes what a reader sees: the title gets
"(update N)" and a paragraph is added at the top of the article. Both files of the page (the HTML
and its ``.gz`` twin, which nginx's gzip_static serves) are rewritten, so their mtime — and with
it nginx's ETag and Last-Modified — moves on.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import gen_site
from gen_site import Site, page_path


def chosen(site: Site, share: float, round_: int) -> list[int]:
    """The global page indexes the round edits."""
    limit = int(share * 2**32)
    out = []
    for g in range(site.pages):
        digest = hashlib.blake2b(f"{round_}:{g}".encode(), digest_size=4).digest()
        if int.from_bytes(digest, "big") < limit:
            out.append(g)
    return out


def file_of(site: Site, g: int) -> Path:
    host, k = g % site.hosts, g // site.hosts
    path = page_path(site.seed, host, k)
    return site.host_dir(host) / ("index.html" if path == "/" else path.lstrip("/"))


def edit(html: bytes, round_: int) -> bytes:
    html = html.replace(b"</title>", f" (update {round_})</title>".encode(), 1)
    note = f"<p>Updated in round {round_}: a correction was added to this article.</p>"
    return html.replace(b"<article>", b"<article>" + note.encode(), 1)


def mutate(site: Site, share: float, round_: int) -> int:
    """Edit the chosen pages; returns how many."""
    pages = chosen(site, share, round_)
    for g in pages:
        path = file_of(site, g)
        gen_site._write(path, edit(path.read_bytes(), round_))
    return len(pages)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("root", type=Path)
    ap.add_argument("--share", type=float, default=0.1)
    ap.add_argument("--round", type=int, default=1, dest="round_")
    args = ap.parse_args(argv)
    site = gen_site.load(args.root)
    if site is None:
        sys.exit(f"no generated site under {args.root}")
    n = mutate(site, args.share, args.round_)
    print(f"edited {n} of {site.pages} pages ({n / site.pages:.1%})")


if __name__ == "__main__":
    main()

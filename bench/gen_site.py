"""Generate the benchmark's static site: N realistic pages over 8 loopback hosts, pre-gzipped.

Deterministic: the same ``(pages, hosts, port, seed)`` always gives byte-identical files, so every
contender crawls the same bytes and a figure can be reproduced on another machine.

Layout (``root`` is ``bench/site`` by default)::

    root/site.json                 the manifest (pages, hosts, port, seed, bytes)
    root/h1/index.html[.gz]        host 127.0.0.1's home page (page k=0 of that host)
    root/h1/<section>/<k>-<slug>.html[.gz]
    root/h1/robots.txt             allows everything but /private/ (nothing links there)

Global page ``g`` (0 <= g < N) lives on host ``g % H`` as that host's page ``k = g // H``. Every
page links to (a) the home page and the host's first six pages (a nav bar: always known links),
(b) its children ``k*6+1 .. k*6+6`` on the same host, so the whole site is a tree under each
host's home page and every page is reachable from the 8 home pages, (c) 24 random pages of the
same host, (d) 2 random pages of other hosts (absolute URLs), plus a ``#top`` fragment and a
``mailto:`` link that crawlers must drop. That is ≈ 40 anchors a page, most of them already known
when the page is parsed, as on a real site. Links come in the forms real sites use (root-relative,
relative, absolute) so that link resolution is exercised. Pages are padded with paragraphs of
pseudo-words to ≈ 23 KB, which gzip to about a third.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

MANIFEST = "site.json"
FORMAT_VERSION = 1
SECTIONS = ("news", "sport", "tech", "culture", "science", "travel")
NAV_PAGES = 6  # the host's pages 1..6 are in every page's nav bar
BRANCHING = 6  # children per page: keeps the tree ≈ 5 levels deep at 10,000 pages
RANDOM_LINKS = 24
CROSS_HOST_LINKS = 2
TARGET_BYTES = 23_000
DEFAULT_PORT = 18080


@dataclass(frozen=True, slots=True)
class Site:
    """What a generated site is; stored as ``site.json`` in its root."""

    root: str
    pages: int
    hosts: int
    port: int
    seed: int
    html_bytes: int = 0
    gzip_bytes: int = 0
    version: int = FORMAT_VERSION

    def host_addr(self, host: int) -> str:
        """``127.0.0.{host+1}:port`` for host index ``host`` (0-based)."""
        return f"127.0.0.{host + 1}:{self.port}"

    def host_dir(self, host: int) -> Path:
        return Path(self.root) / f"h{host + 1}"

    def pages_of(self, host: int) -> int:
        """How many pages host ``host`` serves."""
        return len(range(host, self.pages, self.hosts))

    def seeds(self) -> list[str]:
        """The home page of every host: crawling from these reaches every page."""
        return [f"http://{self.host_addr(h)}/" for h in range(min(self.hosts, self.pages))]

    def urls(self) -> Iterator[str]:
        """Every page's absolute URL, once each (the set a complete crawl must store)."""
        for g in range(self.pages):
            host, k = g % self.hosts, g // self.hosts
            yield f"http://{self.host_addr(host)}{page_path(self.seed, host, k)}"


def page_path(seed: int, host: int, k: int) -> str:
    """The root-relative path of page ``k`` of ``host``: ``/`` for the home page."""
    if k == 0:
        return "/"
    rng = random.Random(f"path:{seed}:{host}:{k}")
    slug = "-".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 5)))
    return f"/{SECTIONS[k % len(SECTIONS)]}/{k}-{slug}.html"


def _make_words(count: int) -> list[str]:
    """A fixed vocabulary of pronounceable pseudo-words (compresses like real text)."""
    rng = random.Random("vocabulary")
    consonants, vowels = "bcdfghklmnprstvwz", "aeiou"
    words: set[str] = set()
    while len(words) < count:
        syllables = rng.choice((1, 2, 2, 3, 3, 4))
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables)))
    return sorted(words)


_WORDS = _make_words(3000)
# Zipf-like word frequencies, as in real prose: makes gzip ratios realistic (≈ 3:1).
_CUM_WEIGHTS = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(_WORDS))))
_CSS = """
body{font-family:Georgia,serif;margin:0;color:#222;background:#fafafa;line-height:1.55}
header,footer{background:#1d3557;color:#fff;padding:.6em 1.2em}
nav a{color:#f1faee;margin-right:1em;text-decoration:none}
main{max-width:46em;margin:1em auto;padding:0 1em}
article p{margin:.8em 0}
aside ul{columns:2;list-style:square}
.meta{color:#666;font-size:.85em}
footer a{color:#a8dadc}
""".strip()


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, cum_weights=_CUM_WEIGHTS, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + "."


def _href(site: Site, rng: random.Random, from_k: int, host: int, to_k: int) -> str:
    """A same-host link in one of the forms real pages mix: mostly root-relative."""
    path = page_path(site.seed, host, to_k)
    form = rng.random()
    if form < 0.6 or from_k == 0 or to_k == 0:
        return path
    if form < 0.85:  # relative to the current page's directory
        here = page_path(site.seed, host, from_k).rsplit("/", 2)[1]
        there_dir, there_file = path.rsplit("/", 2)[1:]
        return there_file if there_dir == here else f"../{there_dir}/{there_file}"
    return f"http://{site.host_addr(host)}{path}"


def render_page(site: Site, host: int, k: int) -> bytes:
    """The HTML of page ``k`` of ``host`` (deterministic)."""
    rng = random.Random(f"page:{site.seed}:{host}:{k}")
    n_host = site.pages_of(host)
    title_words = " ".join(rng.choices(_WORDS, k=rng.randint(3, 7))).title()
    section = "Home" if k == 0 else SECTIONS[k % len(SECTIONS)].title()
    title = f"{title_words} — {section} — Host {host + 1}"

    def anchor(to_k: int, text: str | None = None) -> str:
        label = text or " ".join(rng.choices(_WORDS, k=rng.randint(2, 5))).capitalize()
        return f'<a href="{_href(site, rng, k, host, to_k)}">{label}</a>'

    nav = [anchor(0, "Home")] + [
        anchor(i, SECTIONS[i % len(SECTIONS)].title()) for i in range(1, min(NAV_PAGES + 1, n_host))
    ]
    first_child = k * BRANCHING + 1
    children = [anchor(c) for c in range(first_child, min(first_child + BRANCHING, n_host))]
    related = [anchor(rng.randrange(n_host)) for _ in range(RANDOM_LINKS)]
    others = [h for h in range(site.hosts) if h != host and site.pages_of(h) > 0]
    cross = []
    for _ in range(CROSS_HOST_LINKS if others else 0):
        other = rng.choice(others)
        path = page_path(site.seed, other, rng.randrange(site.pages_of(other)))
        label = " ".join(rng.choices(_WORDS, k=3)).capitalize()
        cross.append(f'<a href="http://{site.host_addr(other)}{path}">{label}</a>')

    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="description" content="{_sentence(rng)}">\n'
        f"<style>\n{_CSS}\n</style>\n</head>\n"
    )
    top = (
        f'<body id="top">\n<header><nav>{" ".join(nav)}</nav></header>\n<main>\n<article>\n'
        f"<h1>{title_words}</h1>\n"
        f'<p class="meta">By {rng.choice(_WORDS).title()} {rng.choice(_WORDS).title()} · '
        f"{2020 + rng.randrange(6)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}</p>\n"
    )
    links_html = (
        "</article>\n<aside>\n<h2>Read next</h2>\n<ul>\n"
        + "".join(f"<li>{a}</li>\n" for a in children + related)
        + "</ul>\n<h2>Elsewhere</h2>\n<ul>\n"
        + "".join(f"<li>{a}</li>\n" for a in cross)
        + "</ul>\n</aside>\n</main>\n"
        + '<footer><a href="#top">Back to top</a> · '
        + f'<a href="mailto:editor@host{host + 1}.example">Contact</a></footer>\n'
        + "</body>\n</html>\n"
    )
    budget = TARGET_BYTES - len(head.encode()) - len(top.encode()) - len(links_html.encode())
    paragraphs: list[str] = []
    used = 0
    while used < budget:
        para = "<p>" + " ".join(_sentence(rng) for _ in range(rng.randint(3, 7))) + "</p>\n"
        paragraphs.append(para)
        used += len(para)
    return (head + top + "".join(paragraphs) + links_html).encode()


def _write(path: Path, data: bytes) -> int:
    """Write ``data`` and its ``.gz`` twin (mtime 0: byte-identical across runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    packed = gzip.compress(data, compresslevel=6, mtime=0)
    path.with_name(path.name + ".gz").write_bytes(packed)
    return len(packed)


def generate(
    root: Path, pages: int = 10_000, hosts: int = 8, port: int = DEFAULT_PORT, seed: int = 0
) -> Site:
    """Write the site under ``root`` (replacing what is there) and return its manifest."""
    if not 1 <= hosts <= 254 or pages < 1:
        raise ValueError(f"need 1 <= hosts <= 254 and pages >= 1, got {hosts=} {pages=}")
    if root.exists():
        shutil.rmtree(root)
    site = Site(root=str(root.resolve()), pages=pages, hosts=hosts, port=port, seed=seed)
    html_bytes = gzip_bytes = 0
    for host in range(min(hosts, pages)):
        robots = (
            "User-agent: *\nDisallow: /private/\n\n"
            f"Sitemap: http://{site.host_addr(host)}/sitemap.xml\n"
        ).encode()
        _write(site.host_dir(host) / "robots.txt", robots)
        for k in range(site.pages_of(host)):
            path = page_path(seed, host, k)
            rel = "index.html" if path == "/" else path.lstrip("/")
            data = render_page(site, host, k)
            html_bytes += len(data)
            gzip_bytes += _write(site.host_dir(host) / rel, data)
    done = Site(**{**asdict(site), "html_bytes": html_bytes, "gzip_bytes": gzip_bytes})
    (root / MANIFEST).write_text(json.dumps(asdict(done), indent=2) + "\n")
    return done


def load(root: Path) -> Site | None:
    """The manifest of the site under ``root``, or None when there is none (or an old format)."""
    try:
        data = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if data.get("version") != FORMAT_VERSION:
        return None
    return Site(**data)


def ensure(root: Path, pages: int, hosts: int = 8, port: int = DEFAULT_PORT, seed: int = 0) -> Site:
    """The site under ``root`` with these parameters, generated only when it is not there yet."""
    site = load(root)
    if site is not None and (site.pages, site.hosts, site.port, site.seed) == (
        pages,
        hosts,
        port,
        seed,
    ):
        return site
    return generate(root, pages, hosts, port, seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--root", type=Path, default=Path(__file__).parent / "site")
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.perf_counter()
    site = generate(args.root, args.pages, args.hosts, args.port, args.seed)
    print(
        f"{site.pages} pages over {site.hosts} hosts in {site.root}: "
        f"{site.html_bytes / site.pages / 1000:.1f} KB HTML a page, "
        f"{site.gzip_bytes / site.pages / 1000:.1f} KB gzipped "
        f"({time.perf_counter() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()

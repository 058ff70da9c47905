"""Fill a crawler state dir with a big frontier through the crawler's own SQLite storage.

``run.py --frontier-probe`` runs this as a child process (so that ``wait4`` gives its peak RSS),
then resumes ``crawler run`` over the state it leaves and times how long that takes to store its
first page. The frontier holds the site's real pages first (depth 1, in discovery order, so the
resumed run leases them first and finds real pages) and then synthetic URLs on the same hosts up to
``--urls`` in all (depth 2; nginx would answer 404 if they were ever fetched).

    .venv/bin/python bench/frontier_probe.py --site bench/site --state-dir D --urls 1000000

Prints one JSON line: fill and reopen times, the RSS after reopening (the in-memory dedupe set
rebuilt at open), the database size and the frontier counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gen_site import SECTIONS, Site, load

from crawler.storage import Storage, open_storage


def frontier_urls(site: Site, total: int) -> Iterator[tuple[str, int]]:
    """``(url, depth)``: the site's pages, then synthetic ones, ``total`` in all."""
    count = 0
    for url in site.urls():
        if count == total:
            return
        yield url, 0 if url.endswith(f":{site.port}/") else 1
        count += 1
    i = 0
    while count < total:
        host = i % site.hosts
        section = SECTIONS[i % len(SECTIONS)]
        yield f"http://{site.host_addr(host)}/archive/{section}/{i}-story.html", 2
        count += 1
        i += 1


def _rss_kb() -> int:
    """Current resident set size in KB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _storage(state_dir: Path) -> Storage:
    """The storage the crawler itself would open for ``state_dir`` (SQLite backend)."""
    return open_storage("sqlite", state_dir)


async def probe(site: Site, state_dir: Path, total: int, batch: int) -> dict[str, Any]:
    """Fill ``state_dir`` with ``total`` URLs, then reopen it; returns the figures."""
    state_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    storage = _storage(state_dir)
    await storage.open()
    chunk: list[tuple[str, int]] = []
    added = 0
    for entry in frontier_urls(site, total):
        chunk.append(entry)
        if len(chunk) == batch:
            added += await storage.add(chunk)
            await storage.commit()
            chunk.clear()
    if chunk:
        added += await storage.add(chunk)
    await storage.commit()
    rss_filled_kb = _rss_kb()
    await storage.close()
    fill_s = time.perf_counter() - started

    rss_before_kb = _rss_kb()
    started = time.perf_counter()
    storage = _storage(state_dir)
    await storage.open()
    reopen_s = time.perf_counter() - started
    rss_reopened_kb = _rss_kb()
    known = sum(storage.is_known(url) for url, _ in frontier_urls(site, min(total, 10_000)))
    counts = await storage.counts()
    await storage.close()
    db_bytes = sum(p.stat().st_size for p in state_dir.iterdir() if p.is_file())
    return {
        "urls": total,
        "added": added,
        "fill_s": round(fill_s, 2),
        "reopen_s": round(reopen_s, 3),
        "rss_filled_mb": round(rss_filled_kb / 1024, 1),
        "rss_before_reopen_mb": round(rss_before_kb / 1024, 1),
        "rss_reopened_mb": round(rss_reopened_kb / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "state_dir_mb": round(db_bytes / 2**20, 1),
        "known_sample": known,
        "counts": {
            "pending": counts.pending,
            "leased": counts.leased,
            "done": counts.done,
            "dead": counts.dead,
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="fill a state dir with a big frontier")
    ap.add_argument("--site", type=Path, required=True, help="the generated site's root")
    ap.add_argument("--state-dir", type=Path, required=True)
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000, help="URLs per add() + commit()")
    args = ap.parse_args()
    site = load(args.site)
    if site is None:
        sys.exit(f"no generated site under {args.site}")
    figures = asyncio.run(probe(site, args.state_dir, args.urls, args.batch))
    json.dump(figures, sys.stdout)
    print()


if __name__ == "__main__":
    main()

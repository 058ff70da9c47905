"""Crawlee-python contender: crawl the whole bench site and count the pages.

Runs in ``bench/.venv-contenders`` (made by ``run.py``). ``--parser parsel`` uses ParselCrawler,
``--parser bs`` BeautifulSoupCrawler (its default lxml tree builder); both with memory storage,
Crawlee's default HTTP client, robots.txt respected and its default retries (3). Concurrency is
pinned to ``--concurrency`` (Crawlee autoscales on CPU load otherwise; it has no per-host limit).
Links are enqueued with ``enqueue_links(strategy="all")`` restricted by a regex to the seeds'
hosts, so cross-host links are followed as by the other contenders and nothing else is requested.
Each page is pushed to the (memory) dataset as ``{url, title}``.
Prints one JSON line at the end: ``{"pages": ..., "errors": ..., "retries": ...}``.

    bench/.venv-contenders/bin/python bench/crawlee_run.py SEED... --parser parsel
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from typing import Any
from urllib.parse import urlsplit

from crawlee import ConcurrencySettings
from crawlee.crawlers import (
    BeautifulSoupCrawler,
    BeautifulSoupCrawlingContext,
    ParselCrawler,
    ParselCrawlingContext,
)
from crawlee.storage_clients import MemoryStorageClient


async def crawl(seeds: list[str], parser: str, concurrency: int) -> dict[str, int]:
    """Run one Crawlee crawl from ``seeds``; returns the counts."""
    hosts = sorted({urlsplit(s).netloc for s in seeds})
    in_scope = re.compile(r"^https?://(?:" + "|".join(re.escape(h) for h in hosts) + r")/")
    common: dict[str, Any] = {
        "storage_client": MemoryStorageClient(),
        "concurrency_settings": ConcurrencySettings(
            min_concurrency=concurrency,
            desired_concurrency=concurrency,
            max_concurrency=concurrency,
        ),
        "respect_robots_txt_file": True,
        "configure_logging": False,
        "max_requests_per_crawl": None,
    }
    pages = 0
    crawler: ParselCrawler | BeautifulSoupCrawler
    if parser == "parsel":
        crawler = ParselCrawler(**common)

        @crawler.router.default_handler
        async def parsel_handler(context: ParselCrawlingContext) -> None:
            nonlocal pages
            pages += 1
            title = context.selector.css("title::text").get()
            await context.push_data({"url": context.request.url, "title": title})
            await context.enqueue_links(strategy="all", include=[in_scope])

    else:
        crawler = BeautifulSoupCrawler(**common)

        @crawler.router.default_handler
        async def bs_handler(context: BeautifulSoupCrawlingContext) -> None:
            nonlocal pages
            pages += 1
            title = context.soup.title.string if context.soup.title else None
            await context.push_data({"url": context.request.url, "title": title})
            await context.enqueue_links(strategy="all", include=[in_scope])

    stats = await crawler.run(seeds)
    return {
        "pages": pages,
        "errors": stats.requests_failed,
        # retry_histogram[i] = requests that needed i retries
        "retries": sum(i * n for i, n in enumerate(stats.retry_histogram)),
        "requests": stats.requests_total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="Crawlee contender")
    ap.add_argument("seeds", nargs="+")
    ap.add_argument("--parser", choices=["parsel", "bs"], default="parsel")
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    counts = asyncio.run(crawl(args.seeds, args.parser, args.concurrency))
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()

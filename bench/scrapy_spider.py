"""Scrapy contender: crawl the whole bench site the idiomatic way and count the pages.

Runs in ``bench/.venv-contenders`` (made by ``run.py``). Settings match the other rows: concurrency
64, 8 per host, robots.txt obeyed, Scrapy's own retry middleware on (its defaults: 2 retries on
500/502/503/504/522/524/408/429 and connection errors), every page written as one JSON line
(url, title, links) through a feed export. The parse callback follows every ``<a href>`` with
``response.follow`` and lets Scrapy's dupefilter drop known ones, as Scrapy's docs teach.
Prints one JSON line at the end: ``{"pages": ..., "errors": ..., "retries": ...}``.

    bench/.venv-contenders/bin/python bench/scrapy_spider.py SEED... --out bench/out/scrapy.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response


class BenchSpider(scrapy.Spider):
    """Follows every link inside the seeds' hosts; yields one item a page."""

    name = "bench"

    def __init__(self, seeds: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = seeds
        self.allowed_domains = sorted({urlsplit(s).hostname or "" for s in seeds})
        self.pages = 0

    async def start(self) -> Any:
        # Start URLs are not exempt from the dupefilter (Scrapy's default is dont_filter=True),
        # or each home page would be fetched twice: once as a seed, once as a link.
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        self.pages += 1
        links = [response.urljoin(h) for h in response.css("a::attr(href)").getall()]
        yield {"url": response.url, "title": response.css("title::text").get(), "links": links}
        for href in links:
            if href.startswith(("http://", "https://")):
                yield response.follow(href, callback=self.parse)


def main() -> None:
    ap = argparse.ArgumentParser(description="Scrapy contender")
    ap.add_argument("seeds", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host-concurrency", type=int, default=8)
    args = ap.parse_args()
    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_host_concurrency,
            "DOWNLOAD_DELAY": 0,
            "ROBOTSTXT_OBEY": True,
            "RETRY_ENABLED": True,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
            "FEEDS": {args.out: {"format": "jsonlines", "overwrite": True}},
        }
    )
    crawler = process.create_crawler(BenchSpider)
    process.crawl(crawler, seeds=args.seeds)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    spider = crawler.spider
    pages = spider.pages if isinstance(spider, BenchSpider) else 0
    result = {
        "pages": pages,
        "errors": int(stats.get("log_count/ERROR", 0)),
        "retries": int(stats.get("retry/count", 0)),
        "requests": int(stats.get("downloader/request_count", 0)),
    }
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()

"""Redis round trips per page of the shared host ledger (docs/shared-politeness.md).

Starts a throwaway ``redis-server``, crawls a loopback site of ``--hosts`` hosts × ``--pages``
pages with one in-process worker on the Redis backend, and prints the ledger's round trips
(acquires and release batches) per stored page, next to the Lua script calls of the whole crawl
(``EVALSHA`` in ``INFO commandstats``: storage and ledger together; commands run inside a script
are not client calls)::

    .venv/bin/python -m bench.ledger_round_trips --hosts 4 --pages 100
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from crawler import AdaptiveCrawler
from crawler.config import load_config
from crawler.testing import Page, TestSite
from tests.redis_server import RedisServer


async def evalsha(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def crawl(hosts: int, pages: int, tmp: Path, url: str) -> None:
    sites = [TestSite() for _ in range(hosts)]
    for site in sites:
        await site.__aenter__()
    try:
        for site in sites:
            paths = [f"/p{i}" for i in range(pages)]
            site.add("/", Page(title="home", links=paths))
            for path in paths:
                site.add(path, Page(title=path))
        values = {
            "crawl.state_dir": str(tmp / "state"),
            "crawl.out": str(tmp / "pages.jsonl"),
            "crawl.concurrency": 16,
            "storage.backend": "redis",
            "storage.redis_url": f"{url}?namespace=bench-{uuid.uuid4().hex}",
            "llm.enabled": False,
            "soft404.probe": False,
        }
        cfg = load_config(None, values, env={})
        client = aioredis.Redis.from_url(url)
        before = await evalsha(client)
        started = time.perf_counter()
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([s.url("/") for s in sites])
            ledger = crawler._hosts.sync.ledger
            trips = int(getattr(ledger, "round_trips", 0))
        elapsed = time.perf_counter() - started
        after = await evalsha(client)
        await client.aclose()
        n = summary.pages_ok
        print(f"pages {n}  requests {summary.requests}  {n / elapsed:.0f} pages/s")
        print(f"ledger round trips {trips}  = {trips / n:.2f} per page")
        print(f"script calls (all) {after - before}  = {(after - before) / n:.2f} per page")
    finally:
        for site in sites:
            await site.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not on PATH")
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(binary, Path(tmp))
        server.start()
        try:
            asyncio.run(crawl(args.hosts, args.pages, Path(tmp), server.url))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

"""Real crawls of the loopback test site with ``[storage] backend = "redis"`` on a real server.

"Many workers" here means several ``AdaptiveCrawler`` instances, each with its own state dir
(its lock and its results file), sharing one frontier through a ``namespace`` in the Redis URL:
every page is stored exactly once across the workers' results files.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.testing import Page, TestSite
from tests.conftest import read_jsonl
from tests.redis_server import redis_url_fixture  # noqa: F401 - the redis_url fixture

pytestmark = pytest.mark.redis

PAGES = [f"/p{i}" for i in range(12)]


def build_site(site: TestSite) -> None:
    """A home page, twelve pages below it, and links back and across (dedupe across workers)."""
    site.add("/", Page(title="Home", links=PAGES[:6]))
    for i, path in enumerate(PAGES):
        more = [PAGES[(i + 6) % len(PAGES)], "/"] if i < 6 else [PAGES[i - 6]]
        site.add(path, Page(title=f"P{i}", links=more))


def worker_config(
    make_config: Callable[..., Config], tmp_path: Path, name: str, url: str, **more: Any
) -> Config:
    return make_config(
        crawl__state_dir=str(tmp_path / name),
        crawl__out=str(tmp_path / f"{name}.jsonl"),
        storage__backend="redis",
        storage__redis_url=url,
        **more,
    )


async def test_redis_crawl_stores_exact_records_and_resume_fetches_nothing_twice(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path, redis_url: str
) -> None:
    site.add("/", Page(title="Home", links=["/a", "/b"]))
    site.add("/a", Page(title="A", links=["/"]))
    site.add("/b", Page(title="B"))
    cfg = worker_config(make_config, tmp_path, "state", redis_url)
    async with AdaptiveCrawler(cfg) as crawler:
        first = await crawler.run([site.url("/")])
    async with AdaptiveCrawler(cfg) as crawler:
        second = await crawler.run([site.url("/")])
    assert first.pages_ok == second.pages_ok == 3
    assert first.requests == 5  # robots.txt, the soft-404 probe and three pages
    assert second.requests == 0
    records = {r["url"]: r for r in read_jsonl(tmp_path / "state.jsonl")}
    assert len(read_jsonl(tmp_path / "state.jsonl")) == 3
    u = site.url
    assert set(records) == {u("/"), u("/a"), u("/b")}
    assert records[u("/")]["links"] == [u("/a"), u("/b")]
    assert records[u("/a")]["links"] == [u("/")]
    assert [records[k]["depth"] for k in (u("/"), u("/a"), u("/b"))] == [0, 1, 1]
    assert [records[k]["title"] for k in (u("/"), u("/a"), u("/b"))] == ["Home", "A", "B"]
    assert all(r["attempts"] == 1 and r["status"] == 200 for r in records.values())
    assert all(r["final_url"] == r["url"] for r in records.values())
    assert max(v for k, v in site.hits.items() if k != "/robots.txt") == 1


async def test_two_workers_at_once_store_every_page_exactly_once(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path, redis_url: str
) -> None:
    build_site(site)
    shared = f"{redis_url}?namespace=job-{uuid.uuid4().hex}"
    configs = [
        worker_config(make_config, tmp_path, name, shared, crawl__concurrency=2)
        for name in ("w1", "w2")
    ]
    async with AdaptiveCrawler(configs[0]) as one, AdaptiveCrawler(configs[1]) as two:
        summaries = await asyncio.gather(one.run([site.url("/")]), two.run([site.url("/")]))
    stored = Counter(
        r["url"] for name in ("w1", "w2") for r in read_jsonl(tmp_path / f"{name}.jsonl")
    )
    expected = {site.url(p) for p in ["/", *PAGES]}
    assert set(stored) == expected
    assert max(stored.values()) == 1
    assert all(site.hits[p] == 1 for p in ["/", *PAGES])
    assert sum(s.requests for s in summaries) == sum(site.hits.values())  # with robots.txt
    assert [s.pages_ok for s in summaries] == [len(expected)] * 2  # totals of the shared state


async def test_a_second_worker_finishes_what_the_first_left(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path, redis_url: str
) -> None:
    build_site(site)
    shared = f"{redis_url}?namespace=job-{uuid.uuid4().hex}"
    first_cfg = worker_config(
        make_config, tmp_path, "w1", shared, crawl__max_pages=4, crawl__concurrency=1
    )
    async with AdaptiveCrawler(first_cfg) as first:
        early = await first.run([site.url("/")])
    assert early.pages_ok == 4
    assert early.pending > 0
    async with AdaptiveCrawler(worker_config(make_config, tmp_path, "w2", shared)) as second:
        late = await second.run()  # no seeds: the shared frontier has the work
    one = [r["url"] for r in read_jsonl(tmp_path / "w1.jsonl")]
    two = [r["url"] for r in read_jsonl(tmp_path / "w2.jsonl")]
    assert len(one) == 4
    assert not set(one) & set(two)
    assert sorted(one + two) == sorted(site.url(p) for p in ["/", *PAGES])
    # and its own soft-404 probe; robots.txt is the crawl's (docs/shared-politeness.md): the
    # second worker reads the rules the first stored and fetches nothing of it
    assert late.requests == len(PAGES) + 1 - 4 + 1
    assert site.hits["/robots.txt"] == 1
    assert late.pages_ok == len(PAGES) + 1
    assert late.pending == 0
    assert all(site.hits[p] == 1 for p in ["/", *PAGES])

"""Guards decide when, never whether; attempts are exact (docs/failure-path.md), on loopback.

Real aiohttp servers misbehave on purpose (crawler.testing.TestSite, and tests/raw_server.py for
header spellings aiohttp would not send); every count below is what the server received.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config, FetchConfig
from crawler.engine.hosts import Admission, HostRegistry
from crawler.errors import ConfigError
from crawler.observe.events import CrawlEvents
from crawler.testing import Behaviour, Page, Partial, Redirect, Reset, Status, TestSite
from crawler.web.fetch import Fetcher
from crawler.web.robots import RobotsRules
from tests.conftest import read_jsonl
from tests.raw_server import RawServer, response
from tests.test_failure_path import free_port

UA = "adaptive-crawler-test/1"


def flaky_pages(site: TestSite, n: int) -> list[str]:
    """Pages that fail their first one or two requests (500, 502, 503, a dropped body)."""
    faults: list[Behaviour] = [Status(500), Status(502), Status(503), Partial()]
    paths = [f"/f{i}" for i in range(n)]
    for i, path in enumerate(paths):
        first = faults[i % len(faults)]
        if i % 3 == 0:
            site.add(path, first, faults[(i + 1) % len(faults)], Page(title=path))
        else:
            site.add(path, first, Page(title=path))
    return paths


async def test_a_flaky_host_and_a_dead_host_in_one_crawl(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    dead_port = free_port("127.0.0.3")
    dead = f"127.0.0.3:{dead_port}"
    async with TestSite("127.0.0.2") as site:
        paths = flaky_pages(site, 40)
        dead_links = [f"http://{dead}/d{i}" for i in range(10)]
        site.add("/", Page(title="root", links=[*paths, *dead_links]))
        clean = TestSite("127.0.0.4")
        async with clean:
            for path in paths:
                clean.add(path, Page(title=path))
            clean.add("/", Page(title="root", links=paths))
            cfg = make_config(
                crawl__out=str(tmp_path / "clean.jsonl"), crawl__state_dir=str(tmp_path / "c")
            )
            started = time.monotonic()
            async with AdaptiveCrawler(cfg) as crawler:
                await crawler.run([clean.url("/")])
            clean_s = time.monotonic() - started

        cfg = make_config(
            crawl__allowed_domains=[dead],
            crawl__out=str(tmp_path / "o.jsonl"),
            circuit_breaker__failure_threshold=3,
        )
        started = time.monotonic()
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
            dlq = {e.url: e for e in await crawler.storage.dlq_list()}
        elapsed = time.monotonic() - started

    records = {r["url"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    for i, path in enumerate(paths):
        record = records[site.url(path)]
        assert record["attempts"] == site.hits[path] == (3 if i % 3 == 0 else 2), path
    assert set(dlq) == set(dead_links)
    assert {e.error["category"] for e in dlq.values()} == {"NETWORK"}
    assert summary.breakers[dead] == "open"
    assert summary.breakers.get(site.netloc, "closed") != "open", "the flaky host was given up"
    # robots.txt is the dead host's first request: it is retried, then the host is parked.
    assert summary.pages_ok == len(paths) + 1 == len(records)
    # No stall: well within three clean crawls plus the backoff caps of the test config.
    caps = cfg.retry.max_retries * cfg.retry.max_delay_s + cfg.circuit_breaker.max_open_s
    assert elapsed <= 3 * clean_s + caps + 5.0, (elapsed, clean_s)


@pytest.mark.parametrize("code", [500, 503])
async def test_a_plain_5xx_gets_exactly_max_retries_plus_one_requests(
    site: TestSite, make_config: Callable[..., Config], code: int
) -> None:
    site.add("/", Page(title="root", links=["/bad"]))
    site.add("/bad", Status(code))
    cfg = make_config(retry__max_retries=3, retry__budget_min_retries=1)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    assert site.hits["/bad"] == 4 == entry.attempts
    assert entry.error["category"] == "SERVER"


async def test_a_dropped_connection_counts_every_request_the_server_received(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    # The first requests reuse a keep-alive connection: aiohttp would re-send a GET on it by
    # itself when the server drops it, below our retry layer. That re-send is off.
    site.add("/", Page(title="root", links=["/drop", "/a", "/b"]))
    site.add("/drop", Reset())
    site.add("/a", Page(title="a", links=["/drop"]))
    site.add("/b", Page(title="b"))
    cfg = make_config(retry__max_retries=2, crawl__concurrency=1)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    assert entry.url == site.url("/drop")
    assert site.hits["/drop"] == entry.attempts == 3


async def test_the_hidden_resend_is_off() -> None:
    """aiohttp's private switch exists and is off (an upgrade that renames it fails here)."""
    async with Fetcher(FetchConfig(), user_agent=UA) as fetcher:
        assert fetcher.session._retry_connection is False


async def test_robots_txt_gets_at_most_max_retries_plus_one_requests(
    make_config: Callable[..., Config],
) -> None:
    async with TestSite("127.0.0.2") as site:
        site.robots = Status(503)
        links = [f"/p{i}" for i in range(8)]
        site.add("/", Page(title="root", links=links))
        cfg = make_config(retry__max_retries=2, crawl__per_host_concurrency=4)
        async with AdaptiveCrawler(cfg) as crawler:
            await crawler.run([site.url("/"), *[site.url(p) for p in links]])
            dlq = await crawler.storage.dlq_list()
    assert site.hits["/robots.txt"] == 3
    assert len(dlq) == 9
    assert sum(n for path, n in site.hits.items() if path != "/robots.txt") == 0


async def test_crawl_delay_holds_from_the_first_page(
    make_config: Callable[..., Config],
) -> None:
    async with TestSite("127.0.0.2") as site:
        site.robots = "User-agent: *\nCrawl-delay: 0.4\n"
        links = [f"/p{i}" for i in range(3)]
        site.add("/", Page(title="root", links=links))
        for path in links:
            site.add(path, Page(title=path))
        cfg = make_config(crawl__per_host_concurrency=4, soft404__probe=False)
        async with AdaptiveCrawler(cfg) as crawler:
            await crawler.run([site.url("/")])
    times = [t for t, _ in site.log]  # robots.txt, then every page, as the server saw them
    assert len(times) == 5
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.4 - 0.01, gaps


async def test_a_redirect_targets_failing_robots_txt_is_retried_not_a_robots_entry(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    async with TestSite("127.0.0.2") as origin, TestSite("127.0.0.3") as target:
        target.add("/robots.txt", Status(503), Status(200, body="User-agent: *\nAllow: /\n"))
        target.add("/page", Page(title="moved here"))
        origin.add("/", Page(title="root", links=["/go"]))
        origin.add("/go", Redirect(target.url("/page")))
        cfg = make_config(
            crawl__allowed_domains=[target.netloc], crawl__out=str(tmp_path / "o.jsonl")
        )
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([origin.url("/")])
            dlq = await crawler.storage.dlq_list()
    assert dlq == []
    records = {r["url"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert records[origin.url("/go")]["final_url"] == target.url("/page")
    assert summary.pages_ok == 2 == len(records)  # the redirect target is seen, not a page


async def test_a_pause_beyond_max_retry_after_parks_the_host_and_the_crawl_ends(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    others = [f"/p{i}" for i in range(5)]
    # /limited comes first (FIFO), then the host's other URLs, one request at a time.
    site.add("/", Page(title="root", links=["/limited", *others]))
    site.add("/limited", Status(429, {"Retry-After": "9" * 400}), Page(title="never"))
    for path in others:
        site.add(path, Page(title=path))
    cfg = make_config(
        retry__max_retry_after_s=5, crawl__per_host_concurrency=1, crawl__concurrency=1
    )
    async with AdaptiveCrawler(cfg) as crawler:
        summary = await asyncio.wait_for(crawler.run([site.url("/")]), timeout=30)
        dlq = {e.url: e for e in await crawler.storage.dlq_list()}
    assert {e.error["category"] for e in dlq.values()} == {"RATE_LIMIT"}
    assert set(dlq) == {site.url(p) for p in ["/limited", *others]}
    assert dlq[site.url("/limited")].error["status_code"] == 429
    assert all(site.hits[p] == 0 for p in others)
    assert summary.pending == 0


async def test_an_admission_settles_exactly_once(make_config: Callable[..., Config]) -> None:
    cfg = make_config()
    hosts = HostRegistry(cfg, rng=random.Random(0), events=CrawlEvents(cfg, clock=time.time))
    state = hosts.get("a.test:80")
    hosts.set_robots(state, _allow_all())
    admitted = await hosts.admit(state, 0.0, retry=False)
    assert isinstance(admitted, Admission)
    admitted.cancel()
    with pytest.raises(RuntimeError, match="settled twice"):
        admitted.success(0.1, 0.1, status=200, nbytes=0)


def _allow_all() -> RobotsRules:
    return RobotsRules(None, "adaptive-crawler")


async def test_crawl_grows_the_scope_for_each_url_it_is_given(
    make_config: Callable[..., Config],
) -> None:
    async with TestSite("127.0.0.2") as a, TestSite("127.0.0.3") as b:
        a.add("/", Page(title="a"))
        b.add("/old", Redirect("/new"))
        b.add("/new", Page(title="b new"))
        async with AdaptiveCrawler(make_config()) as crawler:
            first = await crawler.crawl(a.url("/"))
            second = await crawler.crawl(b.url("/old"))
    assert first.ok
    assert second.ok, second.failure
    assert second.page is not None
    assert second.page.final_url == b.url("/new")


async def test_crawl_refuses_a_bad_selector_before_any_request(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/", Page(title="root"))
    async with AdaptiveCrawler(make_config()) as crawler:
        with pytest.raises(ConfigError, match="target_data"):
            await crawler.crawl(site.url("/"), {"bad": "p::before"})
    assert site.hits == {}


async def test_dlq_times_have_one_format_from_the_injected_clock(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/", Page(title="root", links=["/gone"]))
    site.add("/gone", Status(410))
    fixed = 1_893_456_000.0  # 2030-01-01T00:00:00Z
    async with AdaptiveCrawler(make_config(), clock=lambda: fixed) as crawler:
        await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    stamp = "2030-01-01T00:00:00.000Z"
    assert entry.first_failed_at == entry.last_failed_at == entry.error["timestamp"] == stamp
    assert all(h["at"] == stamp for h in entry.history)


async def test_a_lower_case_location_header_is_followed(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    async with RawServer() as server:
        server.route("/", response(302, [("location", "/there")]))
        server.route("/there", response(200, [("content-type", "text/html")], b"<title>ok</title>"))
        cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"), crawl__respect_robots_txt=False)
        async with AdaptiveCrawler(cfg) as crawler:
            await crawler.run([server.url("/")])
    (record,) = read_jsonl(tmp_path / "o.jsonl")
    assert record["final_url"] == server.url("/there")
    assert record["title"] == "ok"


async def test_the_summary_agrees_with_the_files(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add("/", Page(title="root", links=["/old", "/new", "/x", "/missing"]))
    site.add("/old", Redirect("/new"))
    site.add("/new", Page(title="new"))
    site.add("/x", Redirect("/y"))
    site.add("/y", Page(title="y"))
    cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"))
    async with AdaptiveCrawler(cfg) as crawler:
        summary = await crawler.run([site.url("/")])
        dlq = await crawler.storage.dlq_list()
    urls = {r["url"] for r in read_jsonl(tmp_path / "o.jsonl")}
    assert summary.pages_ok == len(urls)
    assert summary.dlq_items == len(dlq) == 1

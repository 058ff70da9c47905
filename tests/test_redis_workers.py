"""Operating a shared Redis crawl (docs/workers.md): fenced leases, renewal while a fetch is slow,
the per-host lease cap that splits a small frontier between workers, and the read-only commands
(``dlq list``) from a fresh directory while workers run.

Lease timing uses an injected clock against a real ``redis-server``; the crawls are real
``AdaptiveCrawler`` workers on the loopback test site.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from crawler import AdaptiveCrawler
from crawler.cli import main
from crawler.config import Config
from crawler.storage import FrontierCounts
from crawler.storage.output import JsonlSink
from crawler.storage.redis import RedisStorage
from crawler.testing import Page, Stall, Status, TestSite
from tests.conftest import read_jsonl
from tests.redis_cluster import (
    any_redis_url_fixture,  # noqa: F401 - any_redis_url
    redis_cluster_url_fixture,  # noqa: F401 - redis_cluster_url
)
from tests.redis_server import (
    Clock,
    open_pair,
    redis_url_fixture,  # noqa: F401 - the redis_url fixture
)

pytestmark = pytest.mark.redis

T = 100.0  # lease_timeout_s of the stores on the injected clock


def url(n: int, host: str = "a.test") -> str:
    return f"http://{host}/{n}"


@pytest.fixture
async def pair(any_redis_url: str) -> AsyncIterator[tuple[RedisStorage, RedisStorage, Clock]]:
    clock = Clock(1_000_000.0)
    async with open_pair(any_redis_url, f"t-{uuid.uuid4().hex}", clock, T) as (a, b):
        yield a, b, clock


async def test_a_lapsed_lease_cannot_store_its_page(
    pair: tuple[RedisStorage, RedisStorage, Clock], tmp_path: Path
) -> None:
    a, b, clock = pair
    await a.add([(url(1), 0), (url(2), 0)])
    one, two = await a.lease(2, 0.0)
    assert one.fence
    assert two.fence
    assert one.fence != two.fence
    clock.now += T + 1  # a stalls past its leases; b reclaims url(1) and stores it
    (theirs,) = await b.lease(1, 0.0)
    assert theirs.url == url(1)
    assert theirs.fence > two.fence
    await b.ack(theirs, 1)
    assert await b.fence_acks() == set()
    await b.commit()
    # a wakes up with both pages fetched: url(1) is b's now, and url(2) went back to pending
    # when b's lease call reclaimed every expired lease. Both lines are dropped unwritten.
    sink = JsonlSink(tmp_path / "a.jsonl")
    await sink.open(None)
    for lease in (one, two):
        sink.stage({"url": lease.url})
        await a.ack(lease, 1)
    sink.discard(await a.fence_acks())
    await a.commit(str(sink.path), sink.flush())
    await sink.close()
    assert read_jsonl(sink.path) == []
    assert await a.counts() == FrontierCounts(pending=1, leased=0, done=1, dead=0)
    (again,) = await b.lease(1, 0.0)
    assert again.url == url(2)


async def test_a_stale_ack_the_fence_missed_is_refused_at_commit(
    pair: tuple[RedisStorage, RedisStorage, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    a, b, clock = pair
    await a.add([(url(1), 0)])
    (mine,) = await a.lease(1, 0.0)
    await a.ack(mine, 1)
    assert await a.fence_acks() == set()  # held, and extended past the commit
    clock.now += T + 1  # ... but a stalls for a whole lease between the fence and the commit
    (theirs,) = await b.lease(1, 0.0)
    with caplog.at_level(logging.ERROR, logger="crawler"):
        await a.commit()
    assert "was lost between writing its results line and the commit" in caplog.text
    assert await b.counts() == FrontierCounts(pending=0, leased=1, done=0, dead=0)
    await b.ack(theirs, 1)
    await b.commit()
    assert await b.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=0)


async def test_stale_nack_and_dead_letter_leave_the_new_holder_alone(
    pair: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, clock = pair
    await a.add([(url(1), 0)])
    (mine,) = await a.lease(1, 0.0)
    clock.now += T + 1
    (theirs,) = await b.lease(1, 0.0)
    await a.nack(mine, 0.0, 1, 1)
    from crawler.records import DLQEntry

    entry = DLQEntry(0, mine.url, 1, {"category": "SERVER", "message": "x"}, {}, "", "")
    stored = await a.dead_letter(mine, 1, entry)
    assert stored.id == 0  # not recorded: b holds the URL
    assert await b.dlq_count() == 0
    assert await b.counts() == FrontierCounts(pending=0, leased=1, done=0, dead=0)
    await b.ack(theirs, 1)
    await b.commit()
    assert await a.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=0)


async def test_a_fetch_slower_than_the_lease_keeps_it_while_the_worker_renews(
    pair: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, clock = pair
    await a.add([(url(1), 0)])
    (mine,) = await a.lease(1, 0.0)
    # One fetch of 3.5 lease timeouts; the renewer wakes every quarter of one.
    for _ in range(14):
        clock.now += T / 4
        assert await a.renew_leases() == set()
        assert await b.lease(1, 0.0) == []
    await a.ack(mine, 1)
    assert await a.fence_acks() == set()
    await a.commit()
    assert await b.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=0)


async def test_the_renewer_runs_in_the_background(any_redis_url: str) -> None:
    store = RedisStorage(any_redis_url, namespace=f"t-{uuid.uuid4().hex}", lease_timeout_s=T)
    await store.open()
    try:
        assert store._renewer is not None
        assert not store._renewer.done()
    finally:
        await store.close()
    assert store._renewer is None


async def test_lease_takes_at_most_per_host_of_each_host(
    pair: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, _ = pair
    await a.add([(url(n, h), 0) for n in range(5) for h in ("a.test", "b.test")])
    mine = await a.lease(10, 0.0, per_host=2)
    assert Counter(le.host for le in mine) == {"a.test:80": 2, "b.test:80": 2}
    theirs = await b.lease(10, 0.0, per_host=2)
    assert Counter(le.host for le in theirs) == {"a.test:80": 2, "b.test:80": 2}
    assert {le.url for le in mine}.isdisjoint(le.url for le in theirs)
    assert [le.url for le in mine if le.host == "a.test:80"] == [url(0), url(1)]


# -- workers on the loopback site ----------------------------------------------------------------
def worker(make_config: Callable[..., Config], tmp_path: Path, name: str, shared: str) -> Config:
    return make_config(
        crawl__state_dir=str(tmp_path / name),
        crawl__out=str(tmp_path / f"{name}.jsonl"),
        crawl__per_host_concurrency=2,
        storage__backend="redis",
        storage__redis_url=shared,
    )


async def test_three_workers_share_a_small_site(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path, any_redis_url: str
) -> None:
    pages = [f"/p{i}" for i in range(30)]
    site.add("/", Page(title="Home", links=pages))
    for i, path in enumerate(pages):
        site.add(path, Stall(0.3, Page(title=f"P{i}", links=["/"])))
    shared = f"{any_redis_url}?namespace=fair-{uuid.uuid4().hex}"
    names = ("w1", "w2", "w3")
    # Two requests in flight a worker, six on the host for the whole crawl (the throttle starts
    # there): no worker can use every host slot, so the split shows what each worker leases
    # (what it can start: two), where the old batches of 64 let the first take the frontier.
    configs = [
        make_config(
            crawl__state_dir=str(tmp_path / n),
            crawl__out=str(tmp_path / f"{n}.jsonl"),
            crawl__concurrency=2,
            crawl__per_host_concurrency=6,
            throttle__initial_concurrency=6,
            storage__backend="redis",
            storage__redis_url=shared,
        )
        for n in names
    ]
    async with (
        AdaptiveCrawler(configs[0]) as w1,
        AdaptiveCrawler(configs[1]) as w2,
        AdaptiveCrawler(configs[2]) as w3,
    ):
        await asyncio.gather(*(w.run([site.url("/")]) for w in (w1, w2, w3)))
    per_worker = {n: [r["url"] for r in read_jsonl(tmp_path / f"{n}.jsonl")] for n in names}
    stored = Counter(u for urls in per_worker.values() for u in urls)
    assert set(stored) == {site.url(p) for p in ["/", *pages]}
    assert max(stored.values()) == 1
    assert all(len(urls) >= 4 for urls in per_worker.values()), {
        n: len(u) for n, u in per_worker.items()
    }


async def _when(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
async def test_dlq_list_reads_a_running_crawl(
    backend: str,
    site: TestSite,
    make_config: Callable[..., Config],
    tmp_path: Path,
    any_redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.add("/", Page(title="Home", links=["/gone", "/slow"]))
    site.add("/gone", Status(404))
    site.add("/slow", Stall(1.5, Page(title="Slow")))
    namespace = f"live-{uuid.uuid4().hex}"
    shared = f"{any_redis_url}?namespace={namespace}"
    more = {"storage__backend": "redis", "storage__redis_url": shared} if backend == "redis" else {}
    cfg = make_config(
        crawl__state_dir=str(tmp_path / "state"), crawl__out=str(tmp_path / "out.jsonl"), **more
    )
    async with AdaptiveCrawler(cfg) as crawler:
        run = asyncio.create_task(crawler.run([site.url("/")]))
        await _when(lambda: site.hits.get("/slow", 0) > 0, "the slow page's request")
        await _when(lambda: (tmp_path / "out.jsonl").exists(), "the first commit")
        await asyncio.sleep(0.2)  # the 404's dead letter is written through, the home page's
        if backend == "redis":  # ack committed within batch_interval_s
            fresh = tmp_path / "elsewhere"  # a directory no run has used
            fresh.mkdir()
            argv = ["dlq", "list", "--json", "--redis-url", shared, "--state-dir", str(fresh)]
        else:
            argv = ["dlq", "list", "--json", "--state-dir", str(tmp_path / "state")]
        code = await asyncio.to_thread(main, argv)
        assert not run.done(), "the crawl finished before the command read it"
        await run
    assert code == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["url"], e["error"]["category"]) for e in entries] == [
        (site.url("/gone"), "NOT_FOUND")
    ]


def test_read_only_commands_refuse_an_empty_namespace(
    any_redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["stats", "--redis-url", f"{any_redis_url}?namespace=nobody-{uuid.uuid4().hex}"]
    assert main([*argv, "--state-dir", str(tmp_path / "new")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


async def test_dlq_retry_requeue_only_puts_urls_back_into_the_shared_frontier(
    site: TestSite,
    make_config: Callable[..., Config],
    tmp_path: Path,
    any_redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site.add("/", Page(title="Home", links=["/gone"]))
    site.add("/gone", Status(404))
    shared = f"{any_redis_url}?namespace=retry-{uuid.uuid4().hex}"
    cfg = worker(make_config, tmp_path, "w1", shared)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
    fresh = str(tmp_path / "elsewhere")
    argv = ["dlq", "retry", "--all", "--requeue-only", "--redis-url", shared, "--state-dir", fresh]
    assert await asyncio.to_thread(main, argv) == 0
    assert "re-queued 1 entries" in capsys.readouterr().err
    argv = ["stats", "--json", "--redis-url", shared, "--state-dir", fresh]
    assert await asyncio.to_thread(main, argv) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["pending"], stats["done"], stats["dlq_items"]) == (1, 1, 1)
    assert not Path(fresh).exists()  # nothing was written on this machine

"""The storage contract (crawler/storage/base.py), run against every backend.

A backend joins by adding its name to ``BACKENDS``, a branch to ``Backend.make`` and one to
``_abandon``; everything below uses only the ``Storage`` protocol, except the tests at the end
marked SQLite-only and Redis-only. The Redis backend runs against a real ``redis-server``
(tests/redis_server.py), one namespace per test.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.errors import ConfigError, StorageError
from crawler.records import DLQEntry, PageState
from crawler.storage import FrontierCounts, Lease, SQLiteStorage, Storage, open_storage
from crawler.storage import sqlite as sqlite_backend
from crawler.storage.redis import RedisStorage, namespace_for, redis_target
from crawler.storage.sqlite import schema as sqlite_schema
from tests.redis_cluster import (
    any_redis_url_fixture,  # noqa: F401 - any_redis_url
    redis_cluster_url_fixture,  # noqa: F401 - redis_cluster_url
)
from tests.redis_server import (
    Clock,
    open_pair,
    redis_url_fixture,  # noqa: F401 - the redis_url fixture
)

BACKENDS = [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),  # 3 nodes, tests/redis_cluster.py
]
LEASE_TIMEOUT_S = 300.0

MakeStorage = Callable[[], Storage]


class Backend:
    """Makes unopened stores of one kind; stores made with the same name share one state (so a
    reopen sees the last one), and all share one clock (so a dead process's leases can expire)."""

    def __init__(self, kind: str, tmp_path: Path, server_url: str = "") -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.server_url = server_url
        self.clock = Clock()

    def make(self, name: str = "state") -> Storage:
        if self.kind == "sqlite":
            return SQLiteStorage(self.tmp_path / f"{name}.sqlite3", clock=self.clock)
        if self.kind in ("redis", "redis-cluster"):
            return RedisStorage(
                self.server_url,
                namespace=namespace_for(self.tmp_path / name),
                clock=self.clock,
                lease_timeout_s=LEASE_TIMEOUT_S,
            )
        raise AssertionError(self.kind)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    kind: str = request.param
    fixture = {"redis": "redis_url", "redis-cluster": "redis_cluster_url"}.get(kind)
    server = request.getfixturevalue(fixture) if fixture else ""
    return Backend(kind, tmp_path, server)


@pytest.fixture
def make_storage(backend: Backend) -> MakeStorage:
    """A factory of unopened stores that all share one state."""
    return backend.make


@pytest.fixture
async def storage(make_storage: MakeStorage) -> AsyncIterator[Storage]:
    store = make_storage()
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def url(n: int, host: str = "a.test") -> str:
    return f"http://{host}/{n}"


def entry_for(
    lease: Lease, category: str = "SERVER", at: str = "2024-05-01T10:00:00+00:00"
) -> DLQEntry:
    return DLQEntry(
        id=0,
        url=lease.url,
        attempts=0,
        error={"category": category, "message": f"{category} failure", "status_code": 503},
        analysis={
            "error_type": category.lower(),
            "severity": "high",
            "description": "d",
            "should_retry": False,
            "suggested_action": "give_up_url",
            "recovery_steps": [],
        },
        first_failed_at=at,
        last_failed_at=at,
        host=lease.host,
        history=[{"at": at, "attempt": 1}],
    )


async def lease_all(store: Storage, now: float = 1e12) -> list[Lease]:
    return await store.lease(10_000, now)


# -- frontier --------------------------------------------------------------------------------------
async def test_add_dedupes_and_is_known(storage: Storage) -> None:
    assert not storage.is_known(url(1))
    assert await storage.add([(url(1), 0), (url(2), 1), (url(1), 0)]) == 2
    assert await storage.add([(url(2), 1), (url(3), 2)]) == 1
    assert await storage.add([]) == 0
    assert storage.is_known(url(1))
    assert storage.is_known(url(3))
    assert not storage.is_known(url(4))
    assert await storage.counts() == FrontierCounts(pending=3, leased=0, done=0, dead=0)


async def test_lease_is_fifo_and_respects_limit(storage: Storage) -> None:
    await storage.add((url(n), n % 3) for n in range(10))
    first = await storage.lease(4, 0.0)
    assert [le.url for le in first] == [url(n) for n in range(4)]
    assert [le.depth for le in first] == [0, 1, 2, 0]
    assert first[0].host == "a.test:80"
    assert first[0].attempts == 0
    assert first[0].tries == 0
    rest = await storage.lease(100, 0.0)
    assert [le.url for le in rest] == [url(n) for n in range(4, 10)]
    assert await storage.lease(5, 0.0) == []
    assert await storage.lease(0, 0.0) == []
    assert await storage.counts() == FrontierCounts(pending=0, leased=10, done=0, dead=0)


async def test_lease_excludes_hosts(storage: Storage) -> None:
    await storage.add([(url(1, "a.test"), 0), (url(2, "b.test:8080"), 0), (url(3, "a.test"), 0)])
    leased = await storage.lease(10, 0.0, exclude_hosts=["a.test:80"])
    assert [le.url for le in leased] == [url(2, "b.test:8080")]
    assert leased[0].host == "b.test:8080"
    assert await storage.next_ready_at(exclude_hosts=["a.test:80"]) is None
    assert await storage.next_ready_at() == 0.0
    assert [le.url for le in await storage.lease(10, 0.0)] == [url(1), url(3)]


async def test_lease_excludes_a_host_that_holds_most_of_the_frontier(storage: Storage) -> None:
    # Big enough for the SQLite backend to query the other hosts one by one instead of walking
    # past the excluded host's URLs; the answer must be the same either way.
    entries = [(url(n, "big.test"), 0) for n in range(6000)]
    for n in range(0, 6000, 1000):
        entries.insert(n + 500, (url(n, f"small{n}.test"), 0))
    await storage.add(entries)
    smalls = [u for u, _ in entries if "small" in u]
    (first_small,) = await storage.lease(1, 0.0, exclude_hosts=["big.test:80"])
    assert first_small.url == smalls[0]
    await storage.nack(first_small, 50.0, 1, 1)
    if isinstance(storage, SQLiteStorage):
        assert storage._hosts_to_query(["big.test:80"]) is not None
    got = await storage.lease(3, 60.0, exclude_hosts=["big.test:80"])
    assert [le.url for le in got] == smalls[:3]
    await storage.nack(got[0], 70.0, 2, 2)
    assert await storage.next_ready_at(exclude_hosts=["big.test:80"]) == 0.0
    got = await storage.lease(10, 60.0, exclude_hosts=["big.test:80"])
    assert [le.url for le in got] == smalls[3:]
    assert await storage.next_ready_at(exclude_hosts=["big.test:80"]) == 70.0
    assert await storage.next_ready_at() == 0.0
    assert (await storage.lease(1, 0.0))[0].url == url(0, "big.test")


async def test_nack_not_before_is_respected_and_order_kept(storage: Storage) -> None:
    await storage.add((url(n), 0) for n in range(4))
    leases = await storage.lease(2, 100.0)
    await storage.nack(leases[0], 150.0, attempts=1, tries=1)  # a retry: counts incremented
    await storage.nack(leases[1], 0.0, leases[1].attempts, leases[1].tries)  # a deferral
    assert await storage.next_ready_at() == 0.0
    # At 120 the retried URL is not ready; the deferred one is, ahead of later discoveries.
    assert [le.url for le in await storage.lease(10, 120.0)] == [url(1), url(2), url(3)]
    assert await storage.next_ready_at() == 150.0
    assert await storage.lease(10, 149.9) == []
    (again,) = await storage.lease(10, 150.0)
    assert (again.url, again.attempts, again.tries, again.not_before) == (url(0), 1, 1, 150.0)
    assert await storage.next_ready_at() is None


async def test_due_retries_merge_with_fresh_urls_in_discovery_order(storage: Storage) -> None:
    await storage.add((url(n), 0) for n in range(6))
    leases = await storage.lease(6, 0.0)
    for le in leases:
        if le.url in (url(1), url(4)):
            await storage.nack(le, 50.0, 1, 1)
        else:
            await storage.nack(le, 0.0, 0, 0)
    assert [le.url for le in await storage.lease(6, 60.0)] == [url(n) for n in range(6)]


async def test_ack_dead_letter_and_counts(storage: Storage) -> None:
    await storage.add((url(n), 0) for n in range(3))
    a, b, c = await storage.lease(3, 0.0)
    await storage.ack(a, attempts=2)
    stored = await storage.dead_letter(b, 3, entry_for(b))
    assert stored.id > 0
    assert stored.attempts == 3
    assert stored.url == b.url
    assert await storage.counts() == FrontierCounts(pending=0, leased=1, done=1, dead=1)
    await storage.nack(c, 0.0, 1, 1)
    assert await storage.counts() == FrontierCounts(pending=1, leased=0, done=1, dead=1)
    got = await storage.dlq_get(stored.id)
    assert got is not None
    assert got.to_dict() == stored.to_dict()
    assert got.error["category"] == "SERVER"
    assert set(got.analysis) == {
        "error_type",
        "severity",
        "description",
        "should_retry",
        "suggested_action",
        "recovery_steps",
    }
    assert await storage.dlq_get(stored.id + 100) is None


async def test_dead_letter_again_updates_the_one_entry(storage: Storage) -> None:
    await storage.add([(url(1), 2)])
    (lease,) = await storage.lease(1, 0.0)
    first = await storage.dead_letter(lease, 2, entry_for(lease, "SERVER", "2024-05-01T10:00:00Z"))
    assert await storage.dlq_requeue([first.id]) == 1
    (lease,) = await storage.lease(1, 0.0)
    assert (lease.attempts, lease.tries, lease.depth) == (2, 0, 2)  # attempts kept, tries reset
    second = await storage.dead_letter(
        lease, 5, entry_for(lease, "TIMEOUT", "2024-05-02T10:00:00Z")
    )
    assert second.id == first.id
    (only,) = await storage.dlq_list()
    assert only.attempts == 5
    assert only.error["category"] == "TIMEOUT"
    assert only.first_failed_at == "2024-05-01T10:00:00Z"
    assert only.last_failed_at == "2024-05-02T10:00:00Z"
    assert [h["at"] for h in only.history] == ["2024-05-01T10:00:00Z", "2024-05-02T10:00:00Z"]
    assert await storage.dlq_list(category="SERVER") == []


async def test_ack_removes_dlq_entry_after_requeue(storage: Storage) -> None:
    await storage.add([(url(1), 0), (url(2), 0)])
    one, two = await storage.lease(2, 0.0)
    e1 = await storage.dead_letter(one, 1, entry_for(one))
    await storage.dead_letter(two, 1, entry_for(two))
    assert await storage.dlq_requeue([e1.id, 999]) == 1
    assert await storage.counts() == FrontierCounts(pending=1, leased=0, done=0, dead=1)
    assert len(await storage.dlq_list()) == 2  # the entry stays until the URL is acked
    (again,) = await storage.lease(5, 0.0)
    assert again.url == one.url
    await storage.ack(again, attempts=2)
    assert [e.url for e in await storage.dlq_list()] == [two.url]
    assert await storage.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=1)


async def test_requeue_all_and_purge(storage: Storage) -> None:
    await storage.add((url(n), 0) for n in range(3))
    entries = [await storage.dead_letter(le, 1, entry_for(le)) for le in await lease_all(storage)]
    assert await storage.dlq_requeue(None) == 3
    assert await storage.counts() == FrontierCounts(pending=3, leased=0, done=0, dead=0)
    for le in await lease_all(storage):
        await storage.dead_letter(le, 2, entry_for(le))
    assert await storage.dlq_purge([entries[0].id, 12345]) == 1
    assert [e.id for e in await storage.dlq_list()] == [entries[1].id, entries[2].id]
    assert await storage.dlq_purge() == 2
    assert await storage.dlq_list() == []
    # Purged entries' URLs stay dead: nothing comes back to the frontier.
    assert await storage.counts() == FrontierCounts(pending=0, leased=0, done=0, dead=3)
    assert await storage.dlq_requeue(None) == 0


async def test_dlq_filters(storage: Storage) -> None:
    await storage.add([(url(1, "a.test"), 0), (url(2, "b.test"), 0), (url(3, "a.test"), 0)])
    a1, b2, a3 = await lease_all(storage)
    await storage.dead_letter(a1, 1, entry_for(a1, "SERVER", "2024-05-01T10:00:00Z"))
    await storage.dead_letter(b2, 1, entry_for(b2, "NOT_FOUND", "2024-05-02T10:00:00+00:00"))
    await storage.dead_letter(a3, 1, entry_for(a3, "NOT_FOUND", "2024-05-03T10:00:00+00:00"))

    def urls(entries: list[DLQEntry]) -> list[str]:
        return [e.url for e in entries]

    assert urls(await storage.dlq_list()) == [a1.url, b2.url, a3.url]
    assert urls(await storage.dlq_list(category="NOT_FOUND")) == [b2.url, a3.url]
    assert urls(await storage.dlq_list(category="not_found")) == [b2.url, a3.url]
    assert urls(await storage.dlq_list(host="a.test:80")) == [a1.url, a3.url]
    assert urls(await storage.dlq_list(since="2024-05-02T10:00:00Z")) == [b2.url, a3.url]
    assert urls(await storage.dlq_list(since="2024-05-02T12:00:00+02:00")) == [b2.url, a3.url]
    assert urls(await storage.dlq_list(since="2024-05-03")) == [a3.url]
    assert urls(await storage.dlq_list("NOT_FOUND", "a.test:80", "2024-05-01")) == [a3.url]
    with pytest.raises(ConfigError, match="since"):
        await storage.dlq_list(since="yesterday")


async def test_give_up_host_leases_all_its_pending_urls(storage: Storage) -> None:
    await storage.add([(url(1, "a.test"), 0), (url(2, "b.test"), 0), (url(3, "a.test"), 0)])
    await storage.add([(url(4, "a.test"), 0)])
    (first,) = await storage.lease(1, 0.0)  # url(1) stays leased: not part of the give-up
    b2, a3, a4 = await storage.lease(5, 0.0)
    await storage.nack(b2, 0.0, 0, 0)
    await storage.nack(a3, 9e9, 1, 1)  # not ready for ages: given up all the same
    await storage.nack(a4, 0.0, 0, 0)
    given = await storage.give_up_host("a.test:80")
    assert [le.url for le in given] == [url(3), url(4)]
    assert given[0].attempts == 1
    assert first.url == url(1)
    assert await storage.give_up_host("a.test:80") == []
    assert await storage.counts() == FrontierCounts(pending=1, leased=3, done=0, dead=0)


async def test_add_done_and_lease_url(storage: Storage) -> None:
    await storage.add([(url(1), 0), (url(2), 0)])
    assert await storage.add_done(url(3), 1)  # unknown: recorded as an alias (seen)
    assert storage.is_known(url(3))
    assert await storage.add_done(url(1), 0)  # pending: becomes an alias
    assert not await storage.add_done(url(1), 0)
    # Aliases are seen, not stored: pages_ok (done) counts only pages with a results line.
    assert await storage.counts() == FrontierCounts(1, 0, 0, 0, aliased=2)
    assert [le.url for le in await storage.lease(10, 0.0)] == [url(2)]
    assert not await storage.add_done(url(2), 0)  # leased: left alone
    assert await storage.lease_url(url(2)) is None  # leased already

    fresh = await storage.lease_url(url(9), depth=3)
    assert fresh is not None
    assert (fresh.url, fresh.depth, fresh.attempts) == (url(9), 3, 0)
    assert storage.is_known(url(9))
    again = await storage.lease_url(url(3))  # an alias: fetched on request
    assert again is not None
    assert again.depth == 1
    assert await storage.counts() == FrontierCounts(0, 3, 0, 0, aliased=1)


async def test_lease_url_of_a_url_acked_in_the_open_batch(storage: Storage) -> None:
    await storage.add([(url(1), 2)])
    (lease,) = await storage.lease(1, 0.0)
    await storage.ack(lease, 3)
    again = await storage.lease_url(url(1))  # fetched again on request, before any commit
    assert again is not None
    assert (again.url, again.depth, again.attempts) == (url(1), 2, 3)
    assert await storage.counts() == FrontierCounts(pending=0, leased=1, done=0, dead=0)
    await storage.nack(again, 0.0, 4, 1)
    await storage.commit()
    assert await storage.counts() == FrontierCounts(pending=1, leased=0, done=0, dead=0)
    (last,) = await storage.lease(1, 0.0)
    assert (last.attempts, last.tries) == (4, 1)


async def test_meta_round_trip(storage: Storage) -> None:
    assert await storage.get_meta("seeds") is None
    await storage.set_meta("seeds", ["http://a.test/", "http://b.test/é"])
    await storage.set_meta("robots", {"a.test:80": {"fetched": 1.5, "ok": True}})
    await storage.set_meta("seeds", ["http://c.test/"])
    assert await storage.get_meta("seeds") == ["http://c.test/"]
    assert await storage.get_meta("robots") == {"a.test:80": {"fetched": 1.5, "ok": True}}
    assert await storage.out_offset("/tmp/out.jsonl") is None
    await storage.commit("/tmp/out.jsonl", 1234)
    assert await storage.out_offset("/tmp/out.jsonl") == 1234
    assert await storage.out_offset("/tmp/other.jsonl") is None


# -- recrawl: page states --------------------------------------------------------------------------
def page(n: int, due_at: float, **kw: Any) -> PageState:
    return PageState(url(n), etag=f'"e{n}"', digest=f"d{n}", due_at=due_at, **kw)


async def store_pages(store: Storage, dues: list[float]) -> None:
    """Add, lease, and store one page per due time (url(0), url(1), ...), then commit."""
    await store.add((url(n), 0) for n in range(len(dues)))
    for n, lease in enumerate(await store.lease(len(dues), 0.0)):
        await store.put_page(page(n, dues[n]))
        await store.ack(lease, 1)
    await store.commit()


async def test_page_states_and_due_revisits(storage: Storage) -> None:
    await store_pages(storage, [100.0, 200.0, 300.0])
    got = await storage.get_pages([url(0), url(2), url(9), url(0)])
    assert got == {url(0): page(0, 100.0), url(2): page(2, 300.0)}
    assert await storage.page_count() == 3
    assert await storage.requeue_due(150.0) == 1
    assert await storage.counts() == FrontierCounts(pending=1, leased=0, done=2, dead=0)
    assert await storage.requeue_due(150.0) == 0  # pending already: not requeued twice
    (lease,) = await storage.lease(10, 0.0)
    assert (lease.url, lease.attempts, lease.tries, lease.not_before) == (url(0), 1, 0, 0.0)
    await storage.put_page(page(0, 500.0, revisits=1))
    await storage.ack(lease, 2)
    await storage.commit()
    assert (await storage.get_pages([url(0)]))[url(0)].revisits == 1
    assert await storage.requeue_due(250.0) == 1  # url(1) only: url(0) moved on to 500
    assert [le.url for le in await storage.lease(10, 0.0)] == [url(1)]
    assert await storage.page_count() == 3
    assert await storage.counts() == FrontierCounts(pending=0, leased=1, done=2, dead=0)


async def test_revisits_lease_in_discovery_order_before_later_urls(storage: Storage) -> None:
    await store_pages(storage, [10.0, 10.0])
    await storage.add([(url(5), 1)])
    assert await storage.requeue_due(10.0) == 2
    assert [le.url for le in await storage.lease(10, 0.0)] == [url(0), url(1), url(5)]


async def test_a_failed_revisit_keeps_the_stored_page(storage: Storage) -> None:
    await store_pages(storage, [10.0])
    assert await storage.requeue_due(20.0) == 1
    (lease,) = await storage.lease(1, 0.0)
    entry = await storage.dead_letter(lease, 3, entry_for(lease, "NOT_FOUND"))
    await storage.commit()
    assert await storage.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=0)
    assert [e.id for e in await storage.dlq_list()] == [entry.id]
    assert await storage.page_count() == 1
    assert await storage.requeue_due(20.0) == 1  # still due: the next recrawl tries again
    (lease,) = await storage.lease(1, 0.0)
    await storage.put_page(page(0, 90.0))
    await storage.ack(lease, 4)
    await storage.commit()
    assert await storage.dlq_list() == []
    assert await storage.requeue_due(50.0) == 0
    # A DLQ retry of a failed revisit works as for any entry.
    assert await storage.requeue_due(100.0) == 1
    (lease,) = await storage.lease(1, 0.0)
    entry = await storage.dead_letter(lease, 5, entry_for(lease, "SERVER"))
    assert await storage.dlq_requeue([entry.id]) == 1
    (lease,) = await storage.lease(1, 0.0)
    await storage.put_page(page(0, 900.0))
    await storage.ack(lease, 6)
    await storage.commit()
    assert await storage.dlq_list() == []
    assert await storage.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=0)
    assert await storage.requeue_due(800.0) == 0


async def test_revisit_now(storage: Storage) -> None:
    await store_pages(storage, [1e9])
    await storage.add([(url(1), 0)])
    (plain,) = await storage.lease(1, 0.0)
    await storage.ack(plain, 1)  # done without a page state (stored before states existed)
    await storage.commit()
    assert not await storage.revisit_now(url(1))
    assert not await storage.revisit_now(url(7))
    assert await storage.revisit_now(url(0))
    assert not await storage.revisit_now(url(0))  # pending now
    (lease,) = await storage.lease(5, 0.0)
    assert (lease.url, lease.tries) == (url(0), 0)


async def test_page_states_are_committed_with_the_acks(make_storage: MakeStorage) -> None:
    store = make_storage()
    await store.open()
    await store_pages(store, [10.0])
    await store.add([(url(1), 0)])
    (lease,) = await store.lease(1, 0.0)
    await store.put_page(page(1, 20.0))
    await store.ack(lease, 1)
    assert set(await store.get_pages([url(0), url(1)])) == {url(0), url(1)}
    await _abandon(store)

    store = make_storage()
    await store.open()
    try:
        assert set(await store.get_pages([url(0), url(1)])) == {url(0)}
        assert await store.page_count() == 1
        assert await store.requeue_due(30.0) == 1
    finally:
        await store.close()


# -- durability ------------------------------------------------------------------------------------
async def test_commit_then_reopen_keeps_everything(make_storage: MakeStorage) -> None:
    store = make_storage()
    await store.open()
    await store.add((url(n), 1) for n in range(5))
    a, b, c = await store.lease(3, 0.0)
    await store.ack(a, 1)
    entry = await store.dead_letter(b, 4, entry_for(b))
    await store.nack(c, 500.0, 2, 2)
    await store.set_meta("seeds", [url(0)])
    await store.commit("/out.jsonl", 77)
    await store.close()

    store = make_storage()
    await store.open()
    try:
        assert store.is_known(url(4))
        assert not store.is_known(url(99))
        assert await store.counts() == FrontierCounts(pending=3, leased=0, done=1, dead=1)
        assert await store.get_meta("seeds") == [url(0)]
        assert await store.out_offset("/out.jsonl") == 77
        got = await store.dlq_get(entry.id)
        assert got is not None
        assert got.to_dict() == entry.to_dict()
        assert await store.next_ready_at() == 0.0
        assert [le.url for le in await store.lease(10, 600.0)] == [url(2), url(3), url(4)]
    finally:
        await store.close()


@pytest.mark.parametrize("steps", range(6))
async def test_a_commit_cancelled_mid_flight_leaves_the_store_usable(
    make_storage: MakeStorage, steps: int
) -> None:
    """A crawl stopped while a batch is being sent: the batch lands or not, never half, and
    the connection is not left inside a transaction (later calls still answer correctly)."""
    store = make_storage()
    await store.open()
    try:
        await store.add((url(n), 1) for n in range(4))
        a, b = await store.lease(2, 0.0)
        await store.ack(a, 1)
        await store.ack(b, 2)
        task = asyncio.create_task(store.commit("/out.jsonl", 10))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.commit("/out.jsonl", 10)
        assert await store.counts() == FrontierCounts(pending=2, leased=0, done=2, dead=0)
        assert [le.url for le in await store.lease(10, 0.0)] == [url(2), url(3)]
    finally:
        await store.close()
    store = make_storage()
    await store.open()
    try:
        assert await store.counts() == FrontierCounts(pending=4 - 2, leased=0, done=2, dead=0)
        assert await store.out_offset("/out.jsonl") == 10
    finally:
        await store.close()


async def test_leased_urls_are_pending_after_reopen(make_storage: MakeStorage) -> None:
    store = make_storage()
    await store.open()
    await store.add((url(n), 0) for n in range(3))
    leases = await store.lease(2, 0.0)
    await store.commit()
    assert len(leases) == 2
    await _abandon(store)  # the process dies holding its leases

    store = make_storage()
    await store.open()
    try:
        assert await store.counts() == FrontierCounts(pending=3, leased=0, done=0, dead=0)
        assert [le.url for le in await store.lease(10, 0.0)] == [url(0), url(1), url(2)]
    finally:
        await store.close()


async def test_uncommitted_writes_are_lost_together(make_storage: MakeStorage) -> None:
    store = make_storage()
    await store.open()
    await store.add([(url(1), 0)])
    await store.commit("/out.jsonl", 10)
    (lease,) = await store.lease(1, 0.0)
    await store.ack(lease, 1)
    await store.add([(url(2), 1)])
    await store.set_meta("k", 1)
    await _abandon(store)  # killed before the batch committed

    store = make_storage()
    await store.open()
    try:
        assert not store.is_known(url(2))
        assert await store.get_meta("k") is None
        assert await store.out_offset("/out.jsonl") == 10
        assert await store.counts() == FrontierCounts(pending=1, leased=0, done=0, dead=0)
    finally:
        await store.close()


async def _abandon(store: Storage) -> None:
    """Drop a store the way a killed process does: no commit, no close-time commit. Afterwards
    its leases are free again (SQLite: at the next open; Redis: once they expire)."""
    if isinstance(store, SQLiteStorage):
        db = store._db
        assert db is not None
        db.rollback()
        await store.close()
    elif isinstance(store, RedisStorage):
        await store.abort()
        clock = store._clock  # the Backend's shared clock: time passes beyond the lease
        assert isinstance(clock, Clock)
        clock.now += store.lease_timeout_s + 1
    else:  # pragma: no cover - other backends define their own crash
        raise AssertionError(type(store))


# -- property: the store agrees with a model, and with itself after a reopen -----------------
_EXAMPLES = itertools.count()
OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "lease", "ack", "nack", "dead", "requeue"]), st.integers(0, 9)
    ),
    max_size=40,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
async def test_random_operations_match_a_model(
    backend: Backend, ops: list[tuple[str, int]]
) -> None:
    name = f"model-{next(_EXAMPLES)}"
    store = backend.make(name)
    await store.open()
    model: dict[str, str] = {}  # url -> state
    held: dict[str, Lease] = {}
    try:
        for op, n in ops:
            u = url(n)
            if op == "add":
                new = await store.add([(u, 0)])
                assert new == (0 if u in model else 1)
                model.setdefault(u, "pending")
            elif op == "lease":
                got = await store.lease(n, 0.0)
                ready = [k for k, v in model.items() if v == "pending"]
                assert [le.url for le in got] == ready[:n]
                for le in got:
                    model[le.url] = "leased"
                    held[le.url] = le
            elif held:
                le = held.pop(sorted(held)[n % len(held)])
                if op == "ack":
                    await store.ack(le, 1)
                    model[le.url] = "done"
                elif op == "nack":
                    await store.nack(le, 0.0, 1, 1)
                    model[le.url] = "pending"
                elif op == "dead":
                    await store.dead_letter(le, 1, entry_for(le))
                    model[le.url] = "dead"
                else:
                    held[le.url] = le
            if op == "requeue":
                await store.dlq_requeue(None)
                model.update({k: "pending" for k, v in model.items() if v == "dead"})
            counts = await store.counts()
            expected = {s: sum(1 for v in model.values() if v == s) for s in ("pending", "leased")}
            assert (counts.pending, counts.leased) == (expected["pending"], expected["leased"])
            assert counts.done == sum(1 for v in model.values() if v == "done")
            assert counts.dead == sum(1 for v in model.values() if v == "dead")
        await store.commit()
    finally:
        await store.close()
    reopened = backend.make(name)
    await reopened.open()
    try:
        counts = await reopened.counts()
        live = sum(1 for v in model.values() if v in ("pending", "leased"))
        assert counts.pending == live
        assert counts.leased == 0
        assert counts.done + counts.dead + live == len(model)
    finally:
        await reopened.close()


# -- SQLite specifics ---------------------------------------------------------------------
async def test_open_storage_factory(tmp_path: Path) -> None:
    store = open_storage("sqlite", tmp_path / "st")
    assert isinstance(store, SQLiteStorage)
    assert store.path == tmp_path / "st" / "state.sqlite3"
    await store.open()
    await store.close()
    assert store.path.exists()
    with pytest.raises(ConfigError, match=r"storage\.backend"):
        open_storage("mongo", tmp_path)


async def test_corrupt_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(StorageError, match=r"state\.sqlite3 is not a usable SQLite database"):
        await SQLiteStorage(path).open()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StorageError, match="schema version 99"):
        await SQLiteStorage(path).open()


async def test_use_when_closed_is_a_storage_error(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "state.sqlite3")
    with pytest.raises(StorageError, match="not open"):
        await store.add([(url(1), 0)])
    await store.open()
    await store.close()
    await store.close()  # twice is fine
    with pytest.raises(StorageError, match="not open"):
        await store.get_meta("seeds")


async def test_lease_queries_use_the_index(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "state.sqlite3")
    await store.open()
    try:
        db = store._db
        assert db is not None
        queries: list[tuple[str, tuple[Any, ...]]] = [
            (
                sqlite_schema.LEASE_FRESH_SQL.format(exclude=sqlite_backend._exclude(["h"])),
                ("h", 5),
            ),
            (sqlite_schema.LEASE_DUE_SQL.format(exclude=""), (1.0, 5)),
            (sqlite_schema.NEXT_READY_SQL.format(exclude=""), ()),
            (sqlite_schema.HOST_FRESH_SQL, ("h", 5)),
            (sqlite_schema.HOST_DUE_SQL, ("h", 1.0, 5)),
            (sqlite_schema.HOST_NEXT_READY_SQL, ("h",)),
        ]
        for sql, params in queries:
            plan = " | ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "INDEX urls_" in plan, plan
            assert "SCAN urls" not in plan, plan
        fresh_plan = str(
            db.execute("EXPLAIN QUERY PLAN " + queries[0][0], queries[0][1]).fetchall()
        )
        assert "TEMP B-TREE" not in fresh_plan  # fresh URLs come in id order, no sort
    finally:
        await store.close()


async def test_writes_are_one_transaction_until_commit(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SQLiteStorage(path)
    await store.open()
    try:
        await store.add([(url(1), 0)])
        await store.lease(1, 0.0)
        # Another connection (another process) sees nothing until the commit.
        other = sqlite3.connect(path)
        try:
            assert other.execute("SELECT count(*) FROM urls").fetchone() == (0,)
            await store.commit()
            assert other.execute("SELECT status FROM urls").fetchall() == [(sqlite_schema.LEASED,)]
        finally:
            other.close()
    finally:
        await store.close()


async def test_a_hash_collision_does_not_drop_a_new_url(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "state.sqlite3")
    await store.open()
    try:
        store._known.add(hash(url(5)))  # as if another URL had the same 64-bit hash
        assert store.is_known(url(5))  # the price of a hash set: a false "known" on a collision
        assert await store.add([(url(5), 0), (url(5), 0)]) == 1  # but the UNIQUE index decides
        assert [le.url for le in await store.lease(5, 0.0)] == [url(5)]
    finally:
        await store.close()


async def test_a_version_2_state_gets_page_states(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SQLiteStorage(path)
    await store.open()
    await store.add([(url(1), 0), (url(2), 0)])
    (lease, _) = await store.lease(2, 0.0)
    await store.ack(lease, 1)
    await store.close()
    with sqlite3.connect(path) as db:  # as a version 2 crawler left it
        db.execute("DROP TABLE pages")
        db.execute("PRAGMA user_version = 2")
    db.close()
    store = SQLiteStorage(path)
    await store.open()
    try:
        assert await store.page_count() == 1
        (state,) = (await store.get_pages([url(1), url(2)])).values()
        assert (state.url, state.digest, state.etag, state.due_at) == (url(1), "", "", 0.0)
        assert await store.requeue_due(0.0) == 1
    finally:
        await store.close()


# -- Redis specifics ------------------------------------------------------------------------------
@pytest.fixture
async def two_workers(
    any_redis_url: str,
    tmp_path: Path,
) -> AsyncIterator[tuple[RedisStorage, RedisStorage, Clock]]:
    """Two workers' stores on one namespace and one clock (on one server, then a cluster)."""
    clock = Clock()
    pair = open_pair(any_redis_url, namespace_for(tmp_path), clock, LEASE_TIMEOUT_S)
    async with pair as (a, b):
        yield a, b, clock


@pytest.mark.redis
async def test_a_dead_workers_leases_go_to_another_worker(
    two_workers: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, clock = two_workers
    await a.add((url(n), 0) for n in range(3))
    held = await a.lease(2, 0.0)
    assert [le.url for le in held] == [url(0), url(1)]
    (theirs,) = await b.lease(10, 0.0)  # the frontier is shared
    assert theirs.url == url(2)
    await b.ack(theirs, 1)
    await b.commit()
    # Nothing pending, but a's leases may come back: b is not finished before they expire.
    assert await b.next_ready_at() == clock.now + LEASE_TIMEOUT_S
    clock.now += LEASE_TIMEOUT_S / 2
    assert await b.lease(10, 0.0) == []
    clock.now += LEASE_TIMEOUT_S / 2  # a stopped answering: its leases expire
    again = await b.lease(10, 0.0)
    assert [(le.url, le.attempts) for le in again] == [(url(0), 0), (url(1), 0)]
    # a comes back late: its nack is ignored and its ack dropped before its line is written
    # (fenced: b holds both URLs now, docs/workers.md).
    await a.nack(held[0], 0.0, 1, 1)
    await a.ack(held[1], 1)
    assert await a.fence_acks() == {url(1)}
    await a.commit()
    assert await b.counts() == FrontierCounts(pending=0, leased=2, done=1, dead=0)
    await b.ack(again[0], 1)
    await b.ack(again[1], 1)
    assert await b.fence_acks() == set()
    await b.commit()
    assert await a.counts() == FrontierCounts(pending=0, leased=0, done=3, dead=0)
    assert await a.next_ready_at() is None


@pytest.mark.redis
async def test_a_live_worker_renews_its_leases(
    two_workers: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, clock = two_workers
    await a.add([(url(1), 0)])
    (lease,) = await a.lease(1, 0.0)
    clock.now += LEASE_TIMEOUT_S * 0.6
    assert await a.renew_leases() == set()  # more than half the lease used: renewed
    clock.now += LEASE_TIMEOUT_S * 0.6
    assert await b.lease(1, 0.0) == []
    clock.now += LEASE_TIMEOUT_S * 0.5
    assert [le.url for le in await b.lease(1, 0.0)] == [lease.url]


@pytest.mark.redis
async def test_staged_writes_reach_other_workers_at_commit(
    two_workers: tuple[RedisStorage, RedisStorage, Clock],
) -> None:
    a, b, _ = two_workers
    await a.add([(url(1), 0), (url(2), 0)])
    await a.set_meta("seeds", [url(1)])
    assert await b.counts() == FrontierCounts(pending=0, leased=0, done=0, dead=0)
    assert await b.get_meta("seeds") is None
    first, second = await a.lease(2, 0.0)  # leasing sends the new URLs first
    await a.ack(first, 1)
    await a.dead_letter(second, 1, entry_for(second))  # written through
    assert await b.counts() == FrontierCounts(pending=0, leased=1, done=0, dead=1)
    assert await a.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=1)
    await a.commit("/out.jsonl", 99)
    assert await b.counts() == FrontierCounts(pending=0, leased=0, done=1, dead=1)
    assert await b.get_meta("seeds") == [url(1)]
    assert await b.out_offset("/out.jsonl") == 99
    # A URL b has not seen reads as unknown to b; adding it again keeps one copy.
    assert not b.is_known(url(1))
    await b.add([(url(1), 0), (url(3), 0)])
    await b.commit()
    assert await b.counts() == FrontierCounts(pending=1, leased=0, done=1, dead=1)


@pytest.mark.redis
async def test_namespaces_keep_crawls_apart(any_redis_url: str, tmp_path: Path) -> None:
    redis_url = any_redis_url
    one = open_storage("redis", tmp_path / "one", redis_url)
    two = open_storage("redis", tmp_path / "two", redis_url)
    named = open_storage("redis", tmp_path / "three", redis_url + "?namespace=shop")
    assert isinstance(one, RedisStorage)
    assert isinstance(named, RedisStorage)
    assert one.namespace == namespace_for(tmp_path / "one")
    assert (named.namespace, named.url) == ("shop", redis_url)
    for store in (one, two, named):
        await store.open()
    try:
        await one.add([(url(1), 0)])
        await one.commit()
        assert await two.counts() == FrontierCounts(pending=0, leased=0, done=0, dead=0)
        assert await two.lease(5, 0.0) == []
        assert [le.url for le in await one.lease(5, 0.0)] == [url(1)]
    finally:
        for store in (one, two, named):
            await store.close()


def test_redis_target_reads_the_namespace_parameter(tmp_path: Path) -> None:
    plain = "redis://h:6379/2"
    assert redis_target(plain, tmp_path) == (plain, namespace_for(tmp_path))
    assert redis_target("redis://h:6379/2?namespace=shop&socket_timeout=5", tmp_path) == (
        "redis://h:6379/2?socket_timeout=5",
        "shop",
    )
    assert namespace_for(tmp_path / "x" / "..") == namespace_for(tmp_path)
    for bad in ("redis://h/0?namespace=", "redis://h/0?namespace=a{b}"):
        with pytest.raises(ConfigError, match=r"storage\.redis_url"):
            redis_target(bad, tmp_path)


async def test_unreachable_redis_is_a_storage_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # unreachable_s=0: no wait for a server that may be restarting (test_redis_outage.py waits).
    store = RedisStorage(f"redis://127.0.0.1:{port}/0", namespace="x", unreachable_s=0)
    with pytest.raises(StorageError, match=rf"127\.0\.0\.1:{port}/0: unreachable for 0 s \(open"):
        await store.open()
    with pytest.raises(StorageError, match="not open"):
        await store.add([(url(1), 0)])
    with pytest.raises(ConfigError, match=r"storage\.redis_url"):
        await RedisStorage("http://nope/", namespace="x").open()


@pytest.mark.redis
async def test_redis_state_of_an_older_version_gets_page_states(
    any_redis_url: str, tmp_path: Path
) -> None:
    backend = Backend("redis", tmp_path, any_redis_url)
    store = backend.make()
    assert isinstance(store, RedisStorage)
    await store.open()
    await store.add([(url(1), 0), (url(2), 0)])
    (lease, _) = await store.lease(2, 0.0)
    await store.ack(lease, 1)
    await store.commit()
    client = store._conn()
    await client.delete(store._key("pages:v"), store._key("pages"), store._key("due"))
    await store.close()
    for _ in range(2):  # idempotent: a second worker opening does no harm
        store = backend.make()
        await store.open()
        try:
            assert await store.page_count() == 1
            (state,) = (await store.get_pages([url(1), url(2)])).values()
            assert (state.url, state.digest, state.due_at) == (url(1), "", 0.0)
        finally:
            await store.close()
    store = backend.make()
    await store.open()
    try:
        assert await store.requeue_due(0.0) == 1
    finally:
        await store.close()

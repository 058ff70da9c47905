"""The host ledger contract (crawler/storage/hostledger.py), run against both implementations:
this process's memory and a real ``redis-server`` (tests/redis_server.py), one namespace per
test. Time: the memory ledger runs on a fake clock; the Redis one on the server's ``TIME``, so
``advance`` really waits there — only ever past a bound, never to measure one."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from crawler.storage.hostledger import Ask, HostLedger, MemoryHostLedger, Note
from crawler.storage.redis import RedisStorage
from tests.redis_server import redis_url_fixture  # noqa: F401 - the redis_url fixture

KINDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]
TTL_S = 0.3
HOST = "a.test:80"


@dataclass
class Harness:
    kind: str
    ledgers: list[HostLedger]
    now: list[float]
    written: list[tuple[str, int, str | None, int]] = field(default_factory=list)

    @property
    def ledger(self) -> HostLedger:
        return self.ledgers[0]

    async def ask(self, i: int = 0, **kw: Any) -> Any:
        kw.setdefault("limit", 2)
        kw.setdefault("spacing_s", 0.0)
        return await self.ledgers[i].acquire(Ask(HOST, **kw), self.now[0])

    async def tell(self, note: Note, i: int = 0) -> None:
        self.ledgers[i].release(note)
        await self.ledgers[i].flush()

    async def kill(self, i: int) -> None:
        """Worker ``i`` dies: it sends and renews nothing more."""
        if self.kind == "redis":
            await self.ledgers[i].abandon()  # type: ignore[attr-defined]

    async def advance(self, seconds: float) -> None:
        if self.kind == "memory":
            self.now[0] += seconds
        else:
            await asyncio.sleep(seconds)


@pytest.fixture(params=KINDS)
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    now = [1_700_000_000.0]
    if request.param == "memory":
        # Two "workers" of one process share one memory ledger.
        mem = MemoryHostLedger(lambda: now[0], slot_ttl_s=TTL_S)
        harness = Harness("memory", [mem, mem], now)
        mem.listener = lambda *a: harness.written.append(a)
        yield harness
        return
    url = request.getfixturevalue("redis_url")
    ns = f"ledger-{uuid.uuid4().hex}"
    stores = [RedisStorage(url, namespace=ns) for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        ledgers = [store.host_ledger() for store in stores]
        for ledger in ledgers:
            ledger.slot_ttl_s = TTL_S
            await ledger.__aenter__()
        harness = Harness("redis", list(ledgers), now)
        for ledger in ledgers:
            ledger.listener = lambda *a: harness.written.append(a)
        yield harness
        for ledger in ledgers:
            await ledger.__aexit__(None, None, None)  # after kill(): nothing to do
    finally:
        for store in stores:
            await store.close()


async def test_slots_are_a_limit_for_the_whole_crawl(h: Harness) -> None:
    one = await h.ask(0)
    two = await h.ask(1)
    assert one.token
    assert two.token
    assert one.token != two.token
    full = await h.ask(0)
    assert full.token is None
    assert full.reason == "throttle"
    assert full.wait_s > 0
    await h.tell(Note(HOST, token=one.token))
    again = await h.ask(1)
    assert again.token is not None


async def test_a_slot_nobody_renews_expires(h: Harness) -> None:
    held = await h.ask(0, limit=1)
    assert held.token is not None
    assert (await h.ask(1, limit=1)).token is None
    await h.kill(0)
    await h.advance(TTL_S * 1.5)
    assert (await h.ask(1, limit=1)).token is not None


async def test_spacing_holds_between_workers_and_force_skips_it(h: Harness) -> None:
    first = await h.ask(0, spacing_s=100.0)
    assert first.token is not None
    await h.tell(Note(HOST, token=first.token))
    spaced = await h.ask(1, spacing_s=100.0)
    assert spaced.token is None
    assert spaced.reason == "throttle"
    assert 90.0 < spaced.wait_s <= 100.0
    assert (await h.ask(1, spacing_s=0.0)).token is not None  # the asker's spacing counts
    assert (await h.ask(1, spacing_s=100.0, force=True)).token is not None


async def test_a_retry_after_pause_stops_every_worker(h: Harness) -> None:
    slot = await h.ask(0)
    await h.tell(Note(HOST, token=slot.token, pause_s=100.0))
    paused = await h.ask(1)
    assert paused.token is None
    assert paused.reason == "paused by Retry-After"
    assert 90.0 < paused.wait_s <= 100.0
    assert 90.0 < paused.pause_s <= 100.0
    await h.tell(Note(HOST, pause_s=1.0))  # a shorter pause never shortens it
    assert (await h.ask(0)).pause_s > 90.0


async def test_one_probe_for_the_whole_crawl(h: Harness) -> None:
    probe = await h.ask(0, probe_limit=1)
    assert probe.token is not None
    assert probe.probe
    other = await h.ask(1, probe_limit=1)
    assert other.token is None
    assert other.reason == "circuit breaker probe taken"
    assert (await h.ask(1)).token is not None  # a closed breaker's request is no probe
    await h.tell(Note(HOST, token=probe.token))
    assert (await h.ask(1, probe_limit=1)).probe


async def test_robots_txt_is_fetched_once_and_read_by_the_others(h: Harness) -> None:
    fetch = await h.ask(0, robots=True)
    assert fetch.token is not None
    assert fetch.robots_text is None
    waiting = await h.ask(1, robots=True)
    assert waiting.token is None
    assert waiting.reason == "robots.txt is being fetched"
    await h.tell(Note(HOST, token=fetch.token))
    await h.tell(Note(HOST, robots_text="User-agent: *\nDisallow: /x\n"))
    known = await h.ask(1, robots=True)
    assert known.token is None
    assert known.reason == "robots.txt known"
    assert known.robots_text == "User-agent: *\nDisallow: /x\n"
    assert (await h.ask(1)).robots_text is None  # only an asker that wants them gets them


async def test_a_robots_fetch_given_back_or_dead_frees_it(h: Harness) -> None:
    fetch = await h.ask(0, robots=True)
    await h.tell(Note(HOST, token=fetch.token))  # cancelled: nothing learnt
    again = await h.ask(1, robots=True)
    assert again.token is not None
    await h.kill(1)  # that worker dies mid-fetch
    await h.advance(TTL_S * 1.5)
    assert (await h.ask(0, robots=True)).token is not None


async def test_robots_failures_are_counted_for_the_crawl(h: Harness) -> None:
    fetch = await h.ask(0, robots=True)
    await h.tell(Note(HOST, token=fetch.token, robots_failures=1, robots_wait_s=100.0))
    wait = await h.ask(1, robots=True)
    assert wait.token is None
    assert wait.robots_failures == 1
    assert wait.reason == "robots.txt failed; waiting to try again"
    assert 90.0 < wait.wait_s <= 100.0
    await h.tell(Note(HOST, robots_failures=2, robots_wait_s=0.0))
    retry = await h.ask(1, robots=True)
    assert retry.token is not None
    assert retry.robots_failures == 2


async def test_a_parked_host_is_parked_for_everyone(h: Harness) -> None:
    await h.tell(Note(HOST, park='{"why": "first"}'))
    await h.tell(Note(HOST, park='{"why": "second"}'), 1)
    parked = await h.ask(1)
    assert parked.token is None
    assert math.isinf(parked.wait_s)
    assert parked.parked == '{"why": "first"}'


async def test_the_breaker_is_written_compare_and_set(h: Harness) -> None:
    await h.tell(Note(HOST, breaker=lambda: (0, "blob-a", 2)))
    assert h.written == [(HOST, 1, None, 2)]
    await h.tell(Note(HOST, breaker=lambda: (0, "blob-b", 1)), 1)  # lost the race
    assert h.written[1] == (HOST, 1, "blob-a", 0)
    seen = await h.ask(1, known_version=0)
    assert seen.breaker == (1, "blob-a")
    assert (await h.ask(1, known_version=1)).breaker is None


async def test_a_note_for_a_host_never_seen_is_applied(h: Harness) -> None:
    await h.tell(Note("b.test:80", pause_s=100.0))
    paused = await h.ledger.acquire(Ask("b.test:80", limit=1, spacing_s=0.0), h.now[0])
    assert paused.reason == "paused by Retry-After"

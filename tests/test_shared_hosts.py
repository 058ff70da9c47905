"""Two host registries (two workers) on one Redis host ledger: the breaker, its one probe and a
given-up host are the crawl's, not each worker's (docs/shared-politeness.md)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from crawler.config import Config
from crawler.engine.hosts import Admission, Deferral, HostRegistry, HostState
from crawler.observe.events import CrawlEvents
from crawler.records import Category, FailureRecord, Severity
from crawler.storage.redis import RedisStorage
from crawler.web.robots import RobotsRules
from tests.redis_server import redis_url_fixture  # noqa: F401 - the redis_url fixture

pytestmark = pytest.mark.redis

HOST = "dead.test:80"


def refused(attempt: int) -> FailureRecord:
    return FailureRecord(
        Category.NETWORK,
        Severity.MEDIUM,
        "connection refused",
        f"http://{HOST}/",
        HOST,
        attempt=attempt,
        counts_for_breaker=True,
        retryable=True,
    )


@pytest.fixture
async def workers(
    redis_url: str, make_config: Callable[..., Config]
) -> AsyncIterator[list[tuple[HostRegistry, HostState]]]:
    cfg = make_config()
    ns = f"hosts-{uuid.uuid4().hex}"
    stores = [RedisStorage(redis_url, namespace=ns) for _ in range(2)]
    out = []
    for store in stores:
        await store.open()
    try:
        ledgers = [store.host_ledger() for store in stores]
        for ledger in ledgers:
            await ledger.__aenter__()
        for ledger in ledgers:
            events = CrawlEvents(cfg, clock=time.time)
            registry = HostRegistry(cfg, rng=random.Random(0), events=events, ledger=ledger)
            state = registry.get(HOST)
            registry.set_robots(state, RobotsRules(None, "adaptive-crawler"))
            out.append((registry, state))
        yield out
        for ledger in ledgers:
            await ledger.__aexit__(None, None, None)
    finally:
        for store in stores:
            await store.close()


async def fail_once(registry: HostRegistry, state: HostState, attempt: int) -> None:
    admitted = await registry.admit(state, time.time(), retry=False)
    assert isinstance(admitted, Admission), admitted
    admitted.failure(time.time(), refused(attempt), 0.01)
    await registry.sync.ledger.flush()


async def test_failures_of_both_workers_open_one_breaker_with_one_probe(
    workers: list[tuple[HostRegistry, HostState]], make_config: Callable[..., Config]
) -> None:
    threshold = make_config().circuit_breaker.failure_threshold
    for n in range(threshold):  # the workers take turns: neither sees a full run of its own
        await fail_once(*workers[n % 2], n + 1)
    for registry, state in workers:
        deferral = await registry.admit(state, time.time(), retry=False)
        assert isinstance(deferral, Deferral)
        assert deferral.reason == "circuit breaker open"
    await asyncio.sleep(make_config().circuit_breaker.max_reset_timeout_s * 1.2)
    (r0, s0), (r1, s1) = workers
    probe = await r0.admit(s0, time.time(), retry=False)
    assert isinstance(probe, Admission)
    assert probe.probe
    other = await r1.admit(s1, time.time(), retry=False)
    assert isinstance(other, Deferral)
    assert other.reason in {"circuit breaker probe taken", "circuit breaker half_open"}
    probe.cancel()


async def test_a_host_one_worker_gave_up_is_given_up_for_both(
    workers: list[tuple[HostRegistry, HostState]], make_config: Callable[..., Config]
) -> None:
    cfg = make_config().circuit_breaker
    (r0, s0), (r1, s1) = workers
    attempts = 0
    while not s0.given_up:  # one worker probes the dead host until its breaker gives it up
        admitted = await r0.admit(s0, time.time(), retry=False)
        if isinstance(admitted, Admission):
            attempts += 1
            admitted.failure(time.time(), refused(attempts), 0.01)
            await r0.sync.ledger.flush()
        else:
            await asyncio.sleep(max(0.0, min(admitted.until - time.time(), 0.5)))
    assert attempts == cfg.failure_threshold + cfg.max_open_cycles
    deferral = await r1.admit(s1, time.time(), retry=False)
    assert isinstance(deferral, Deferral)
    assert s1.given_up
    assert s1.given_up_record is not None
    assert s1.given_up_record.category is Category.NETWORK

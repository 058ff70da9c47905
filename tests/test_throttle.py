"""Adaptive per-host throttling: AIMD on concurrency and delay, pauses, crawl delay."""

from __future__ import annotations

from typing import Any

from crawler.config import ThrottleConfig
from crawler.decide.throttle import Throttle
from crawler.records import Category


def throttle(max_concurrency: int = 4, crawl_delay_s: float = 0.0, **kw: Any) -> Throttle:
    return Throttle(
        ThrottleConfig(**kw), max_concurrency=max_concurrency, crawl_delay_s=crawl_delay_s
    )


def ok(t: Throttle, now: float, latency: float = 0.1) -> None:
    t.on_start(now)
    t.on_done(now + latency, latency_s=latency, ok=True)


def fail(t: Throttle, now: float, category: Category | None, status: int | None = None) -> None:
    t.on_start(now)
    t.on_done(now, latency_s=0.1, ok=False, category=category, status=status)


def test_starts_at_initial_and_limits_in_flight() -> None:
    t = throttle(max_concurrency=4, initial_concurrency=2)
    assert t.concurrency == 2
    assert t.ready_at(0.0) is None
    t.on_start(0.0)
    assert t.ready_at(0.0) is None
    t.on_start(0.0)
    back = t.ready_at(0.0)
    assert back is not None
    assert back > 0.0
    t.on_done(0.5, latency_s=0.5, ok=True)
    assert t.ready_at(0.5) is None


def test_cancel_frees_the_slot_without_adapting() -> None:
    t = throttle(max_concurrency=4, initial_concurrency=1, calm_interval_s=1.0)
    t.on_start(0.0)
    assert t.ready_at(0.0) is not None
    t.on_cancel()
    assert t.in_flight == 0
    assert t.ready_at(10.0) is None
    assert t.concurrency == 1  # a cancelled request is no calm success


def test_initial_never_above_max() -> None:
    assert throttle(max_concurrency=2, initial_concurrency=8).concurrency == 2


def test_additive_increase_per_calm_interval_up_to_max() -> None:
    t = throttle(max_concurrency=4, initial_concurrency=1, calm_interval_s=5.0)
    now = 0.0
    while now < 4.9:
        ok(t, now)
        now += 0.5
    assert t.concurrency == 1  # less than one calm interval
    levels = []
    for _ in range(40):
        ok(t, now)
        now += 0.5
        levels.append(t.concurrency)
    assert levels[0] == 2
    assert max(levels) == 4
    assert levels == sorted(levels)  # one step at a time, never a jump down


def test_multiplicative_decrease_on_rate_limits_only() -> None:
    t = throttle(max_concurrency=16, initial_concurrency=16, decrease_factor=0.5)
    fail(t, 0.0, Category.RATE_LIMIT, 429)
    assert t.concurrency == 8
    fail(t, 0.05, Category.RATE_LIMIT, 503)  # a 503 with Retry-After is classified RATE_LIMIT
    assert t.concurrency == 4
    fail(t, 0.1, Category.SERVER, 503)  # a bare 503 is counted, not cut on (see on_done)
    assert t.concurrency == 4
    fail(t, 0.2, Category.SERVER, 500)  # a plain 5xx is the breaker's business
    assert t.concurrency == 4
    for i in range(10):
        fail(t, 1.0 + i, Category.RATE_LIMIT)
    assert t.concurrency == 1  # floor
    assert t.rate_limited == 13


def test_rate_limit_raises_the_delay_fast() -> None:
    t = throttle(max_delay_s=8.0, decrease_factor=0.5)
    assert t.delay_s == 0.0
    fail(t, 0.0, Category.RATE_LIMIT)
    assert t.delay_s == 0.5
    fail(t, 0.1, Category.RATE_LIMIT)
    assert t.delay_s == 1.0
    for i in range(10):
        fail(t, 1.0 + i, Category.RATE_LIMIT)
    assert t.delay_s == 8.0  # capped


def test_timeout_shrinks_concurrency_gently() -> None:
    t = throttle(max_concurrency=10, initial_concurrency=10, timeout_factor=0.9)
    fail(t, 0.0, Category.TIMEOUT)
    assert t.concurrency == 9
    for i in range(20):
        fail(t, float(i), Category.TIMEOUT)
    assert t.concurrency == 1


def test_breaker_open_halves_concurrency() -> None:
    t = throttle(max_concurrency=8, initial_concurrency=8)
    t.on_breaker_open()
    assert t.concurrency == 4
    t.on_breaker_open(1.0)
    assert t.concurrency == 2


def test_delay_spaces_request_starts() -> None:
    t = throttle(max_concurrency=4, initial_concurrency=4, min_delay_s=1.0)
    t.on_start(10.0)
    assert t.ready_at(10.2) == 11.0
    assert t.ready_at(11.0) is None


def test_slow_answers_raise_the_delay_and_failures_never_lower_it() -> None:
    t = throttle(target_latency_s=1.0, max_delay_s=30.0, calm_interval_s=1.0)
    ok(t, 0.0, latency=5.0)
    assert t.delay_s == 2.5
    ok(t, 10.0, latency=5.0)
    assert t.delay_s == 3.75
    before = t.delay_s
    for i in range(10):
        fail(t, 20.0 + i * 5, Category.NOT_FOUND, 404)
        fail(t, 20.0 + i * 5, Category.SERVER, 500)
    assert t.delay_s == before


def test_fast_calm_answers_lower_the_delay_slowly_to_the_floor() -> None:
    t = throttle(min_delay_s=0.5, calm_interval_s=5.0, decrease_factor=0.5)
    fail(t, 0.0, Category.RATE_LIMIT)
    assert t.delay_s == 1.0  # doubled from the floor
    ok(t, 1.0)
    assert t.delay_s == 1.0  # not calm long enough
    ok(t, 6.0)
    assert t.delay_s == 0.5
    for i in range(10):
        ok(t, 11.0 + 5 * i)
    assert t.delay_s == 0.5  # never below min_delay_s


def test_crawl_delay_is_a_floor() -> None:
    t = throttle(max_delay_s=30.0, calm_interval_s=1.0)
    t.set_crawl_delay(3.0)
    assert t.delay_s == 3.0
    for i in range(20):
        ok(t, 10.0 * i)
    assert t.delay_s == 3.0
    t.on_start(100.0)
    assert t.ready_at(101.0) == 103.0


def test_crawl_delay_beats_max_delay() -> None:
    t = throttle(max_delay_s=2.0)
    t.set_crawl_delay(5.0)
    assert t.delay_s == 5.0


def test_pause_until_stops_the_host() -> None:
    t = throttle()
    t.pause_until(50.0)
    t.pause_until(40.0)  # a shorter pause does not shorten it
    assert t.ready_at(10.0) == 50.0
    assert t.ready_at(50.0) is None
    assert t.snapshot(45.0)["paused_for_s"] == 5.0


def test_disabled_uses_max_concurrency_and_crawl_delay_only() -> None:
    t = throttle(max_concurrency=3, initial_concurrency=1, min_delay_s=2.0, enabled=False)
    assert t.concurrency == 3
    assert t.delay_s == 0.0
    for i in range(5):
        fail(t, float(i), Category.RATE_LIMIT, 429)
        ok(t, float(i), latency=50.0)
    t.on_breaker_open()
    assert (t.concurrency, t.delay_s) == (3, 0.0)
    t.set_crawl_delay(1.5)
    assert t.delay_s == 1.5
    assert t.rate_limited == 5  # the detector still counts


def test_takes_its_config_section() -> None:
    cfg = ThrottleConfig(initial_concurrency=3, min_delay_s=0.25, calm_interval_s=2.0)
    t = Throttle(cfg, max_concurrency=6, crawl_delay_s=0.5)
    assert (t.max_concurrency, t.concurrency, t.delay_s, t.calm_interval_s) == (6, 3, 0.5, 2.0)

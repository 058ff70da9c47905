"""The per-host circuit breaker state machine, driven by an explicit clock."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from crawler.config import BreakerConfig
from crawler.decide.breaker import BreakerState, CircuitBreaker

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def breaker(**kw: Any) -> tuple[CircuitBreaker, list[tuple[BreakerState, BreakerState]]]:
    seen: list[tuple[BreakerState, BreakerState]] = []
    cfg = BreakerConfig(**{"jitter_ratio": 0.0, **kw})
    b = CircuitBreaker(
        cfg, rng=random.Random(0), on_transition=lambda old, new: seen.append((old, new))
    )
    return b, seen


def trip(b: CircuitBreaker, now: float, n: int) -> None:
    for _ in range(n):
        assert b.allow(now) is None
        b.on_failure(now)


def test_opens_after_consecutive_failures() -> None:
    b, seen = breaker(failure_threshold=3, reset_timeout_s=30.0)
    trip(b, 0.0, 2)
    assert b.state is CLOSED
    b.on_failure(1.0)
    assert b.state is OPEN
    assert b.open_until == 31.0
    assert b.allow(10.0) == 31.0
    assert seen == [(CLOSED, OPEN)]
    assert b.transitions == 1


def test_a_success_resets_the_consecutive_count() -> None:
    b, _ = breaker(failure_threshold=3, min_calls=1000)
    for _ in range(10):
        b.on_failure(0.0)
        b.on_failure(0.0)
        b.on_success(0.0)
    assert b.state is CLOSED


def test_opens_on_failure_rate_over_min_calls() -> None:
    b, _ = breaker(failure_threshold=100, failure_rate_threshold=0.5, min_calls=10, window_s=60)
    for i in range(9):  # alternate: 50% failures but fewer than min_calls calls
        (b.on_failure if i % 2 else b.on_success)(float(i))
    assert b.state is CLOSED
    b.on_failure(9.0)  # 10 calls, 5 failures: rate 0.5
    assert b.state is OPEN


def test_rate_window_forgets_old_calls() -> None:
    b, _ = breaker(failure_threshold=100, failure_rate_threshold=0.5, min_calls=4, window_s=10)
    b.on_failure(0.0)
    b.on_failure(0.0)
    b.on_success(0.0)
    # at t=20 the three old calls have left the window: 1 failure + 2 successes is 1/3
    b.on_success(20.0)
    b.on_success(20.0)
    b.on_failure(20.0)
    assert b.failure_rate(20.0) == pytest.approx(1 / 3)
    assert b.state is CLOSED


def test_non_counted_failures_do_not_move_it() -> None:
    b, _ = breaker(failure_threshold=2)
    for _ in range(10):
        b.on_failure(0.0, counts=False)
    assert b.state is CLOSED
    assert b.consecutive_failures == 0


def test_half_open_allows_one_probe_and_closes_after_successes() -> None:
    b, seen = breaker(failure_threshold=1, reset_timeout_s=10.0, success_threshold=2)
    trip(b, 0.0, 1)
    assert b.allow(9.9) == 10.0
    assert b.allow(10.0) is None  # the probe
    assert b.state is HALF
    back = b.allow(10.0)
    assert back is not None
    assert back > 10.0  # second caller waits while the probe is out
    b.on_success(10.5)
    assert b.state is HALF  # one success of two
    assert b.allow(10.6) is None
    b.on_success(10.7)
    assert b.state is CLOSED
    assert b.open_cycles == 0
    assert seen == [(CLOSED, OPEN), (OPEN, HALF), (HALF, CLOSED)]
    assert b.allow(11.0) is None


def test_half_open_max_calls() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, half_open_max_calls=3)
    trip(b, 0.0, 1)
    assert [b.allow(1.0) for _ in range(3)] == [None, None, None]
    assert b.allow(1.0) is not None


def test_failed_probe_reopens_with_exponential_timeout() -> None:
    b, _ = breaker(
        failure_threshold=1, reset_timeout_s=10.0, max_reset_timeout_s=25.0, max_open_cycles=10
    )
    trip(b, 0.0, 1)
    assert b.open_until == 10.0
    now = 10.0
    expected = [20.0, 25.0, 25.0]  # 10·2, 10·4 capped at 25, still capped
    for timeout in expected:
        assert b.allow(now) is None
        b.on_failure(now)
        assert b.state is OPEN
        assert b.open_until == now + timeout
        now = b.open_until
    assert b.opened == 4


def test_jitter_only_lengthens_the_open_time() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=10.0, jitter_ratio=0.1)
    trip(b, 0.0, 1)
    assert 10.0 <= b.open_until <= 11.0


def test_gives_up_after_max_open_cycles_failed_probes() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, max_open_cycles=3)
    trip(b, 0.0, 1)
    for probe in range(3):
        assert not b.given_up
        now = b.open_until
        assert b.allow(now) is None, probe
        b.on_failure(now)
    assert b.given_up
    assert b.state is OPEN
    assert b.allow(1e9) == math.inf
    b.on_success(1e9)  # nothing brings it back
    assert b.state is OPEN


def test_a_successful_probe_resets_the_failed_probe_run() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, max_open_cycles=2, success_threshold=5)
    trip(b, 0.0, 1)
    for outcome in ["fail", "ok", "fail", "ok", "fail"]:
        now = b.open_until if b.state is OPEN else b.open_until + 0.1
        assert b.allow(now) is None
        if outcome == "ok":
            b.on_success(now)
        else:
            b.on_failure(now)
    assert not b.given_up


def test_client_error_in_half_open_frees_the_probe_slot() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0)
    trip(b, 0.0, 1)
    assert b.allow(1.0) is None
    assert b.allow(1.0) is not None
    b.on_failure(1.2, counts=False)
    assert b.state is HALF
    assert b.allow(1.3) is None


def test_cancelled_probe_frees_its_slot() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0)
    trip(b, 0.0, 1)
    assert b.allow(1.0) is None
    b.on_cancel()
    assert b.state is HALF
    assert b.allow(1.0) is None


def test_retry_after_keeps_it_open_longer() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=10.0, max_open_s=1000.0)
    assert b.allow(0.0) is None
    b.on_failure(0.0, reopen_until=100.0)
    assert b.open_until == 100.0
    b.on_failure(1.0, reopen_until=150.0)  # a late answer while open
    assert b.open_until == 150.0
    b.on_failure(2.0, reopen_until=50.0)
    assert b.open_until == 150.0


def test_outcome_after_open_until_counts_as_probe_without_allow() -> None:
    """A caller that only compares open_until (no allow) still moves the machine on."""
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, success_threshold=1)
    b.on_failure(0.0)
    b.on_success(5.0)
    assert b.state is CLOSED


def test_snapshot_is_plain_data() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=10.0)
    b.on_failure(0.0)
    snap = b.snapshot(4.0)
    assert snap["state"] == "open"
    assert snap["reopens_in_s"] == 6.0
    assert snap["given_up"] is False
    assert snap["opened"] == 1


def test_max_open_s_caps_every_open_period() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=10.0, max_open_s=15.0, max_open_cycles=9)
    b.on_failure(0.0, reopen_until=1000.0)  # a Retry-After far away: the pause is the host's
    assert b.open_until == 15.0
    now = 15.0
    for _ in range(4):  # 20, 40, 80, 160 s before the cap
        assert b.allow(now) is None
        b.on_failure(now)
        assert b.open_until - now == 15.0
        now = b.open_until


def test_a_host_that_answered_since_it_opened_is_never_given_up() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, max_open_cycles=2, success_threshold=9)
    trip(b, 0.0, 1)
    now = b.open_until
    assert b.allow(now) is None
    b.on_success(now)  # alive in this episode
    for _ in range(10):
        now = max(now, b.open_until) + 0.1
        assert b.allow(now) is None
        b.on_failure(now)
    assert not b.given_up
    assert b.state is OPEN
    assert b.open_until - now <= b.cfg.max_open_s


def test_a_late_success_while_open_keeps_the_host_alive() -> None:
    b, _ = breaker(failure_threshold=1, reset_timeout_s=1.0, max_open_cycles=1)
    trip(b, 0.0, 1)
    b.on_success(0.5)  # a request sent before it opened came back fine
    now = b.open_until
    assert b.allow(now) is None
    b.on_failure(now)
    assert not b.given_up


def test_a_dead_host_is_given_up_after_threshold_plus_cycles_requests() -> None:
    b, _ = breaker(failure_threshold=5, reset_timeout_s=1.0, max_open_cycles=3)
    requests, now = 0, 0.0
    while not b.given_up:
        wait = b.allow(now)
        if wait is not None:
            now = wait
            continue
        requests += 1
        b.on_failure(now, first_attempt=requests <= 5)
    assert requests == 5 + 3


def test_first_attempt_failures_on_a_live_host_are_weak_evidence() -> None:
    b, _ = breaker(failure_threshold=3, min_calls=2, failure_rate_threshold=0.5)
    b.on_success(0.0)
    for i in range(50):  # fresh URLs fail their first request; retries succeed
        b.on_failure(1.0 + i, first_attempt=True)
        b.on_success(1.5 + i)
    assert b.state is CLOSED
    for i in range(3):  # failed retries are strong evidence
        b.on_failure(60.0 + i)
    assert b.state is OPEN


def test_takes_its_config_section() -> None:
    cfg = BreakerConfig(failure_threshold=2, reset_timeout_s=7.0, jitter_ratio=0.1)
    b = CircuitBreaker(cfg, rng=random.Random(0))
    b.on_failure(0.0)
    b.on_failure(0.0)
    assert b.state is OPEN
    assert 7.0 <= b.open_until <= 7.7

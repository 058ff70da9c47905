"""Retry policy (decisions, backoff bounds, Retry-After, strategies) and the retry budget."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.config import RetryConfig, load_config
from crawler.decide.retry import RetryBudget, RetryPolicy
from crawler.errors import ConfigError
from crawler.records import Category, FailureRecord, Severity, Strategy


def rec(
    category: Category = Category.SERVER,
    *,
    retryable: bool = True,
    certain: bool = True,
    retry_after_s: float | None = None,
) -> FailureRecord:
    return FailureRecord(
        category=category,
        severity=Severity.MEDIUM,
        message="boom",
        url="http://a.test/",
        host="a.test:80",
        retryable=retryable,
        certain=certain,
        retry_after_s=retry_after_s,
    )


def retry_config(**kw: Any) -> RetryConfig:
    """A [retry] section through load_config, so bad values raise ConfigError as in real use."""
    return load_config(None, {f"retry.{k}": v for k, v in kw.items()}, env={}).retry


def policy(seed: int = 7, **kw: Any) -> RetryPolicy:
    return RetryPolicy(retry_config(**kw), rng=random.Random(seed))


def test_retries_until_max_retries_then_stops() -> None:
    p = policy(max_retries=3)
    decisions = [p.decide(rec(), tries) for tries in range(1, 6)]
    assert [d.retry for d in decisions] == [True, True, True, False, False]
    assert "retry limit" in decisions[3].reason
    assert decisions[3].delay_s == 0.0


def test_max_retries_zero_never_retries() -> None:
    assert not policy(max_retries=0).decide(rec(), 1).retry


def test_not_retryable_record_is_not_retried() -> None:
    d = policy().decide(rec(Category.NOT_FOUND, retryable=False), 1)
    assert not d.retry
    d = policy().decide(rec(Category.SERVER, retryable=False), 1)
    assert not d.retry
    assert "not retryable" in d.reason


def test_delay_is_full_jitter_under_exponential_cap() -> None:
    p = policy(base_delay_s=1.0, max_delay_s=20.0)
    for tries, cap in [(1, 1.0), (2, 2.0), (3, 4.0)]:
        delays = [p.decide(rec(), tries).delay_s for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # the draw spans the window, not a fixed point
        assert min(delays) < cap * 0.2


def test_delay_capped_by_max_delay() -> None:
    p = policy(max_retries=50, base_delay_s=1.0, max_delay_s=5.0)
    assert all(p.decide(rec(), 40).delay_s <= 5.0 for _ in range(100))


def test_network_failures_use_the_short_base() -> None:
    p = policy(base_delay_s=10.0, network_base_delay_s=0.1)
    for category in (Category.NETWORK, Category.TIMEOUT, Category.DNS):
        assert all(p.decide(rec(category), 1).delay_s <= 0.1 for _ in range(50))
    assert max(p.decide(rec(Category.SERVER), 1).delay_s for _ in range(50)) > 0.1


def test_same_seed_same_delays() -> None:
    a = policy(seed=1)
    b = policy(seed=1)
    assert [a.decide(rec(), 2).delay_s for _ in range(5)] == [
        b.decide(rec(), 2).delay_s for _ in range(5)
    ]


def test_retry_after_is_never_shortened() -> None:
    p = policy(max_delay_s=1.0, retry_after_jitter_s=0.25)
    d = p.decide(rec(Category.RATE_LIMIT, retry_after_s=30.0), 1)
    assert d.retry
    assert 30.0 <= d.delay_s <= 30.25
    assert "Retry-After" in d.reason


def test_retry_after_beyond_max_is_not_retried() -> None:
    d = policy(max_retry_after_s=120.0).decide(rec(Category.RATE_LIMIT, retry_after_s=600.0), 1)
    assert not d.retry
    assert d.reason == "Retry-After 600s exceeds max_retry_after_s (120s)"


def test_retry_after_ignored_when_not_respected() -> None:
    p = policy(respect_retry_after=False, max_delay_s=1.0, max_retry_after_s=10.0)
    d = p.decide(rec(Category.RATE_LIMIT, retry_after_s=600.0), 1)
    assert d.retry
    assert d.delay_s <= 1.0


def test_analysis_can_turn_retry_off_for_certain_records_only() -> None:
    p = policy()
    assert not p.decide(rec(), 1, should_retry=False).retry
    # certain and not retryable: the analysis cannot turn it on
    assert not p.decide(rec(retryable=False), 1, should_retry=True).retry
    # uncertain (AUTH, BLOCKED, UNKNOWN): the analysis decides...
    uncertain = rec(Category.AUTH, retryable=False, certain=False)
    assert p.decide(uncertain, 1, should_retry=True).retry
    assert not p.decide(uncertain, 1, should_retry=False).retry
    assert not p.decide(uncertain, 1).retry
    # ... but never beyond the limits
    assert not p.decide(uncertain, 4, should_retry=True).retry


@pytest.mark.parametrize(
    ("strategy", "retry"),
    [
        ("FAIL_FAST", False),
        ("SKIP", False),
        ("RETRY", True),
        ("EXPONENTIAL_BACKOFF", True),
        ("CIRCUIT_BREAKER", True),
    ],
)
def test_strategy_overrides(strategy: str, retry: bool) -> None:
    p = policy(strategies={"server": strategy.lower()})
    d = p.decide(rec(Category.SERVER), 1)
    assert d.retry is retry
    if not retry:
        assert strategy in d.reason


def test_retry_strategy_is_a_constant_delay() -> None:
    p = policy(strategies={"SERVER": "RETRY"}, base_delay_s=2.0, max_retries=5)
    assert {p.decide(rec(), tries).delay_s for tries in range(1, 5)} == {2.0}


def test_default_strategies_fail_fast_for_permanent_categories() -> None:
    p = policy()
    for category in (Category.CLIENT, Category.NOT_FOUND, Category.ROBOTS, Category.CONTENT):
        # even a (misconfigured) retryable record of these categories is failed fast
        assert not p.decide(rec(category), 1).retry


def test_strategies_accept_parsed_enums() -> None:
    p = policy(strategies={Category.SERVER: Strategy.FAIL_FAST})
    assert not p.decide(rec(), 1).retry


@pytest.mark.parametrize("bad", [{"NOPE": "RETRY"}, {"SERVER": "PRAY"}])
def test_bad_strategies_raise_config_error(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"retry\.strategies"):
        policy(strategies=bad)


def test_tls_handshake_retried_once() -> None:
    p = policy(max_retries=3)
    assert p.decide(rec(Category.TLS), 1).retry
    assert not p.decide(rec(Category.TLS), 2).retry


# -- properties -------------------------------------------------------------------------------

RETRYABLE_CATEGORIES = [Category.NETWORK, Category.TIMEOUT, Category.SERVER, Category.RATE_LIMIT]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    tries=st.integers(1, 60),
    max_retries=st.integers(0, 10),
    base=st.floats(0.0, 10.0),
    cap=st.floats(0.0, 100.0),
    category=st.sampled_from(RETRYABLE_CATEGORIES),
    retry_after=st.none() | st.floats(0.0, 300.0),
    jitter=st.floats(0.0, 2.0),
)
def test_backoff_bounds(
    seed: int,
    tries: int,
    max_retries: int,
    base: float,
    cap: float,
    category: Category,
    retry_after: float | None,
    jitter: float,
) -> None:
    p = policy(
        seed=seed,
        max_retries=max_retries,
        base_delay_s=base,
        network_base_delay_s=base,
        max_delay_s=cap,
        max_retry_after_s=120.0,
        retry_after_jitter_s=jitter,
    )
    d = p.decide(rec(category, retry_after_s=retry_after), tries)
    assert d.retry == (tries <= max_retries and (retry_after is None or retry_after <= 120.0))
    if not d.retry:
        assert d.delay_s == 0.0
        return
    assert d.delay_s >= 0.0
    assert d.delay_s <= min(cap, base * 2 ** (tries - 1)) or retry_after is not None
    if retry_after is not None:
        assert retry_after <= d.delay_s <= max(cap, retry_after + jitter)


@settings(max_examples=200, deadline=None)
@given(
    max_retries=st.integers(0, 8),
    retryable=st.booleans(),
    certain=st.booleans(),
    answers=st.lists(st.none() | st.booleans(), min_size=1, max_size=20),
)
def test_attempts_never_exceed_max_retries_plus_one(
    max_retries: int, retryable: bool, certain: bool, answers: list[bool | None]
) -> None:
    """Whatever the analysis answers, one URL gets at most max_retries + 1 attempts."""
    p = policy(seed=0, max_retries=max_retries)
    record = rec(Category.UNKNOWN if not certain else Category.SERVER)
    record = replace(record, retryable=retryable, certain=certain)
    attempts = 1
    for answer in answers * 5:
        d = p.decide(record, attempts, should_retry=answer)
        if not d.retry:
            break
        if certain:
            # the analysis never widens a certain record
            assert retryable
            assert answer is not False
        attempts += 1
    assert attempts <= max_retries + 1


# -- budget -----------------------------------------------------------------------------------


def budget(**kw: Any) -> RetryBudget:
    return RetryBudget(retry_config(**kw))


def spend_if_room(b: RetryBudget, host: str, now: float) -> bool:
    if b.room_at(host, now) is not None:
        return False
    b.spend(host, now)
    return True


def test_budget_floor_then_ratio() -> None:
    b = budget(budget_ratio=0.1, budget_window_s=60.0, budget_min_retries=2)
    assert spend_if_room(b, "h", 0.0)
    assert spend_if_room(b, "h", 0.0)
    assert not spend_if_room(b, "h", 0.0)  # floor of 2 spent, no requests to earn more
    for _ in range(50):
        b.record_request("h", 1.0)
    assert b.allowance("h", 1.0) == 5.0
    assert [spend_if_room(b, "h", 1.0) for _ in range(4)] == [True, True, True, False]
    assert b.spent == 5


def test_a_spent_budget_says_when_there_is_room_again() -> None:
    b = budget(budget_ratio=0.0, budget_window_s=10.0, budget_min_retries=1)
    b.spend("h", 3.4)  # counted in the bucket of second 3
    assert b.room_at("h", 5.0) == 14.0  # that bucket leaves the window at 3 + 1 + 10
    assert b.room_at("h", 14.0) is None


def test_budget_is_per_host() -> None:
    b = budget(budget_ratio=0.0, budget_min_retries=1)
    assert spend_if_room(b, "a", 0.0)
    assert not spend_if_room(b, "a", 0.0)
    assert spend_if_room(b, "b", 0.0)


def test_budget_window_slides() -> None:
    b = budget(budget_ratio=0.5, budget_window_s=10.0, budget_min_retries=1)
    for _ in range(4):
        b.record_request("h", 0.0)
    assert spend_if_room(b, "h", 0.0)
    assert spend_if_room(b, "h", 1.0)
    assert not spend_if_room(b, "h", 2.0)
    # the requests at t=0 have left the window, and so have the retries: the floor of 1 remains
    assert spend_if_room(b, "h", 12.0)
    assert not spend_if_room(b, "h", 12.0)
    for _ in range(4):
        b.record_request("h", 12.0)
    assert spend_if_room(b, "h", 12.5)
    assert not spend_if_room(b, "h", 12.5)


def test_budget_global_cap_means_not_in_this_run() -> None:
    b = budget(budget_ratio=1.0, budget_min_retries=100, global_max_retries=3)
    assert [spend_if_room(b, h, 0.0) for h in "abcd"] == [True, True, True, False]
    assert b.room_at("e", 0.0) == math.inf


def test_budget_without_global_cap() -> None:
    b = budget(budget_ratio=1.0, budget_min_retries=1000, global_max_retries=0)
    assert all(spend_if_room(b, "h", 0.0) for _ in range(500))


@settings(max_examples=200, deadline=None)
@given(
    ratio=st.floats(0.0, 1.0),
    window=st.integers(1, 30),
    floor=st.integers(1, 5),
    events=st.lists(st.tuples(st.floats(0.0, 0.99), st.booleans()), max_size=200),
)
def test_budget_never_lets_retries_exceed_their_share(
    ratio: float, window: int, floor: int, events: list[tuple[float, bool]]
) -> None:
    """Whatever arrives, a retry goes only while the window's retries, itself included, stay
    within max(floor, ratio × the window's requests)."""
    b = budget(budget_ratio=ratio, budget_window_s=float(window), budget_min_retries=floor)
    now = 0.0
    for step, wants_retry in events:
        now += step
        allowance = b.allowance("h", now)
        if wants_retry and spend_if_room(b, "h", now):
            assert b._window(b._retries, "h", now).total <= allowance
        b.record_request("h", now)

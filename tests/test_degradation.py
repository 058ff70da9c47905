"""Degraded mode: triggers, effects, the way out, and what it is not (a chosen --no-llm)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from crawler.config import DegradationConfig
from crawler.observe.degradation import (
    DegradationController,
    Feature,
    read_rss_bytes,
)
from crawler.observe.snapshot import HostView, LLMView, StatusSnapshot

MIB = 1024 * 1024


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def controller(clock: Clock, **overrides: Any) -> DegradationController:
    values: dict[str, Any] = {
        "window_s": 60.0,
        "min_requests": 20,
        "error_rate_threshold": 0.5,
        "recover_after_s": 30.0,
        "pause_hosts": 2,
        "concurrency_factor": 0.25,
    }
    values.update(overrides)
    return DegradationController(DegradationConfig(**values), clock=clock)


def feed(ctl: DegradationController, clock: Clock, host: str, category: str | None, n: int) -> None:
    for _ in range(n):
        clock.t += 0.1
        ctl.record_request(host, category)


def test_normal_crawl_is_not_degraded() -> None:
    clock = Clock()
    ctl = controller(clock)
    feed(ctl, clock, "a:80", None, 50)
    feed(ctl, clock, "a:80", "NOT_FOUND", 50)  # a page's own verdict is no trouble
    assert not ctl.status().is_degraded
    assert ctl.effective_concurrency(16) == 16
    assert ctl.paused_hosts() == frozenset()
    assert ctl.llm_allowed()


def test_error_rate_degrades_then_recovers_by_itself(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    ctl = controller(clock)
    caplog.set_level(logging.INFO, logger="crawler.degradation")
    feed(ctl, clock, "good:80", None, 10)
    feed(ctl, clock, "noisy:80", "TIMEOUT", 7)
    feed(ctl, clock, "worse:80", "SERVER", 2)
    assert not ctl.status().is_degraded  # 9 of 19: too few requests to judge, and under 50 %
    feed(ctl, clock, "noisy:80", "TIMEOUT", 1)
    status = ctl.status()
    assert status.is_degraded, "10 of 20 failing reaches 50 %"
    assert status.since == clock.t
    assert "error rate 50% over the last 60 s" in status.reason
    # Effects: lower concurrency, the noisiest hosts stop leasing.
    assert ctl.effective_concurrency(16) == 4
    assert ctl.effective_concurrency(2) == 1  # never 0
    assert ctl.paused_hosts() == {"noisy:80", "worse:80"}
    features = {i.feature: i for i in status.impairments}
    assert set(features) == {Feature.CONCURRENCY, Feature.HOST_LEASING}
    assert features[Feature.HOST_LEASING].to_dict()["hosts"] == ["noisy:80", "worse:80"]
    assert "concurrency" in features[Feature.CONCURRENCY].fallback
    assert any("Degraded mode" in r.message and r.levelname == "WARNING" for r in caplog.records)
    # The paused hosts send nothing more: the bad requests age out of the window, then the
    # mode holds for recover_after_s more and is left without anyone acting.
    clock.t += 61
    ctl.record_request("good:80", None)
    assert ctl.status().is_degraded  # clear, but not for recover_after_s yet
    clock.t += 29
    assert ctl.status().is_degraded
    clock.t += 1.5
    assert not ctl.status().is_degraded
    assert ctl.effective_concurrency(16) == 16
    assert ctl.paused_hosts() == frozenset()
    assert any("Degraded mode left" in r.message for r in caplog.records)


def test_trigger_returning_resets_the_recovery_clock() -> None:
    clock = Clock()
    ctl = controller(clock, recover_after_s=10.0, window_s=5.0, min_requests=5)

    def poll(seconds: int) -> list[bool]:
        """The mode seen by a scheduler asking once a second."""
        seen = []
        for _ in range(seconds):
            clock.t += 1
            seen.append(ctl.status().is_degraded)
        return seen

    feed(ctl, clock, "a:80", "SERVER", 10)
    assert ctl.status().is_degraded
    assert all(poll(8))  # the window empties after 5 s; recovery needs 10 s more
    feed(ctl, clock, "a:80", "SERVER", 10)  # trouble again before recovery
    seen = poll(20)
    assert all(seen[:14])
    assert not any(seen[16:])


def test_too_few_requests_never_degrade() -> None:
    clock = Clock()
    ctl = controller(clock, min_requests=50)
    feed(ctl, clock, "a:80", "NETWORK", 49)
    assert not ctl.status().is_degraded


def test_memory_pressure_degrades_and_clears() -> None:
    clock = Clock()
    ctl = controller(clock, max_rss_mb=100, recover_after_s=5.0)
    feed(ctl, clock, "noisy:80", "TIMEOUT", 3)
    ctl.record_rss(99 * MIB)
    assert not ctl.status().is_degraded
    ctl.record_rss(150 * MIB)
    status = ctl.status()
    assert status.is_degraded
    assert "memory 150 MiB over the 100 MiB limit" in status.reason
    assert ctl.effective_concurrency(10) == 2
    assert ctl.paused_hosts() == {"noisy:80"}
    ctl.record_rss(80 * MIB)
    clock.t += 5
    assert not ctl.status().is_degraded
    ctl.record_rss(None)  # a platform without /proc: no memory trigger
    assert not ctl.status().is_degraded


def test_llm_failures_mean_rules_only_until_the_cool_down() -> None:
    clock = Clock()
    ctl = controller(clock, llm_failure_threshold=3, llm_cooldown_s=300.0)
    ctl.record_llm(False, 5.0)
    ctl.record_llm(True, 0.5)
    ctl.record_llm(False, 5.0)
    assert ctl.llm_allowed()
    ctl.record_llm(False, 5.0)
    assert not ctl.llm_allowed()
    status = ctl.status()
    (llm,) = status.impairments
    assert llm.feature is Feature.LLM
    assert llm.until == pytest.approx(clock.t + 300)
    assert "rule-based" in llm.fallback
    assert "3 failed LLM calls" in llm.reason
    # The crawl itself is not slowed for the LLM's sake.
    assert ctl.effective_concurrency(8) == 8
    clock.t += 299
    assert not ctl.llm_allowed()
    clock.t += 1
    assert ctl.llm_allowed()  # the cool-down ended: try again, with a clean slate
    ctl.record_llm(False, 5.0)
    assert ctl.llm_allowed()


def test_llm_latency_over_budget() -> None:
    clock = Clock()
    ctl = controller(clock, llm_latency_budget_s=2.0, llm_min_calls=3)
    for latency in (1.0, 3.0):
        ctl.record_llm(True, latency)
    assert ctl.llm_allowed()  # too few calls to judge
    ctl.record_llm(True, 4.0)
    assert not ctl.llm_allowed()
    assert "median LLM latency 3.0 s over the 2 s budget" in ctl.status().reason


def test_disabled_controller_never_degrades() -> None:
    clock = Clock()
    ctl = controller(clock, enabled=False)
    feed(ctl, clock, "a:80", "SERVER", 100)
    for _ in range(5):
        ctl.record_llm(False, 1.0)
    assert not ctl.status().is_degraded
    assert ctl.llm_allowed()
    assert ctl.effective_concurrency(4) == 4


def test_a_chosen_no_llm_is_not_degradation() -> None:
    """The endpoint's answer for a rules-only run by choice, and for an impaired LLM."""
    clock = Clock()
    ctl = controller(clock)
    open_host = HostView("dead:80", {"state": "open", "given_up": True}, {})
    off = StatusSnapshot(llm=LLMView(mode="off"), degradation=ctl.status(), hosts=[open_host])
    mode = off.degradation_mode()
    assert mode["is_degraded"] is False
    assert mode["mode"] == "normal"
    assert mode["llm"] == "off"
    assert mode["open_circuits"] == ["dead:80"]  # an open breaker is the breaker's business
    for _ in range(3):
        ctl.record_llm(False, 1.0)
    on = StatusSnapshot(llm=LLMView(mode="on"), degradation=ctl.status())
    mode = on.degradation_mode()
    assert mode["is_degraded"] is True
    assert mode["llm"] == "rules-only"
    assert mode["features"][0]["feature"] == "llm"
    assert mode["features"][0]["fallback"].startswith("rule-based")
    assert mode["since"].endswith(("Z", "+00:00"))


def test_rss_reader() -> None:
    rss = read_rss_bytes()
    assert rss is None or rss > MIB

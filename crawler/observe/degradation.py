"""Degraded mode: crawl-wide triggers that change what the crawler does, and leave by themselves.

Two independent impairments (docs/operations.md, "Degraded mode"):

- **crawl**: the share of requests failing with trouble categories (network, DNS, timeout, TLS,
  5xx, 429) over ``window_s`` reaches ``error_rate_threshold`` (once ``min_requests`` were made
  in the window), or resident memory exceeds ``max_rss_mb``. Effects: the global concurrency is
  multiplied by ``concurrency_factor`` and the ``pause_hosts`` hosts with the most trouble in
  the window stop leasing. Left when no trigger has held for ``recover_after_s``.
- **llm**: ``llm_failure_threshold`` failed LLM calls in the window, or a median LLM latency
  over ``llm_latency_budget_s`` (once ``llm_min_calls`` were made). Effect: rules-only analysis
  for ``llm_cooldown_s``; then the LLM is tried again with a clean slate.

A run without an LLM (``--no-llm``, nothing configured) is a choice, not an impairment: it
never makes the crawl degraded. The controller is pure: the clock is injected, it does no I/O
besides logging its transitions, and the engine reads its knobs (:meth:`effective_concurrency`,
:meth:`paused_hosts`, :meth:`llm_allowed`).
"""

from __future__ import annotations

import enum
import logging
import math
import os
import statistics
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.config import DegradationConfig
from crawler.records import Category, iso

__all__ = [
    "TROUBLE",
    "DegradationController",
    "DegradationStatus",
    "Feature",
    "Impairment",
    "read_rss_bytes",
]

log = logging.getLogger("crawler.degradation")

# Failures that say "the web (or we) are in trouble", as opposed to a page's own verdict (404,
# robots, content): the same kinds a circuit breaker counts.
TROUBLE = frozenset(
    {
        Category.NETWORK,
        Category.DNS,
        Category.TIMEOUT,
        Category.TLS,
        Category.RATE_LIMIT,
        Category.SERVER,
    }
)
_MIB = 1024 * 1024


class Feature(enum.StrEnum):
    """What degraded mode changes; each has a documented fallback."""

    CONCURRENCY = "concurrency"
    HOST_LEASING = "host_leasing"
    LLM = "llm"


FALLBACKS: dict[Feature, str] = {
    Feature.CONCURRENCY: "global concurrency multiplied by [degradation] concurrency_factor",
    Feature.HOST_LEASING: "the noisiest hosts stop leasing until the mode is left",
    Feature.LLM: "rule-based analysis only until the cool-down ends",
}


@dataclass(frozen=True, slots=True)
class Impairment:
    """One feature running on its fallback, why, and since when (epoch seconds)."""

    feature: Feature
    reason: str
    since: float
    until: float | None = None  # a known end (the LLM cool-down); None: when the trigger clears
    hosts: tuple[str, ...] = ()  # HOST_LEASING: the paused hosts

    @property
    def fallback(self) -> str:
        return FALLBACKS[self.feature]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feature": self.feature.value,
            "fallback": self.fallback,
            "reason": self.reason,
            "since": iso(self.since),
            "until": iso(self.until) if self.until is not None else None,
        }
        if self.feature is Feature.HOST_LEASING:
            out["hosts"] = list(self.hosts)
        return out


@dataclass(frozen=True, slots=True)
class DegradationStatus:
    """The mode as the endpoint, the metrics and the dashboard show it."""

    impairments: tuple[Impairment, ...] = ()
    enabled: bool = True

    @property
    def is_degraded(self) -> bool:
        return bool(self.impairments)

    @property
    def since(self) -> float | None:
        return min((i.since for i in self.impairments), default=None)

    @property
    def reason(self) -> str:
        return "; ".join(dict.fromkeys(i.reason for i in self.impairments))

    def to_dict(self) -> dict[str, Any]:
        since = self.since
        return {
            "is_degraded": self.is_degraded,
            "mode": "degraded" if self.is_degraded else "normal",
            "reason": self.reason,
            "since": iso(since) if since is not None else None,
            "features": [i.to_dict() for i in self.impairments],
            "enabled": self.enabled,
        }


@dataclass(slots=True)
class _CrawlMode:
    reason: str
    since: float
    hosts: tuple[str, ...]
    clear_since: float | None = None


@dataclass(slots=True)
class _Window:
    """Request outcomes in the last ``window_s``: counts kept in step with the deque."""

    window_s: float
    events: deque[tuple[float, str, bool]] = field(default_factory=deque)
    bad: int = 0
    bad_by_host: Counter[str] = field(default_factory=Counter)

    def add(self, now: float, host: str, bad: bool) -> None:
        self.events.append((now, host, bad))
        if bad:
            self.bad += 1
            self.bad_by_host[host] += 1

    def prune(self, now: float) -> None:
        cutoff = now - self.window_s
        events = self.events
        while events and events[0][0] < cutoff:
            _, host, bad = events.popleft()
            if bad:
                self.bad -= 1
                self.bad_by_host[host] -= 1
                if self.bad_by_host[host] <= 0:
                    del self.bad_by_host[host]


class DegradationController:
    """Feed it outcomes; read its knobs. ``clock`` gives epoch seconds."""

    def __init__(
        self, cfg: DegradationConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg or DegradationConfig()
        self._clock = clock
        self._requests = _Window(self.cfg.window_s)
        self._llm: deque[tuple[float, bool, float]] = deque()
        self._rss: int | None = None
        self._crawl: _CrawlMode | None = None
        self._llm_off: Impairment | None = None

    # -- inputs --------------------------------------------------------------------------------
    def record_request(self, host: str, category: str | None) -> None:
        """One request's outcome: ``category`` None for a stored page, else the failure's
        category (only :data:`TROUBLE` categories count as errors)."""
        now = self._clock()
        bad = category is not None and category in TROUBLE
        self._requests.add(now, host, bad)
        self._evaluate(now)

    def record_llm(self, ok: bool, latency_s: float) -> None:
        """One LLM request: answered (``ok``, whether or not the answer was valid) or failed."""
        now = self._clock()
        self._llm.append((now, ok, latency_s))
        self._evaluate(now)

    def record_rss(self, rss_bytes: int | None) -> None:
        """The process's resident memory now (:func:`read_rss_bytes`), sampled periodically."""
        self._rss = rss_bytes
        self._evaluate(self._clock())

    # -- knobs ---------------------------------------------------------------------------------
    def effective_concurrency(self, base: int) -> int:
        """How many requests may be in flight in all, given the configured ``base``."""
        self._evaluate(self._clock())
        if self._crawl is None:
            return base
        return max(1, math.floor(base * self.cfg.concurrency_factor))

    def paused_hosts(self) -> frozenset[str]:
        """Hosts that must not be leased now (add them to the lease's ``exclude_hosts``)."""
        self._evaluate(self._clock())
        return frozenset(self._crawl.hosts) if self._crawl is not None else frozenset()

    def llm_allowed(self) -> bool:
        """False while the LLM is impaired: use the rule-based analysis."""
        self._evaluate(self._clock())
        return self._llm_off is None

    def status(self) -> DegradationStatus:
        now = self._clock()
        self._evaluate(now)
        found: list[Impairment] = []
        if self._crawl is not None:
            mode = self._crawl
            found.append(Impairment(Feature.CONCURRENCY, mode.reason, mode.since))
            if mode.hosts:
                paused = Impairment(Feature.HOST_LEASING, mode.reason, mode.since, hosts=mode.hosts)
                found.append(paused)
        if self._llm_off is not None:
            found.append(self._llm_off)
        return DegradationStatus(tuple(found), enabled=self.cfg.enabled)

    # -- the decisions -------------------------------------------------------------------------
    def _evaluate(self, now: float) -> None:
        if not self.cfg.enabled:
            return
        self._requests.prune(now)
        cutoff = now - self.cfg.window_s
        while self._llm and self._llm[0][0] < cutoff:
            self._llm.popleft()
        self._evaluate_crawl(now)
        self._evaluate_llm(now)

    def _crawl_trigger(self) -> str | None:
        """Why the crawl should be degraded now, or None (the window as last pruned)."""
        cfg = self.cfg
        n = len(self._requests.events)
        if n >= cfg.min_requests and n:
            rate = self._requests.bad / n
            if rate >= cfg.error_rate_threshold:
                return (
                    f"error rate {rate:.0%} over the last {cfg.window_s:g} s"
                    f" (threshold {cfg.error_rate_threshold:.0%}, {n} requests)"
                )
        if cfg.max_rss_mb and self._rss is not None and self._rss > cfg.max_rss_mb * _MIB:
            return f"memory {self._rss / _MIB:.0f} MiB over the {cfg.max_rss_mb} MiB limit"
        return None

    def _evaluate_crawl(self, now: float) -> None:
        reason = self._crawl_trigger()
        mode = self._crawl
        if mode is None:
            if reason is None:
                return
            hosts = self._noisiest()
            self._crawl = _CrawlMode(reason, now, hosts)
            log.warning(
                "Degraded mode: %s; concurrency x%g%s",
                reason,
                self.cfg.concurrency_factor,
                f", hosts paused: {', '.join(hosts)}" if hosts else "",
            )
            return
        if reason is not None:
            mode.reason, mode.clear_since = reason, None
        elif mode.clear_since is None:
            mode.clear_since = now
        elif now - mode.clear_since >= self.cfg.recover_after_s:
            self._crawl = None
            log.info(
                "Degraded mode left after %.0f s: the trigger cleared (%s)",
                now - mode.since,
                mode.reason,
            )

    def _noisiest(self) -> tuple[str, ...]:
        """The hosts with the most trouble in the window, most first (ties: by name)."""
        ranked = sorted(self._requests.bad_by_host.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(host for host, _ in ranked[: self.cfg.pause_hosts])

    def _evaluate_llm(self, now: float) -> None:
        off = self._llm_off
        if off is not None:
            if off.until is not None and now >= off.until:
                self._llm_off = None
                self._llm.clear()  # a clean slate: old failures must not re-trigger at once
                log.info("LLM cool-down over: asking the LLM again")
            return
        reason = self._llm_trigger()
        if reason is not None:
            until = now + self.cfg.llm_cooldown_s
            self._llm_off = Impairment(Feature.LLM, reason, now, until)
            log.warning("Degraded mode: %s; rules only until %s", reason, iso(until))

    def _llm_trigger(self) -> str | None:
        cfg = self.cfg
        failures = sum(1 for _, ok, _ in self._llm if not ok)
        if failures >= cfg.llm_failure_threshold:
            return f"{failures} failed LLM calls in the last {cfg.window_s:g} s"
        latencies: Sequence[float] = [lat for _, ok, lat in self._llm if ok]
        if len(latencies) >= cfg.llm_min_calls:
            median = statistics.median(latencies)
            if median > cfg.llm_latency_budget_s:
                return (
                    f"median LLM latency {median:.1f} s over the"
                    f" {cfg.llm_latency_budget_s:g} s budget"
                )
        return None


def read_rss_bytes() -> int | None:
    """This process's resident memory from ``/proc/self/statm`` (None where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")

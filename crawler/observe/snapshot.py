"""What the status server, the dashboard and the metrics read: one typed snapshot of a crawl.

The engine builds a :class:`StatusSnapshot` on request (``AdaptiveCrawler.status_snapshot``);
everything here turns it into the JSON the endpoints answer. Plain data only: a snapshot is
taken at one moment and never changes afterwards.

Until the engine returns a :class:`StatusSnapshot`, :meth:`StatusSnapshot.from_legacy` reads
the older plain-dict snapshot (health / errors / breakers / rate_limits / degradation / dlq).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawler.observe.degradation import DegradationStatus

__all__ = ["FrontierView", "HostView", "LLMView", "StatusSnapshot", "rank_hosts"]

DLQ_TAIL = 100  # DLQ entries a snapshot carries at most (the newest)


@dataclass(frozen=True, slots=True)
class FrontierView:
    """URL counts by state. ``waiting``: pending URLs deferred to a later time (retries, paused
    or open hosts) — None when the store cannot say cheaply."""

    pending: int = 0
    leased: int = 0
    done: int = 0
    dead: int = 0
    waiting: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "leased": self.leased,
            "waiting": self.waiting,
            "done": self.done,
            "dead": self.dead,
        }


@dataclass(frozen=True, slots=True)
class HostView:
    """One ``host:port``: its breaker and throttle as their ``snapshot(now)`` give them.

    ``breaker`` is ``CircuitBreaker.snapshot(now)`` plus ``given_up`` and ``failures``;
    ``throttle`` is ``Throttle.snapshot(now)``; ``requests`` the requests sent to the host this
    run (it ranks hosts for the per-host metrics and the dashboard)."""

    host: str
    breaker: Mapping[str, Any]
    throttle: Mapping[str, Any]
    requests: int = 0

    @property
    def given_up(self) -> bool:
        return bool(self.breaker.get("given_up"))

    @property
    def breaker_state(self) -> str:
        """closed, half_open or open (a given-up host is open)."""
        return "open" if self.given_up else str(self.breaker.get("state", "closed"))

    @property
    def failures(self) -> int:
        return int(self.breaker.get("failures", 0) or 0)

    @property
    def concurrency(self) -> float:
        return float(self.throttle.get("concurrency", 0) or 0)

    @property
    def delay_s(self) -> float:
        return float(self.throttle.get("delay_s", 0.0) or 0.0)

    @property
    def paused_for_s(self) -> float:
        """Seconds left of a Retry-After pause (0 when none)."""
        return float(self.throttle.get("paused_for_s", 0.0) or 0.0)

    def row(self) -> dict[str, Any]:
        """The dashboard's row for this host."""
        return {
            "host": self.host,
            "requests": self.requests,
            "failures": self.failures,
            "breaker": self.breaker_state,
            "given_up": self.given_up,
            "reopens_in_s": round(float(self.breaker.get("reopens_in_s", 0.0) or 0.0), 2),
            "concurrency": self.concurrency,
            "delay_s": round(self.delay_s, 3),
            "in_flight": int(self.throttle.get("in_flight", 0) or 0),
            "retry_after_s": round(self.paused_for_s, 2),
            "rate_limited": bool(self.throttle.get("rate_limited", False)),
        }


def rank_hosts(
    hosts: Iterable[HostView], limit: int, traffic: Mapping[str, int] | None = None
) -> list[HostView]:
    """The ``limit`` busiest hosts (requests, then failures; ``traffic`` may know more requests
    than the snapshot), busiest first."""

    def key(h: HostView) -> tuple[int, int, str]:
        requests = max(h.requests, traffic.get(h.host, 0)) if traffic else h.requests
        return (-requests, -h.failures, h.host)

    return sorted(hosts, key=key)[:limit]


@dataclass(frozen=True, slots=True)
class LLMView:
    """The LLM as the run uses it. ``mode``: "on", or "off" when disabled or not configured —
    a choice, never degradation (an impaired LLM shows in the degradation status)."""

    mode: str = "off"
    calls: int = 0
    cache_hits: int = 0
    rejected: int = 0
    failures: int = 0
    median_latency_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "rejected": self.rejected,
            "failures": self.failures,
            "median_latency_s": self.median_latency_s,
        }

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any] | None) -> LLMView:
        """From ``LLMManager.stats()`` (None: no LLM in this run)."""
        if not stats:
            return cls()
        latency = stats.get("median_latency_s")
        return cls(
            mode="on" if stats.get("enabled", True) else "off",
            calls=int(stats.get("calls", 0) or 0),
            cache_hits=int(stats.get("cache_hits", 0) or 0),
            rejected=int(stats.get("rejected", 0) or 0),
            failures=int(stats.get("failures", 0) or 0),
            median_latency_s=float(latency) if latency is not None else None,
        )


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """A crawl at one moment. ``status``: "running", "stopping" or "idle" (no run going)."""

    status: str = "idle"
    pages_ok: int = 0  # pages stored in the state dir (all runs)
    pages_stored: int | None = None  # stored by this run (None: not known)
    pages_failed: int | None = None  # sent to the DLQ by this run (None: not known)
    requests: int = 0
    retries: int = 0
    in_flight: int = 0
    dlq_items: int = 0
    frontier: FrontierView = field(default_factory=FrontierView)
    hosts: Sequence[HostView] = ()
    errors: Mapping[str, Any] = field(default_factory=dict)  # ErrorAnalytics.snapshot()
    dlq_tail: Sequence[Mapping[str, Any]] = ()  # DLQEntry.to_dict(), oldest first, <= DLQ_TAIL
    llm: LLMView = field(default_factory=LLMView)
    degradation: DegradationStatus | None = None  # None: no controller in this crawler

    # -- what the endpoints answer -------------------------------------------------------------
    @property
    def errors_total(self) -> int:
        return int(self.errors.get("errors_total", 0) or 0)

    def open_circuits(self) -> list[str]:
        return sorted(h.host for h in self.hosts if h.breaker_state != "closed")

    def health(self) -> dict[str, Any]:
        degraded = self.degradation is not None and self.degradation.is_degraded
        return {
            "status": self.status,
            "pages_ok": self.pages_ok,
            "pending": self.frontier.pending + self.frontier.leased,
            "in_flight": self.in_flight,
            "dlq_items": self.dlq_items,
            "degraded": degraded,
        }

    def breakers(self) -> dict[str, Any]:
        return {h.host: dict(h.breaker) for h in self.hosts}

    def rate_limits(self) -> dict[str, Any]:
        return {h.host: dict(h.throttle) for h in self.hosts}

    def degradation_mode(self) -> dict[str, Any]:
        """``is_degraded``, ``mode``, ``reason``, ``since``, ``features`` (each with its
        fallback), ``open_circuits`` and ``llm`` ("on", "off" by choice, or "rules-only")."""
        status = self.degradation or DegradationStatus(enabled=False)
        out = status.to_dict()
        llm_impaired = any(i.feature.value == "llm" for i in status.impairments)
        out["llm"] = "rules-only" if llm_impaired and self.llm.mode == "on" else self.llm.mode
        out["open_circuits"] = self.open_circuits()
        return out

    def system_health(self) -> dict[str, Any]:
        """``health``: "critical" when a host was given up or a CRITICAL error happened,
        "degraded" in degraded mode or with a breaker not closed, else "healthy"."""
        by_severity = self.errors.get("by_severity", {})
        critical = int(by_severity.get("critical", 0) or 0)
        given_up = sorted(h.host for h in self.hosts if h.given_up)
        open_circuits = self.open_circuits()
        degraded = self.degradation is not None and self.degradation.is_degraded
        if given_up or critical:
            health = "critical"
        elif degraded or open_circuits:
            health = "degraded"
        else:
            health = "healthy"
        return {
            "health": health,
            "status": self.status,
            "total_errors": self.errors_total,
            "critical_errors": critical,
            "high_errors": int(by_severity.get("high", 0) or 0),
            "errors_per_minute": self.errors.get("errors_per_minute", 0.0),
            "open_circuits": open_circuits,
            "given_up_hosts": given_up,
            "breakers": {h.host: h.breaker_state for h in self.hosts},
            "is_degraded": degraded,
            "pages_ok": self.pages_ok,
            "dlq_items": self.dlq_items,
        }

    # -- the older plain-dict snapshot ---------------------------------------------------------
    @classmethod
    def from_legacy(cls, snap: Mapping[str, Any]) -> StatusSnapshot:
        """Read the plain-dict snapshot of an engine that does not build this class yet."""
        health = snap.get("health", {})
        errors = snap.get("errors", {})
        counters = errors.get("counters", {})
        rate_limits = snap.get("rate_limits", {})
        hosts = [
            HostView(host, breaker, rate_limits.get(host, {}), int(breaker.get("failures", 0)))
            for host, breaker in snap.get("breakers", {}).items()
        ]
        llm_on = snap.get("degradation", {}).get("llm") == "enabled"
        dlq = list(snap.get("dlq", []))[-DLQ_TAIL:]
        stopping = health.get("status") == "stopping"
        in_flight = int(health.get("in_flight", 0))
        busy = in_flight or int(health.get("pending", 0))
        return cls(
            status="stopping" if stopping else ("running" if busy else "idle"),
            pages_ok=int(health.get("pages_ok", 0)),
            requests=int(counters.get("requests", 0)),
            retries=int(counters.get("retries", 0)),
            in_flight=in_flight,
            dlq_items=int(health.get("dlq_items", 0)),
            frontier=FrontierView(
                pending=int(health.get("pending", 0)),
                done=int(health.get("pages_ok", 0)),
                dead=int(health.get("dlq_items", 0)),
            ),
            hosts=hosts,
            errors=errors,
            dlq_tail=dlq,
            llm=LLMView(mode="on" if llm_on else "off"),
        )

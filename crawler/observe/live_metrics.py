"""The live families of ``/metrics``: read from the latest status snapshot at scrape time.

Frontier by state, DLQ, in-flight requests, hosts by breaker state, breaker and throttle per
host (the busiest ones), errors by category as the analytics counted them, and the degraded
mode. ``crawler.observe.metrics.CrawlMetrics`` registers one :class:`LiveCollector`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from crawler.observe.snapshot import HostView, StatusSnapshot

__all__ = ["BREAKER_VALUES", "LiveCollector"]

BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class LiveCollector(Collector):
    """Families read at scrape time from ``snapshot()`` (None: nothing yet); per-host gauges
    for the hosts ``top_hosts`` picks."""

    def __init__(
        self,
        snapshot: Callable[[], StatusSnapshot | None],
        top_hosts: Callable[[Iterable[HostView]], list[HostView]],
    ) -> None:
        self._snapshot = snapshot
        self._top_hosts = top_hosts

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the snapshot; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        snap = self._snapshot()
        if snap is None:
            return
        yield from _frontier(snap)
        yield from _hosts(snap, self._top_hosts(snap.hosts))
        yield from _errors(snap)
        yield from _degradation(snap)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _frontier(snap: StatusSnapshot) -> Iterable[Metric]:
    states = GaugeMetricFamily("crawler_frontier_urls", "URLs by frontier state.", labels=["state"])
    f = snap.frontier
    for state, value in (
        ("pending", f.pending),
        ("leased", f.leased),
        ("waiting", f.waiting),
        ("done", f.done),
        ("dead", f.dead),
    ):
        if value is not None:
            states.add_metric([state], value)
    yield states
    yield _gauge("crawler_dlq_entries", "Entries in the dead-letter queue.", snap.dlq_items)
    yield _gauge("crawler_in_flight_requests", "Requests in flight now.", snap.in_flight)
    yield _gauge("crawler_pages_ok", "Pages stored in the state dir (all runs).", snap.pages_ok)


def _hosts(snap: StatusSnapshot, top: list[HostView]) -> Iterable[Metric]:
    counts: Tally[str] = Tally({"closed": 0, "half_open": 0, "open": 0, "given_up": 0})
    for h in snap.hosts:
        counts["given_up" if h.given_up else h.breaker_state] += 1
    hosts = GaugeMetricFamily(
        "crawler_hosts", "Hosts by circuit breaker state (all hosts).", labels=["breaker"]
    )
    for state, n in counts.items():
        hosts.add_metric([state], n)
    yield hosts
    breaker = GaugeMetricFamily(
        "crawler_host_breaker_state",
        "Circuit breaker per host: 0 closed, 1 half-open, 2 open (busiest hosts).",
        labels=["host"],
    )
    concurrency = GaugeMetricFamily(
        "crawler_host_throttle_concurrency",
        "Requests in flight the throttle allows per host (busiest hosts).",
        labels=["host"],
    )
    delay = GaugeMetricFamily(
        "crawler_host_throttle_delay_seconds",
        "Delay between requests the throttle imposes per host (busiest hosts).",
        labels=["host"],
    )
    paused = GaugeMetricFamily(
        "crawler_host_retry_after_remaining_seconds",
        "Seconds left of a Retry-After pause per host (busiest hosts).",
        labels=["host"],
    )
    for h in top:
        breaker.add_metric([h.host], BREAKER_VALUES.get(h.breaker_state, 2))
        concurrency.add_metric([h.host], h.concurrency)
        delay.add_metric([h.host], h.delay_s)
        paused.add_metric([h.host], h.paused_for_s)
    yield from (breaker, concurrency, delay, paused)


def _errors(snap: StatusSnapshot) -> Iterable[Metric]:
    # Counted by the analytics (every recorded failure: robots.txt and deferrals included).
    errors = CounterMetricFamily(
        "crawler_errors",
        "Failures recorded by the error analytics, by category.",
        labels=["category"],
    )
    for category, n in sorted(snap.errors.get("by_category", {}).items()):
        errors.add_metric([category], n)
    yield errors
    yield _gauge(
        "crawler_errors_per_minute",
        "Failures per minute over the analytics window.",
        float(snap.errors.get("errors_per_minute", 0.0) or 0.0),
    )


def _degradation(snap: StatusSnapshot) -> Iterable[Metric]:
    status = snap.degradation
    degraded = status is not None and status.is_degraded
    yield _gauge("crawler_degraded", "1 while the crawl runs in degraded mode.", int(degraded))
    features = GaugeMetricFamily(
        "crawler_degraded_feature",
        "1 for each feature running on its fallback.",
        labels=["feature"],
    )
    since = status.since if status is not None else None
    for impairment in status.impairments if status is not None else ():
        features.add_metric([impairment.feature.value], 1)
    yield features
    if since is not None:
        yield _gauge(
            "crawler_degraded_since_timestamp_seconds",
            "When the current degraded mode began, Unix time.",
            since,
        )

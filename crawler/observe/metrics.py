"""Prometheus metrics of one crawler, with prometheus-client: one registry per crawler.

Two kinds of family (the list is in docs/operations.md):

- **events**, counted as they happen: the engine calls the typed ``on_*`` methods of
  :class:`CrawlMetrics` (fetch latency by status class, responses by code and by category,
  bytes, retries, Retry-After pauses, LLM calls / cache hits / latency / rejected answers);
- **live state**, read at scrape time (``live_metrics.py``) from the latest
  :class:`StatusSnapshot` handed to :meth:`CrawlMetrics.update` (frontier by state, DLQ,
  breaker and throttle per host, errors by category, the degradation mode). Storage calls
  are async and a scrape is not, so the status server refreshes the snapshot before it
  renders ``/metrics`` and every sample interval.

Host labels are capped: per-host counters name the first ``max_host_labels`` hosts that get a
request and sum the rest as ``other`` (a label never changes its meaning, so counters stay
monotonic); per-host gauges show the ``max_host_labels`` hosts with the most requests, and
``crawler_hosts{breaker=...}`` counts every host.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from crawler.observe.live_metrics import LiveCollector
from crawler.observe.snapshot import HostView, StatusSnapshot, rank_hosts

__all__ = ["CONTENT_TYPE_LATEST", "OTHER", "CrawlMetrics", "HostLabels", "write_textfile"]

OTHER = "other"
LAST_SUCCESS = "crawler_last_run_success_timestamp_seconds"
FETCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)


class HostLabels:
    """The label of a host in per-host counters: its name for the first ``limit`` hosts seen,
    ``other`` after that. Sticky, so a series never changes meaning."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._named: set[str] = set()

    def __call__(self, host: str) -> str:
        if host in self._named:
            return host
        if len(self._named) < self.limit:
            self._named.add(host)
            return host
        return OTHER


def status_class(status: int | None) -> str:
    """``2xx`` .. ``5xx``, or ``error`` when no HTTP response arrived."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"


class CrawlMetrics:
    """The metrics of one crawler. ``registry`` is its own (nothing global is touched)."""

    def __init__(self, *, max_host_labels: int = 50, clock: Callable[[], float] = time.time):
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_host_labels = max_host_labels
        self._clock = clock
        self._labels = HostLabels(max_host_labels)
        self._traffic: Tally[str] = Tally()  # requests per host (every host), ranks the gauges
        self._snapshot: StatusSnapshot | None = None
        self._by_status: dict[int | None, tuple[Histogram, Counter]] = {}
        self._by_category: dict[str, Counter] = {}
        self._host_requests: dict[str, Counter] = {}  # at most one child per host seen
        r = self.registry
        self.fetch_latency = Histogram(
            "crawler_fetch_duration_seconds",
            "Time of one HTTP exchange (redirects included), by status class.",
            ["status_class"],
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self.responses = Counter(
            "crawler_responses",
            "Requests by HTTP status code ('none' when no response arrived).",
            ["code"],
            registry=r,
        )
        self.responses_by_category = Counter(
            "crawler_responses_by_category",
            "Requests by outcome: OK for a stored page, else the failure category.",
            ["category"],
            registry=r,
        )
        self.bytes = Counter(
            "crawler_downloaded_bytes", "Response body bytes downloaded.", registry=r
        )
        self.host_requests = Counter(
            "crawler_host_requests", "Requests per host (capped labels).", ["host"], registry=r
        )
        self.retries = Counter(
            "crawler_retries", "Retries scheduled, per host (capped labels).", ["host"], registry=r
        )
        self.retry_after_pauses = Counter(
            "crawler_retry_after_pauses",
            "Hosts paused by a Retry-After answer, per host (capped labels).",
            ["host"],
            registry=r,
        )
        self.retry_after_seconds = Counter(
            "crawler_retry_after_pause_seconds",
            "Seconds of Retry-After pause asked for, per host (capped labels).",
            ["host"],
            registry=r,
        )
        self.llm_calls = Counter(
            "crawler_llm_calls", "Requests sent to the LLM endpoint.", ["outcome"], registry=r
        )
        self.llm_cache_hits = Counter(
            "crawler_llm_cache_hits", "LLM verdicts served from the cache.", registry=r
        )
        self.llm_rejected = Counter(
            "crawler_llm_rejected", "LLM answers rejected as invalid.", registry=r
        )
        self.llm_latency = Histogram(
            "crawler_llm_duration_seconds",
            "Time of one LLM request.",
            buckets=LLM_BUCKETS,
            registry=r,
        )
        self.last_success_at: float | None = None  # set by on_run_finished(success=True)
        self.last_success = Gauge(
            LAST_SUCCESS,
            "End of the last run that finished (not stopped, not crashed), Unix time.",
            registry=r,
        )
        self.last_duration = Gauge(
            "crawler_last_run_duration_seconds", "Duration of the last run.", registry=r
        )
        self.last_pages = Gauge(
            "crawler_last_run_pages_stored", "Pages stored by the last run.", registry=r
        )
        self.last_alerts = Gauge(
            "crawler_last_run_alerts", "Run-over-run alerts raised by the last run.", registry=r
        )
        for outcome in ("ok", "failed"):
            self.llm_calls.labels(outcome)  # both series exist from the start
        r.register(LiveCollector(lambda: self._snapshot, self.top_hosts))

    # -- events (the engine calls these) ------------------------------------------------------
    def on_response(
        self, host: str, status: int | None, category: str | None, latency_s: float, nbytes: int
    ) -> None:
        """One request ended: ``status`` None when no HTTP response arrived; ``category`` None
        for a stored page, else the failure's category; ``nbytes`` the body bytes read."""
        # The hot path: children looked up once per label value (``labels()`` takes a lock).
        by_status = self._by_status.get(status)
        if by_status is None:
            by_status = self._by_status[status] = (
                self.fetch_latency.labels(status_class(status)),
                self.responses.labels("none" if status is None else str(status)),
            )
        by_status[0].observe(max(0.0, latency_s))
        by_status[1].inc()
        key = category or "OK"
        outcome = self._by_category.get(key)
        if outcome is None:
            outcome = self._by_category[key] = self.responses_by_category.labels(key)
        outcome.inc()
        if nbytes > 0:
            self.bytes.inc(nbytes)
        self._traffic[host] += 1
        requests = self._host_requests.get(host)
        if requests is None:
            requests = self._host_requests[host] = self.host_requests.labels(self._labels(host))
        requests.inc()

    def on_retry(self, host: str) -> None:
        """A retry of a URL of ``host`` was scheduled."""
        self.retries.labels(self._labels(host)).inc()

    def on_retry_after_pause(self, host: str, seconds: float) -> None:
        """``host`` was paused for ``seconds`` by a Retry-After answer."""
        label = self._labels(host)
        self.retry_after_pauses.labels(label).inc()
        self.retry_after_seconds.labels(label).inc(max(0.0, seconds))

    def on_llm_call(self, latency_s: float, ok: bool) -> None:
        """One request to the LLM endpoint: answered (``ok``) or failed (error, timeout)."""
        self.llm_calls.labels("ok" if ok else "failed").inc()
        self.llm_latency.observe(max(0.0, latency_s))

    def on_llm_cache_hit(self) -> None:
        self.llm_cache_hits.inc()

    def on_llm_rejected(self) -> None:
        """An LLM answer failed validation (the rules decided instead)."""
        self.llm_rejected.inc()

    def on_run_finished(
        self, summary: Mapping[str, Any], *, success: bool, alerts: int = 0
    ) -> None:
        """End of ``run()``: the last-run gauges; the success timestamp only when ``success``."""
        if success:
            self.last_success_at = self._clock()
            self.last_success.set(self.last_success_at)
        self.last_duration.set(float(summary.get("duration_s", 0.0) or 0.0))
        self.last_pages.set(float(summary.get("pages_stored", 0) or 0))
        self.last_alerts.set(alerts)

    # -- live state ----------------------------------------------------------------------------
    def update(self, snapshot: StatusSnapshot) -> None:
        """The state the live families show until the next update."""
        self._snapshot = snapshot

    def traffic(self) -> Mapping[str, int]:
        """Requests per host counted by :meth:`on_response` (every host, uncapped)."""
        return self._traffic

    def top_hosts(self, hosts: Iterable[HostView]) -> list[HostView]:
        """The ``max_host_labels`` hosts with the most requests (then failures), busiest first."""
        return rank_hosts(hosts, self.max_host_labels, self._traffic)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


def write_textfile(path: str | Path, metrics: CrawlMetrics) -> None:
    """The last-run gauges as a node_exporter textfile (``*.prom``), written atomically.

    A run that did not succeed keeps the success time the file already had, so an alert on
    ``time() - crawler_last_run_success_timestamp_seconds`` sees the last real success."""
    target = Path(path)
    if metrics.last_success_at is None:
        previous = _read_gauge(target, LAST_SUCCESS)
        if previous:
            metrics.last_success.set(previous)
    registry = CollectorRegistry(auto_describe=True)
    for gauge in (
        metrics.last_success,
        metrics.last_duration,
        metrics.last_pages,
        metrics.last_alerts,
    ):
        registry.register(_Only(gauge))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(generate_latest(registry))
    tmp.replace(target)


def _read_gauge(path: Path, name: str) -> float | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name:
                    return float(sample.value)
    except ValueError:  # not a textfile we wrote: start afresh
        return None
    return None


class _Only(Collector):
    """Exposes one metric of another registry (a gauge cannot be in two registries)."""

    def __init__(self, metric: Gauge) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return self._metric.collect()

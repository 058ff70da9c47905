"""Test scaffolding for the observe layer: stand-ins for the engine hooks, a dead host.

Until the engine calls ``CrawlMetrics.on_*`` and the degradation controller itself (the hooks
are listed in docs/operations.md, "For the engine"), :class:`Instrument` feeds them from the
crawler's public surfaces only: ``crawler.fetcher.fetch`` (responses, latency, bytes),
``crawler.storage.nack`` (a retry is a nack that spends a try), ``crawler.on_error``
(Retry-After pauses) and ``crawler.llm`` (LLM calls, from the manager's own counters). When the
crawler already has ``metrics`` (the engine is wired), nothing is patched.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from crawler import AdaptiveCrawler
from crawler.decide.classify import classify
from crawler.errors import FetchError
from crawler.observe.degradation import DegradationController
from crawler.observe.metrics import CrawlMetrics
from crawler.records import Analysis, Category, FailureRecord
from crawler.storage import Lease
from crawler.web.fetch import Response
from crawler.web.urls import host_key


def dead_port(host: str = "127.0.0.3") -> int:
    """A port on ``host`` where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _MeteredLLM:
    """Delegates to the crawler's LLM manager; turns changes of its counters into metrics."""

    def __init__(self, inner: Any, metrics: CrawlMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def analyze_error(
        self, model: str, error_message: str, context: Mapping[str, Any] | None = None
    ) -> Analysis:
        before = self._inner.stats()
        started = time.monotonic()
        try:
            return await self._inner.analyze_error(model, error_message, context)  # type: ignore[no-any-return]
        finally:
            self._account(before, time.monotonic() - started)

    async def confirm_block(self, url: str, excerpt: str) -> bool | None:
        before = self._inner.stats()
        started = time.monotonic()
        try:
            return await self._inner.confirm_block(url, excerpt)  # type: ignore[no-any-return]
        finally:
            self._account(before, time.monotonic() - started)

    def _account(self, before: Mapping[str, Any], latency_s: float) -> None:
        after = self._inner.stats()
        calls = after["calls"] - before["calls"]
        failures = after["failures"] - before["failures"]
        for i in range(calls):
            self._metrics.on_llm_call(latency_s, ok=i >= failures)
        for _ in range(after["cache_hits"] - before["cache_hits"]):
            self._metrics.on_llm_cache_hit()
        for _ in range(after["rejected"] - before["rejected"]):
            self._metrics.on_llm_rejected()


class Instrument:
    """Feeds ``metrics`` (and ``degradation``) from a running crawler, as the engine will."""

    def __init__(
        self,
        crawler: AdaptiveCrawler,
        metrics: CrawlMetrics | None = None,
        degradation: DegradationController | None = None,
    ) -> None:
        wired = getattr(crawler, "metrics", None)
        self.wired = isinstance(wired, CrawlMetrics)
        self.crawler = crawler
        self.metrics = wired if isinstance(wired, CrawlMetrics) else metrics or CrawlMetrics()
        self.degradation = degradation

    def install(self) -> Instrument:
        if self.wired:
            return self
        self._wrap_fetch()
        self._wrap_nack()
        self.crawler.on_error(self._on_error)
        if self.crawler.llm is not None and hasattr(self.crawler.llm, "stats"):
            self.crawler.llm = _MeteredLLM(self.crawler.llm, self.metrics)
        return self

    def finish(self, summary: Mapping[str, Any]) -> None:
        """The end-of-run hook: ``metrics.on_run_finished``."""
        if not self.wired:
            self.metrics.on_run_finished(summary, success=not summary.get("stopped"))

    def _wrap_fetch(self) -> None:
        fetcher = self.crawler.fetcher
        original = fetcher.fetch
        metrics, degradation = self.metrics, self.degradation

        async def fetch(url: str, **kwargs: Any) -> Response:
            host = host_key(url)
            started = time.monotonic()
            try:
                resp = await original(url, **kwargs)
            except FetchError as exc:
                category = classify(exc, url=url, host=host, attempt=1).category.value
                metrics.on_response(host, exc.status, category, time.monotonic() - started, 0)
                if degradation is not None:
                    degradation.record_request(host, category)
                raise
            metrics.on_response(host, resp.status, None, time.monotonic() - started, len(resp.body))
            if degradation is not None:
                degradation.record_request(host, None)
            return resp

        fetcher.fetch = fetch  # type: ignore[method-assign]

    def _wrap_nack(self) -> None:
        storage = self.crawler.storage
        original = storage.nack
        metrics = self.metrics

        async def nack(lease: Lease, not_before: float, attempts: int, tries: int) -> None:
            if tries > lease.tries:  # a deferral passes the lease's own counts
                metrics.on_retry(lease.host)
            await original(lease, not_before, attempts, tries)

        storage.nack = nack  # type: ignore[method-assign]

    def _on_error(self, record: FailureRecord, analysis: Analysis | None) -> None:
        if record.retry_after_s is not None and record.category in (
            Category.RATE_LIMIT,
            Category.SERVER,
        ):
            self.metrics.on_retry_after_pause(record.host, record.retry_after_s)

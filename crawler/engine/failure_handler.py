"""The failure path: what happens after a request failed (docs/failure-path.md).

What happened arrives as one of our errors; :func:`~crawler.decide.classify.classify` turns it into
a record; the rules (or, where they are unsure, the LLM manager) analyse it; the retry policy
decides; the URL goes back to the frontier with a durable not-before time or into the DLQ; the
host's admission and the analytics hear about it. ``AdaptiveCrawler._handle_error`` keeps its
documented signature and result dict and delegates here. Nothing here raises into a worker.

Only a URL's own evidence sends it to the DLQ: a non-retryable failure, its retries used up, a
Retry-After beyond ``max_retry_after_s``, or its host given up. Guards (budget, breaker,
throttle) only move *when* it is tried next — they live in :mod:`crawler.engine.hosts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crawler.config import Config
from crawler.decide.classify import classify
from crawler.decide.retry import RetryPolicy
from crawler.decide.rules import Analyser, RuleAnalyser
from crawler.engine.hosts import Admission, HostRegistry, HostState
from crawler.errors import FetchError, HostGivenUp, StorageError
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import (
    Action,
    Analysis,
    Category,
    CrawlSummary,
    DLQEntry,
    ErrorResult,
    FailureRecord,
    Severity,
    iso,
)
from crawler.redact import redact_text, redact_url
from crawler.storage import Lease, Storage
from crawler.web.urls import host_key

__all__ = ["FailureHandler", "FailureOutcome", "redact_headers"]

log = logging.getLogger("crawler")

SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
ANALYSIS_FAILED: dict[str, Any] = {"error": "error analysis failed"}


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """What the failure path decided for one failure."""

    error: str
    context: dict[str, Any]
    retry_count: int
    record: FailureRecord | None  # None: handling itself failed
    analysis: Analysis | None
    retry: bool
    not_before: float = 0.0
    reason: str = ""
    host_given_up: bool = False  # this failure gave the host up: settle its pending URLs

    @property
    def dead_lettered(self) -> bool:
        return not self.retry

    def as_result(self) -> ErrorResult:
        """The ``_handle_error`` result dict (docs/failure-path.md)."""
        return {
            "error": self.error,
            "context": self.context,
            "analysis": self.analysis.to_dict() if self.analysis else dict(ANALYSIS_FAILED),
            "should_retry": self.retry,
            "retry_count": self.retry_count,
        }


class FailureHandler:
    """Classify → analyse → decide → settle → feed the host and the analytics."""

    def __init__(
        self,
        config: Config,
        *,
        rules: RuleAnalyser,
        llm: Analyser | None,
        policy: RetryPolicy,
        hosts: HostRegistry,
        storage: Storage,
        analytics: ErrorAnalytics,
        counters: CrawlSummary,
        commit_lock: asyncio.Lock,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._rules = rules
        self._llm = llm
        self._policy = policy
        self._hosts = hosts
        self._storage = storage
        self._analytics = analytics
        self._counters = counters
        self._commit_lock = commit_lock
        self._clock = clock
        self._history: dict[str, list[dict[str, Any]]] = {}

    def forget(self, url: str) -> None:
        """The URL was stored: its failure history is no longer needed."""
        self._history.pop(url, None)

    def context(self, lease: Lease, exc: BaseException, *, count_attempt: bool) -> dict[str, Any]:
        """The error context of a failed (or, ``count_attempt=False``, unsent) request."""
        spent = 1 if count_attempt else 0
        # Written for people (logs, DLQ context, the LLM): URL secrets redacted (security.md).
        return {
            "url": redact_url(lease.url),
            "target_data": dict(self._config.crawl.target_data),
            "retry_count": lease.tries + spent,
            "error": redact_text(str(exc)),
            "timestamp": iso(self._clock()),
            "request_headers": redact_headers({"User-Agent": self._config.crawl.user_agent}),
            "host": lease.host,
            "depth": lease.depth,
            "attempts": lease.attempts + spent,
        }

    async def handle(
        self,
        error: str | Exception,
        context: dict[str, Any],
        *,
        lease: Lease | None = None,
        admission: Admission | None = None,
        latency_s: float = 0.0,
    ) -> FailureOutcome:
        """Log, classify, analyse, decide, settle the lease (when given), feed the host through
        its admission (when given) and the analytics. Never raises."""
        retry_count = int(context.get("retry_count", 0))
        try:
            return await self._handle(error, context, retry_count, lease, admission, latency_s)
        except Exception as exc:
            if isinstance(exc, StorageError):
                # The store failed, or was aborted under us by a commit that could not write the
                # results file: the run is ending with that error, which says why. Not a bug, so
                # no traceback (tests/test_hostile_cli.py, the full disk).
                log.error("Error handling failed for %s: %s", context.get("url"), exc)
            else:
                log.exception("Error handling failed for %s", context.get("url"))
            if lease is not None:
                with contextlib.suppress(Exception):
                    await self._park_unanalysed(lease, error, context)
            return FailureOutcome(str(error), context, retry_count, None, None, retry=False)

    async def _handle(
        self,
        error: str | Exception,
        context: dict[str, Any],
        retry_count: int,
        lease: Lease | None,
        admission: Admission | None,
        latency_s: float,
    ) -> FailureOutcome:
        url = str(context.get("url", ""))
        log.error("Error crawling %s: %s", url, error)
        log.debug("Error context: %s", json.dumps(context, default=str, ensure_ascii=False))
        now = self._clock()
        exc = error if isinstance(error, Exception) else FetchError(str(error), url=url)
        record = classify(
            exc,
            url=url,
            host=str(context.get("host") or (host_key(url) if url else "")),
            attempt=max(1, retry_count),
            correlation_id=uuid.uuid4().hex[:12],
            now=datetime.fromtimestamp(now, UTC),
            retry_http_codes=self._config.retry.retry_http_codes,
        )
        context.update(
            category=record.category.value, status_code=record.status_code, host=record.host
        )
        analysis = await self._analyse(record, exc, context)
        log.info(
            "Error analysis for %s: %s (%s, severity %s, action %s, source %s)",
            url,
            analysis.error_type,
            analysis.description,
            analysis.severity.value,
            analysis.suggested_action.value,
            analysis.source,
        )
        state = admission.state if admission is not None else None
        if admission is not None:
            admission.failure(now, record, latency_s)
            if analysis.suggested_action is Action.SLOW_DOWN_HOST and not record.certain:
                # The rules slow a host for what they classify (429/503); this is the analysis
                # asking for it on a failure they could not settle.
                admission.state.throttle.on_breaker_open()
        self._analytics.record(record, analysis)
        retry, delay, reason = self._decide(record, analysis, retry_count)
        given_up = False
        if state is not None and self._beyond_max_retry_after(record):
            # The host asked for a pause longer than the crawl waits: its other URLs could not
            # be tried either, so the host is parked for this run and the crawl can end.
            self._hosts.park(state, record)
        if state is not None and state.given_up:
            retry, reason, given_up = False, f"host {state.host} given up", True
        if retry:
            log.info(
                "Retry decision for %s: retry %d of %d in %.2fs (%s)",
                url,
                retry_count,
                self._config.retry.max_retries,
                delay,
                reason,
            )
        else:
            log.warning("Not retrying %s: %s", url, reason)
            context["reason"] = reason  # why it stops here: kept in the DLQ entry's context
        outcome = FailureOutcome(
            str(error), context, retry_count, record, analysis, retry, now + delay, reason, given_up
        )
        if lease is not None:
            await self._settle(lease, outcome)
        return outcome

    def _beyond_max_retry_after(self, record: FailureRecord) -> bool:
        retry = self._config.retry
        wait = record.retry_after_s
        return retry.respect_retry_after and wait is not None and wait > retry.max_retry_after_s

    async def _analyse(
        self, record: FailureRecord, exc: Exception, context: dict[str, Any]
    ) -> Analysis:
        """Rules where they are certain; the LLM manager only where they are not."""
        if record.certain or self._llm is None or not self._hosts.events.llm_allowed():
            return self._rules.analyse(record)
        llm_context = dict(context)
        llm_context["failure"] = record.to_dict()
        llm_context["response_excerpt"] = record.response_excerpt
        return await self._llm.analyze_error(self._config.llm.model, str(exc), llm_context)

    def _decide(
        self, record: FailureRecord, analysis: Analysis, tries: int
    ) -> tuple[bool, float, str]:
        """The one retry decision: the policy, told what the analysis wants. The LLM can only
        ask for less (its "give up") or for a longer wait."""
        should = analysis.should_retry
        if analysis.suggested_action in (Action.GIVE_UP_URL, Action.GIVE_UP_HOST):
            should = False
        decision = self._policy.decide(record, tries, should_retry=should)
        if not decision.retry:
            return False, 0.0, decision.reason
        delay = decision.delay_s
        if analysis.suggested_action is Action.WAIT and analysis.wait_s:
            delay = max(delay, min(analysis.wait_s, self._config.retry.max_retry_after_s))
        return True, delay, decision.reason

    # -- settling ------------------------------------------------------------------------------
    async def _settle(self, lease: Lease, outcome: FailureOutcome) -> None:
        record, context = outcome.record, outcome.context
        assert record is not None
        assert outcome.analysis is not None
        attempts = int(context.get("attempts", lease.attempts))
        tries = int(context.get("retry_count", lease.tries))
        self._history.setdefault(lease.url, []).append(
            {
                "at": record.timestamp,
                "attempt": attempts,
                "category": record.category.value,
                "status_code": record.status_code,
                "message": redact_text(record.message),
            }
        )
        if outcome.retry:
            self._counters.retries += 1
            self._analytics.count("retries")
            self._hosts.events.retry_scheduled(lease.host)
            await self._storage.nack(lease, outcome.not_before, attempts, tries)
            return
        await self._dead_letter(lease, record, outcome.analysis, context, attempts)

    async def _dead_letter(
        self,
        lease: Lease,
        record: FailureRecord,
        analysis: Analysis,
        context: dict[str, Any],
        attempts: int,
    ) -> None:
        at = record.timestamp or iso(self._clock())
        error = record.to_dict()
        error["url"] = redact_url(record.url)
        error["message"] = redact_text(record.message)
        error["response_excerpt"] = redact_text(record.response_excerpt)
        entry = DLQEntry(
            id=0,
            url=lease.url,
            attempts=attempts,
            error=error,
            analysis=analysis.to_dict(),
            first_failed_at=at,
            last_failed_at=at,
            depth=lease.depth,
            host=lease.host,
            context={
                **{k: v for k, v in context.items() if k != "failure"},
                "analysis_source": analysis.source,
            },
            history=self._history.pop(lease.url, []),
        )
        async with self._commit_lock:
            await self._storage.dead_letter(lease, attempts, entry)
        self._counters.pages_failed += 1
        log.warning(
            "Sent %s to the dead-letter queue: %s (%s)",
            lease.url,
            record.category.value,
            record.message,
        )

    async def _park_unanalysed(
        self, lease: Lease, error: str | Exception, context: dict[str, Any]
    ) -> None:
        """Last resort when handling itself failed: the URL still ends in the DLQ, never lost."""
        record = FailureRecord(
            category=Category.UNKNOWN,
            severity=Severity.HIGH,
            message=f"error analysis failed: {error}",
            url=lease.url,
            host=lease.host,
            timestamp=iso(self._clock()),
        )
        analysis = self._rules.analyse(record)
        await self._dead_letter(lease, record, analysis, context, lease.attempts)

    async def settle_given_up(self, lease: Lease, state: HostState) -> FailureOutcome:
        """A URL of a given-up host: to the DLQ with the failure that gave the host up, without
        a request (its attempts stay as they were)."""
        given = state.given_up_record
        exc = HostGivenUp(f"host {state.host} given up", url=lease.url, record=given)
        context = self.context(lease, exc, count_attempt=False)
        record = classify(
            exc,
            url=lease.url,
            host=lease.host,
            attempt=max(1, lease.tries),
            now=datetime.fromtimestamp(self._clock(), UTC),
            retry_http_codes=self._config.retry.retry_http_codes,
        )
        analysis = self._rules.analyse(record)
        context.update(
            category=record.category.value, status_code=record.status_code, reason="host given up"
        )
        await self._dead_letter(lease, record, analysis, context, lease.attempts)
        return FailureOutcome(
            str(exc), context, lease.tries, record, analysis, retry=False, reason="host given up"
        )

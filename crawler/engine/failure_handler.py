"""The failure path of ``AdaptiveCrawler`` (SPEC §2): ``_handle_error`` and what it sets off.

What happened arrives as one of our errors; ``failures.classify`` turns it into a record; the rules
(or, where they are unsure, the LLM manager) analyse it; ``policy`` and the retry budget decide;
the URL goes back to the frontier with a durable not-before time or into the DLQ; the host's
breaker and throttle and the analytics hear about it. Nothing here raises into a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crawler.config import Config
from crawler.decide.classify import classify
from crawler.decide.retry import RetryBudget, RetryPolicy
from crawler.decide.rules import Analyser, RuleAnalyser
from crawler.engine.hosts import HostRegistry, HostState
from crawler.errors import BlockedPage, FetchError, HostGivenUp
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import (
    Action,
    Analysis,
    Category,
    DLQEntry,
    FailureRecord,
    Severity,
    iso,
)
from crawler.storage import Lease, Storage
from crawler.web.urls import host_key

if TYPE_CHECKING:
    from crawler.crawler import CrawlSummary
    from crawler.engine.scheduler import Scheduler

log = logging.getLogger("crawler")

SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def redact(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class FailurePath:
    """Mixed into ``AdaptiveCrawler``; reads the crawler's parts declared below."""

    config: Config
    rules: RuleAnalyser
    llm: Analyser | None
    hosts: HostRegistry
    policy: RetryPolicy
    budget: RetryBudget
    analytics: ErrorAnalytics
    _clock: Callable[[], float]
    _summary: CrawlSummary
    _history: dict[str, list[dict[str, Any]]]
    _commit_lock: asyncio.Lock
    _scheduler: Scheduler | None

    @property
    def storage(self) -> Storage:
        raise NotImplementedError

    async def _fail(
        self,
        exc: FetchError,
        lease: Lease,
        state: HostState,
        latency_s: float,
        *,
        count_attempt: bool = True,
    ) -> dict[str, Any]:
        context = self._context(lease, exc, count_attempt)
        return await self._handle_error(
            exc,
            context,
            lease=lease,
            state=state,
            latency_s=latency_s,
            count_attempt=count_attempt,
        )

    def _context(self, lease: Lease, exc: BaseException, count_attempt: bool) -> dict[str, Any]:
        tries = lease.tries + (1 if count_attempt else 0)
        return {
            "url": lease.url,
            "target_data": dict(self.config.crawl.target_data),
            "retry_count": tries,
            "error": str(exc),
            "timestamp": iso(self._clock()),
            "request_headers": redact({"User-Agent": self.config.crawl.user_agent}),
            "host": lease.host,
            "depth": lease.depth,
            "attempts": lease.attempts + (1 if count_attempt else 0),
        }

    async def _handle_error(
        self,
        error: str | Exception,
        context: dict[str, Any],
        *,
        lease: Lease | None = None,
        state: HostState | None = None,
        latency_s: float = 0.0,
        count_attempt: bool = True,
    ) -> dict[str, Any]:
        """Log, classify, analyse (rules; the LLM where they are unsure), decide, schedule the
        retry or park the URL in the DLQ, feed the breaker and the analytics (SPEC §2).

        Never raises: a failure inside handling is logged and answered with
        ``analysis = {"error": "error analysis failed"}`` and ``should_retry = False``.
        """
        retry_count = int(context.get("retry_count", 0))
        try:
            url = str(context.get("url", ""))
            log.error("Error crawling %s: %s", url, error)
            log.debug("Error context: %s", json.dumps(context, default=str, ensure_ascii=False))
            now = self._clock()
            exc = error if isinstance(error, Exception) else FetchError(str(error), url=url)
            host = str(context.get("host") or (host_key(url) if url else ""))
            record = classify(
                exc,
                url=url,
                host=host,
                attempt=max(1, retry_count),
                correlation_id=uuid.uuid4().hex[:12],
                now=datetime.fromtimestamp(now, UTC),
                retry_http_codes=self.config.retry.retry_http_codes,
            )
            context.update(
                category=record.category.value,
                status_code=record.status_code,
                host=record.host,
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
            if state is not None and count_attempt:
                self.hosts.on_failure(state, now, record, latency_s)
                if analysis.suggested_action is Action.SLOW_DOWN_HOST and not record.certain:
                    # The rules already slowed the host for what they classify (429/503);
                    # this is the analysis asking for it on a failure they could not settle.
                    state.throttle.on_breaker_open()
            self.analytics.record(record, analysis)
            retry, delay, reason = self._decide(record, analysis, retry_count, now)
            if state is not None and state.given_up:
                retry, reason = False, f"host {record.host} given up by its circuit breaker"
            if retry:
                log.info(
                    "Retry decision for %s: retry %d of %d in %.2fs (%s)",
                    url,
                    retry_count,
                    self.config.retry.max_retries,
                    delay,
                    reason,
                )
            else:
                log.warning("Not retrying %s: %s", url, reason)
            if lease is not None:
                await self._settle(lease, record, analysis, context, retry, now + delay)
                if state is not None and state.given_up:
                    await self._give_up_host(state)
            return {
                "error": str(error),
                "context": context,
                "analysis": analysis.to_dict(),
                "should_retry": retry,
                "retry_count": retry_count,
            }
        except Exception:
            log.exception("Error handling failed for %s", context.get("url"))
            if lease is not None:
                with contextlib.suppress(Exception):
                    await self._park_unanalysed(lease, error, context)
            return {
                "error": str(error),
                "context": context,
                "analysis": {"error": "error analysis failed"},
                "should_retry": False,
                "retry_count": retry_count,
            }

    async def _analyse(
        self, record: FailureRecord, exc: Exception, context: dict[str, Any]
    ) -> Analysis:
        """Rules where they are certain; the LLM manager only where they are not."""
        if isinstance(exc, BlockedPage) and exc.confirmed_by == "llm":
            context["block_confirmed_by"] = "llm"  # the LLM already spoke about this page
            return self.rules.analyse(record)
        if record.certain or self.llm is None:
            return self.rules.analyse(record)
        llm_context = dict(context)
        llm_context["failure"] = record.to_dict()
        llm_context["response_excerpt"] = record.response_excerpt
        return await self.llm.analyze_error(self.config.llm.model, str(exc), llm_context)

    def _decide(
        self, record: FailureRecord, analysis: Analysis, tries: int, now: float
    ) -> tuple[bool, float, str]:
        """The one retry decision: policy, then the budget. The LLM can only ask for less."""
        should = analysis.should_retry
        if analysis.suggested_action in (Action.GIVE_UP_URL, Action.GIVE_UP_HOST):
            should = False
        decision = self.policy.decide(record, tries, should_retry=should)
        if not decision.retry:
            return False, 0.0, decision.reason
        delay = decision.delay_s
        if analysis.suggested_action is Action.WAIT and analysis.wait_s:
            delay = max(delay, min(analysis.wait_s, self.config.retry.max_retry_after_s))
        if not self.budget.try_spend(record.host, now):
            log.warning("Retry budget spent for %s: not retrying %s", record.host, record.url)
            return False, 0.0, "retry budget spent"
        return True, delay, decision.reason

    async def _settle(
        self,
        lease: Lease,
        record: FailureRecord,
        analysis: Analysis,
        context: dict[str, Any],
        retry: bool,
        not_before: float,
    ) -> None:
        attempts = int(context.get("attempts", lease.attempts))
        tries = int(context.get("retry_count", lease.tries))
        self._history.setdefault(lease.url, []).append(
            {
                "at": record.timestamp,
                "attempt": attempts,
                "category": record.category.value,
                "status_code": record.status_code,
                "message": record.message,
            }
        )
        if retry:
            self._summary.retries += 1
            self.analytics.count("retries")
            await self.storage.nack(lease, not_before, attempts, tries)
            return
        await self._dead_letter(lease, record, analysis, context, attempts)

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
        error["status_code"] = record.status_code
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
            await self.storage.dead_letter(lease, attempts, entry)
        self._summary.pages_failed += 1
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
        analysis = self.rules.analyse(record)
        await self._dead_letter(lease, record, analysis, context, lease.attempts)

    async def _settle_given_up(self, lease: Lease, state: HostState) -> dict[str, Any]:
        last = state.gave_up or state.last_failure
        exc = HostGivenUp(
            f"host {state.host} given up: {last.message if last else 'too many failures'}",
            url=lease.url,
            status=last.status_code if last else None,
        )
        context = self._context(lease, exc, count_attempt=False)
        record = classify(exc, url=lease.url, host=lease.host, attempt=max(1, lease.tries))
        if last is not None:  # the DLQ says why the host was given up: its last failure's kind
            record = replace(
                record,
                category=last.category,
                severity=last.severity,
                status_code=last.status_code,
                retry_after_s=last.retry_after_s,
                timestamp=iso(self._clock()),
            )
        analysis = self.rules.analyse(record)
        context.update(category=record.category.value, status_code=record.status_code)
        await self._dead_letter(lease, record, analysis, context, lease.attempts)
        return {
            "error": str(exc),
            "context": context,
            "analysis": analysis.to_dict(),
            "should_retry": False,
            "retry_count": lease.tries,
        }

    async def _give_up_host(self, state: HostState) -> None:
        leases = await self.storage.give_up_host(state.host)
        held = self._scheduler.take_host(state.host) if self._scheduler else []
        for lease in [*leases, *held]:
            await self._settle_given_up(lease, state)

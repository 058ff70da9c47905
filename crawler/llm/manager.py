"""The LLM manager: advice on the failures the rules cannot settle; cheap, safe, never in the way.

One analysis goes ``cache → budget → breaker → call → validate → clamp``; whatever fails on the
way, the rule-based analysis stands and the crawl goes on (:meth:`LLMManager.analyze_error`
never raises). The LLM only advises, and only towards doing less or waiting longer
(:func:`clamp`); the crawler applies its hard limits — max retries, the retry budget, robots.txt,
the per-host breakers — after the analysis, whatever it says.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from types import TracebackType
from typing import Any, Protocol, TypeVar

from crawler.config import BreakerConfig, LLMConfig
from crawler.decide.blocks import Band, PageKind, PageVerdict, settle
from crawler.decide.breaker import CircuitBreaker
from crawler.decide.rules import RuleAnalyser
from crawler.decide.signature import error_signature
from crawler.errors import LLMError
from crawler.llm.cache import (
    MemoryVerdictCache,
    SingleFlight,
    VerdictCache,
    page_signature,
)
from crawler.llm.client import LLMClient, LLMUnavailable, resolve_api_key
from crawler.llm.prompts import Prompt, error_prompt, page_headers, page_prompt
from crawler.llm.schema import (
    ANALYSIS_SCHEMA,
    PAGE_SCHEMA,
    clamp,
    validate_analysis,
    validate_page_verdict,
)
from crawler.records import Analysis, FailureRecord

__all__ = ["LLMEvents", "LLMManager", "RecordAnalyser", "clamp"]

_NEVER = 2**31  # a threshold that is never reached

log = logging.getLogger(__name__)

V = TypeVar("V")


class LLMEvents(Protocol):
    """Who hears about LLM traffic (the crawler's metrics and degradation controller)."""

    def llm_call(self, latency_s: float, ok: bool) -> None: ...
    def llm_cache_hit(self) -> None: ...
    def llm_rejected(self) -> None: ...


class _NoEvents:
    def llm_call(self, latency_s: float, ok: bool) -> None:
        pass

    def llm_cache_hit(self) -> None:
        pass

    def llm_rejected(self) -> None:
        pass


class RecordAnalyser(Protocol):
    """The fallback: the rule-based analysis of a failure record."""

    def analyse(self, record: FailureRecord) -> Analysis: ...


def _analysis_to_cache(analysis: Analysis) -> dict[str, Any]:
    return {"kind": "analysis", **analysis.to_dict(), "wait_s": analysis.wait_s}


def _page_to_cache(kind: PageKind) -> dict[str, Any]:
    return {"kind": "page", "verdict": kind.value}


class LLMManager:
    """Serves the :class:`~crawler.decide.rules.Analyser` interface with an LLM behind the rules.

    Counters (ints): ``calls`` (requests sent), ``cache_hits``, ``rejected`` (answers that did
    not validate), ``failures`` (transport errors, timeouts, HTTP errors), ``skipped_budget``,
    ``skipped_breaker``; ``latencies_s`` holds each answered request's duration.
    """

    def __init__(
        self,
        cfg: LLMConfig,
        *,
        fallback: RecordAnalyser,
        cache: VerdictCache | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        max_wait_s: float | None = None,
        retry_backoff_s: float = 0.25,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        events: LLMEvents | None = None,
    ) -> None:
        self.cfg = cfg
        self._events: LLMEvents = events or _NoEvents()
        self.model = cfg.model
        self.max_wait_s = max_wait_s
        self._fallback = fallback
        self._cache: VerdictCache = cache if cache is not None else MemoryVerdictCache()
        self._clock = clock
        api_key, self.disabled_reason = resolve_api_key(cfg, os.environ if env is None else env)
        self.enabled = not self.disabled_reason
        self.cache_hits = 0
        self.rejected = 0
        self.failures = 0
        self.skipped_budget = 0
        self.skipped_breaker = 0
        breaker_cfg = BreakerConfig(
            failure_threshold=cfg.breaker_failure_threshold,
            min_calls=_NEVER,  # consecutive failures only: LLM traffic is too thin for a rate
            reset_timeout_s=cfg.breaker_reset_s,
            max_reset_timeout_s=cfg.breaker_reset_s,
            max_open_s=cfg.breaker_reset_s,
            half_open_max_calls=1,
            success_threshold=1,
            max_open_cycles=_NEVER,  # keep probing; never give the LLM up for the run
            jitter_ratio=0.0,
        )
        self.breaker = CircuitBreaker(breaker_cfg, rng=rng)
        self._client = LLMClient(
            base_url=cfg.base_url,
            api_key=api_key,
            model=cfg.model,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
            max_requests=cfg.max_calls_per_run,
            structured_output=cfg.structured_output,
            breaker=self.breaker,
            clock=clock,
            retry_backoff_s=retry_backoff_s,
            sleep=sleep,
        )
        self._flight: SingleFlight[Any] = SingleFlight()
        self._rejected_sigs: set[str] = set()  # answers that did not validate: not asked again
        self._stack: AsyncExitStack | None = None

    # -- lifetime ----------------------------------------------------------------------------

    async def __aenter__(self) -> LLMManager:
        if not self.enabled:
            log.warning("LLM disabled: running on rules alone (%s)", self.disabled_reason)
            return self
        stack = AsyncExitStack()
        await stack.enter_async_context(self._client)
        self._stack = stack
        log.info("LLM analysis on: model %s at %s", self.model, self.cfg.base_url)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    # -- counters ----------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Requests sent to the endpoint (retries included; cached verdicts are not calls)."""
        return self._client.requests

    @property
    def latencies_s(self) -> list[float]:
        return list(self._client.latencies_s)

    @property
    def median_latency_s(self) -> float | None:
        latencies = self._client.latencies_s
        return statistics.median(latencies) if latencies else None

    def stats(self) -> dict[str, Any]:
        """The counters as plain data, for the summary and the analytics."""
        return {
            "enabled": self.enabled,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "rejected": self.rejected,
            "failures": self.failures,
            "skipped_budget": self.skipped_budget,
            "skipped_breaker": self.skipped_breaker,
            "median_latency_s": self.median_latency_s,
        }

    # -- the Analyser interface --------------------------------------------------------------

    async def analyze_error(
        self, model: str, error_message: str, context: Mapping[str, Any] | None = None
    ) -> Analysis:
        """The analysis of one failure (``context["failure"]``: the record or its
        ``to_dict()``). The LLM's answer when there is a valid one (``source`` "llm", or
        "llm-cache" for a verdict already paid for), clamped by :func:`clamp`; otherwise the
        rule-based analysis. Never raises."""
        context = context or {}
        record = RuleAnalyser.record_from_context(error_message, context)
        rules = self._fallback.analyse(record)
        if not self.enabled:
            return rules
        try:
            found = await self._ask_analysis(model or self.model, error_message, record, context)
        except Exception:  # the failure path must never break on its adviser
            log.exception("LLM analysis of %s failed; the rules decide", record.url)
            return rules
        if found is None:
            return rules
        advice, source = found
        return replace(clamp(advice, record, max_wait_s=self.max_wait_s), source=source)

    async def judge_page(
        self, url: str, verdict: PageVerdict, headers: Mapping[str, str] | None = None
    ) -> PageVerdict:
        """``verdict`` settled by the LLM when the rules were unsure of it
        (:func:`crawler.decide.blocks.settle`): a confident verdict comes back as it is without
        a call, and so does any verdict when the LLM is disabled, over budget, failing or
        answers something that does not validate. The model sees the page's title, visible
        text, features, status and a few headers (:func:`crawler.llm.prompts.page_prompt`);
        only its one-word verdict is used. Verdicts are cached by :func:`page_signature`.
        Never raises."""
        if not self.enabled or verdict.band is not Band.UNCERTAIN:
            return verdict
        limit = self.cfg.max_excerpt_chars
        shown_headers = page_headers(headers)
        features = verdict.features
        sig = "page-" + page_signature(
            (
                features.title,
                features.text_head[:limit],
                features.noscript_text[:limit],
                repr(sorted(features.summary().items())),
                str(verdict.status),
                shown_headers,
            )
        )
        try:
            found = await self._verdict(
                sig,
                lambda: page_prompt(url, verdict, shown_headers, max_chars=limit),
                "page_verdict",
                PAGE_SCHEMA,
                validate_page_verdict,
                _page_to_cache,
                self.model,
            )
        except Exception:
            log.exception("LLM page verdict on %s failed; the rules decide", url)
            return verdict
        if found is None:
            return verdict
        kind, source = found
        if kind is not verdict.kind:
            log.info("LLM moves %s from %s to %s", url, verdict.kind.value, kind.value)
        return settle(verdict, kind, source)

    # -- internals ---------------------------------------------------------------------------

    async def _ask_analysis(
        self,
        model: str,
        error_message: str,
        record: FailureRecord,
        context: Mapping[str, Any],
    ) -> tuple[Analysis, str] | None:
        message = record.message or error_message
        sig = error_signature(record.host, record.category.value, record.status_code, message)
        return await self._verdict(
            sig,
            lambda: error_prompt(
                error_message, record, context, max_chars=self.cfg.max_excerpt_chars
            ),
            "error_analysis",
            ANALYSIS_SCHEMA,
            validate_analysis,
            _analysis_to_cache,
            model,
        )

    async def _verdict(
        self,
        sig: str,
        prompt: Callable[[], Prompt],
        schema_name: str,
        schema: Mapping[str, Any],
        parse: Callable[[Any], V],
        to_cache: Callable[[V], dict[str, Any]],
        model: str,
    ) -> tuple[V, str] | None:
        """``(verdict, source)`` from the cache or one call shared by concurrent askers, or None
        when the rules must stand."""
        cached = await self._cache.get(sig)
        if cached is not None:
            try:
                value = parse(cached)
            except LLMError:
                log.warning("ignoring an unreadable cached LLM verdict %s", sig[:12])
            else:
                self.cache_hits += 1
                self._events.llm_cache_hit()
                return value, "llm-cache"
        if sig in self._rejected_sigs:
            return None

        async def ask() -> V | None:
            return await self._call(sig, prompt(), schema_name, schema, parse, to_cache, model)

        try:
            value_or_none, leader = await self._flight.run(sig, ask)
        except LLMError:  # the leader was cancelled: this asker lets the rules decide
            return None
        if value_or_none is None:
            return None
        if leader:
            return value_or_none, "llm"
        self.cache_hits += 1  # shared an in-flight call: paid for once
        self._events.llm_cache_hit()
        return value_or_none, "llm-cache"

    async def _call(
        self,
        sig: str,
        prompt: Prompt,
        schema_name: str,
        schema: Mapping[str, Any],
        parse: Callable[[Any], V],
        to_cache: Callable[[V], dict[str, Any]],
        model: str,
    ) -> V | None:
        client = self._client
        if client.budget_left <= 0:
            self._skip_for_budget()
            return None
        sent_before = client.requests
        started = time.monotonic()
        try:
            text = await client.complete(prompt, schema_name, schema, model=model)
        except LLMError as exc:
            self._account(client.requests - sent_before, started, answered=False)
            self._call_failed(exc, client.requests > sent_before)
            return None
        self._account(client.requests - sent_before, started, answered=True)
        try:
            value = parse(text)
        except LLMError as exc:
            self.rejected += 1
            self._events.llm_rejected()
            self._rejected_sigs.add(sig)
            log.warning("LLM answer rejected (%s); the rules decide", exc)
            return None
        try:
            await self._cache.put(sig, to_cache(value))
        except Exception:  # a verdict we could not store is still a valid verdict
            log.warning("could not cache the LLM verdict %s", sig[:12], exc_info=True)
        return value

    def _account(self, sent: int, started: float, *, answered: bool) -> None:
        """One event per request the endpoint received: the last one answered or not."""
        if sent <= 0:
            return
        each = (time.monotonic() - started) / sent
        for i in range(sent):
            self._events.llm_call(each, answered and i == sent - 1)

    def _call_failed(self, exc: LLMError, sent: bool) -> None:
        if isinstance(exc, LLMUnavailable) and not sent:
            if exc.reason == "budget":
                self._skip_for_budget()
            else:
                self.skipped_breaker += 1
                log.debug("LLM breaker open: not asked; the rules decide")
            return
        self.failures += 1  # attempts were sent and failed (perhaps then a retry was refused)
        log.warning("LLM call failed (%s); the rules decide", exc)

    def _skip_for_budget(self) -> None:
        if not self.skipped_budget:  # once: every later failure would say the same
            log.warning(
                "LLM call budget spent (%d calls): the rules decide for the rest of the run",
                self.calls,
            )
        self.skipped_budget += 1

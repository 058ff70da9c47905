"""The engine's parts put together for one ``AdaptiveCrawler`` (its composition root keeps the
lifetimes; this module only wires), the status snapshot read from them, and the run summary
written when a run ends."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from crawler.config import Config
from crawler.decide.retry import RetryPolicy
from crawler.decide.rules import RuleAnalyser
from crawler.engine.failure_handler import FailureHandler
from crawler.engine.hosts import HostRegistry
from crawler.engine.pipeline import Pipeline
from crawler.engine.robots_gate import RobotsGate
from crawler.errors import ConfigError
from crawler.observe.alerts import check_run
from crawler.observe.analytics import ErrorAnalytics
from crawler.observe.events import CrawlEvents
from crawler.observe.metrics import CrawlMetrics, write_textfile
from crawler.observe.snapshot import DLQ_TAIL, FrontierView, HostView, LLMView, StatusSnapshot
from crawler.records import CrawlSummary
from crawler.storage import Storage
from crawler.storage.output import JsonlSink, write_summary
from crawler.web.fetch import Fetcher
from crawler.web.urls import Scope, normalize

if TYPE_CHECKING:  # the LLM layer (and openai) loads only when a crawl uses it
    from crawler.llm.manager import LLMManager

__all__ = [
    "Engine",
    "compose",
    "finish_summary",
    "judges_pages",
    "make_scope",
    "remember_seeds",
    "seed_keys",
    "status_snapshot",
]


@dataclasses.dataclass(slots=True)
class Engine:
    """The parts that live between ``AdaptiveCrawler.__aenter__`` and ``__aexit__``."""

    storage: Storage
    sink: JsonlSink
    fetcher: Fetcher
    llm: LLMManager | None
    failures: FailureHandler
    pipeline: Pipeline


def judges_pages(cfg: Config) -> bool:
    """Whether the LLM settles uncertain page verdicts ([llm] judge_pages, docs/blocks.md)."""
    if cfg.llm.judge_pages == "auto":
        return cfg.llm.provider != "local"
    return cfg.llm.judge_pages == "on"


def compose(
    cfg: Config,
    *,
    hosts: HostRegistry,
    storage: Storage,
    sink: JsonlSink,
    fetcher: Fetcher,
    llm: LLMManager | None,
    analytics: ErrorAnalytics,
    counters: CrawlSummary,
    commit_lock: asyncio.Lock,
    commit: Callable[[], Awaitable[None]],
    clock: Callable[[], float],
    rng: random.Random,
    llm_allowed: Callable[[], bool],
) -> Engine:
    """One retry policy, one failure handler, one robots.txt gate and one pipeline over the
    crawler's host registry and store."""
    policy = RetryPolicy(cfg.retry, rng=rng)
    failures = FailureHandler(
        cfg,
        rules=RuleAnalyser(),
        llm=llm,
        policy=policy,
        hosts=hosts,
        storage=storage,
        analytics=analytics,
        counters=counters,
        commit_lock=commit_lock,
        clock=clock,
    )
    robots = RobotsGate(
        cfg, hosts, policy, analytics, counters, fetcher=lambda: fetcher, clock=clock
    )
    pipeline = Pipeline(
        cfg,
        hosts=hosts,
        robots=robots,
        failures=failures,
        storage=storage,
        sink=sink,
        fetcher=fetcher,
        analytics=analytics,
        counters=counters,
        commit_lock=commit_lock,
        commit=commit,
        clock=clock,
        rng=rng,
        judge=llm if judges_pages(cfg) else None,
        llm_allowed=llm_allowed,
    )
    return Engine(storage, sink, fetcher, llm, failures, pipeline)


async def finish_summary(
    cfg: Config,
    *,
    storage: Storage,
    counters: CrawlSummary,
    hosts: HostRegistry,
    llm: LLMManager | None,
    metrics: CrawlMetrics,
    started: float,
    now: float,
    stopped: bool,
    in_series: bool,
) -> CrawlSummary:
    """The invocation's summary (totals of the state dir after it), checked against the earlier
    runs when ``in_series`` (docs/operations.md), counted in the metrics and written to
    ``[crawl] summary_path``."""
    counts = await storage.counts()
    s = dataclasses.replace(counters)
    # Stored pages, revisits still pending included (each has content in the results file).
    s.pages_ok = max(counts.done, await storage.page_count())
    s.dlq_items = await storage.dlq_count()
    s.pending = counts.pending + counts.leased
    s.breakers = hosts.breaker_states()
    s.stopped = stopped
    s.duration_s = round(now - started, 3)
    if llm is not None:
        s.llm_calls, s.llm_cache_hits, s.llm_rejected = llm.calls, llm.cache_hits, llm.rejected
    if cfg.alerts.enabled and in_series:
        alerts = await check_run(storage, s.to_dict(), cfg.alerts, now=now)
        s.alerts = [a.to_dict() for a in alerts]
    metrics.on_run_finished(s.to_dict(), success=not s.stopped, alerts=len(s.alerts))
    if cfg.metrics.textfile:
        write_textfile(cfg.metrics.textfile, metrics)
    write_summary(cfg.crawl.summary_path, s.to_dict())
    return s


async def status_snapshot(
    storage: Storage,
    *,
    hosts: HostRegistry,
    counters: CrawlSummary,
    events: CrawlEvents,
    analytics: ErrorAnalytics,
    llm: LLMManager | None,
    status: str,
    in_flight: int,
    now: float,
) -> StatusSnapshot:
    """What ``AdaptiveCrawler.status_snapshot`` returns (docs/operations.md)."""
    counts = await storage.counts()
    traffic = events.metrics.traffic()
    views = [
        HostView(
            s.host,
            {**s.breaker.snapshot(now), "given_up": s.given_up, "failures": s.failures},
            s.throttle.snapshot(now),
            requests=traffic.get(s.host, 0),
        )
        for s in hosts
    ]
    return StatusSnapshot(
        status=status,
        pages_ok=counts.done,
        pages_stored=counters.pages_stored,
        pages_failed=counters.pages_failed,
        requests=counters.requests,
        retries=counters.retries,
        in_flight=in_flight,
        dlq_items=await storage.dlq_count(),
        frontier=FrontierView(counts.pending, counts.leased, counts.done, counts.dead),
        hosts=views,
        errors=analytics.snapshot(),
        dlq_tail=[e.public_dict() for e in await storage.dlq_list(limit=DLQ_TAIL)],
        llm=LLMView.from_stats(llm.stats() if llm is not None else None),
        degradation=events.degradation.status(),
    )


def seed_keys(seeds: Sequence[str]) -> list[str]:
    """The seeds as frontier keys; one that is not an absolute http(s) URL is a ConfigError."""
    keys: list[str] = []
    for seed in seeds:
        key = normalize(seed)
        if key is None:
            raise ConfigError("SEED_URL", seed, "an absolute http(s) URL")
        keys.append(key)
    return keys


async def remember_seeds(storage: Storage, keys: Sequence[str]) -> list[str]:
    """Every seed the state dir has been given, this call's added (the scope is theirs)."""
    known: list[str] = list(await storage.get_meta("seeds") or [])
    merged = list(dict.fromkeys([*known, *keys]))
    if merged != known:
        await storage.set_meta("seeds", merged)
    return merged


def make_scope(cfg: Config, seeds: Sequence[str]) -> Scope:
    c = cfg.crawl
    return Scope(seeds, c.allowed_domains, c.include, c.exclude)

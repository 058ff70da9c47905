"""``AdaptiveCrawler``: the public face. It owns the lifetimes of the session, the storage, the
LLM client, the status server and the workers, and composes the engine (docs/architecture.md).

One URL's way: ``storage.lease`` → the scheduler asks ``hosts.admit`` (robots.txt, Retry-After
pause, breaker, throttle, retry budget) → no: ``nack(not_before)``, not an attempt → yes:
``pipeline.process`` → fetch → ok: parse, judge, stage the line, ``ack``, add the links |
error: ``failure_handler`` → ``nack(not_before)`` (a durable retry) or ``dead_letter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from crawler.config import Config, load_config
from crawler.decide.retry import RetryPolicy
from crawler.decide.rules import RuleAnalyser
from crawler.engine.failure_handler import FailureHandler, FailureOutcome
from crawler.engine.hosts import Deferral, HostRegistry
from crawler.engine.pipeline import Pipeline
from crawler.engine.robots_gate import RobotsGate
from crawler.engine.scheduler import Scheduler
from crawler.errors import ConfigError
from crawler.observe.alerts import check_run
from crawler.observe.analytics import ErrorAnalytics
from crawler.observe.degradation import read_rss_bytes
from crawler.observe.events import CrawlEvents
from crawler.observe.metrics import CrawlMetrics, write_textfile
from crawler.observe.snapshot import DLQ_TAIL, FrontierView, HostView, LLMView, StatusSnapshot
from crawler.observe.status import StatusServer
from crawler.records import (
    Analysis,
    CrawlResult,
    CrawlSummary,
    ErrorResult,
    FailureRecord,
    PageRecord,
)
from crawler.storage import Storage, open_storage
from crawler.storage.lock import StateLock
from crawler.storage.output import JsonlSink, write_summary
from crawler.web.fetch import Fetcher, Transport
from crawler.web.parse import validate_selectors
from crawler.web.urls import Scope, normalize

if TYPE_CHECKING:  # the LLM layer (and openai, ~0.6 s to import) loads only when a crawl uses it
    from crawler.llm.manager import LLMManager

__all__ = ["AdaptiveCrawler"]

log = logging.getLogger("crawler")

HANDED_BACK_RECHECK_S = 0.01  # crawl(): how soon a URL handed back untouched is tried again


@dataclasses.dataclass(slots=True)
class _Engine:
    """The parts that live between ``__aenter__`` and ``__aexit__``."""

    storage: Storage
    sink: JsonlSink
    fetcher: Fetcher
    llm: LLMManager | None
    failures: FailureHandler
    pipeline: Pipeline


class AdaptiveCrawler:
    """An async context manager that owns its session, storage, LLM client and workers.

    >>> async with AdaptiveCrawler(load_config("config.toml")) as crawler:
    ...     summary = await crawler.run(["https://example.com/"])

    ``clock`` (epoch seconds) and ``rng`` are injectable for tests; ``transport`` replaces the
    aiohttp exchange (a fake site with a fake clock, no sockets).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.config = config or load_config()
        self._clock = clock
        self._rng = rng or random.Random()
        self._transport = transport
        self._analytics = ErrorAnalytics(clock=clock)
        self._counters = CrawlSummary()
        self._events = CrawlEvents(self.config, clock=clock)
        self._hosts = HostRegistry(self.config, rng=self._rng, events=self._events)
        self._commit_lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._engine: _Engine | None = None
        self._scheduler: Scheduler | None = None
        self._stopping = False
        self._requeue_run = False
        self.status_url = ""  # set when the status server runs

    # -- lifetime ----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        cfg = self.config
        stack = AsyncExitStack()
        try:
            stack.enter_context(StateLock(cfg.crawl.state_dir))
            storage = open_storage(
                cfg.storage.backend,
                Path(cfg.crawl.state_dir),
                cfg.storage.redis_url,
                lease_timeout_s=cfg.storage.lease_timeout_s,
                redis_unreachable_s=cfg.storage.redis_unreachable_s,
            )
            await storage.open()
            stack.push_async_callback(storage.close)
            out_path = str(cfg.crawl.out_path.resolve())
            sink = JsonlSink(cfg.crawl.out_path)
            await sink.open(await storage.out_offset(out_path))
            stack.push_async_callback(sink.close)
            fetcher = await stack.enter_async_context(
                Fetcher(
                    cfg.fetch,
                    user_agent=cfg.crawl.user_agent,
                    limit=cfg.crawl.concurrency,
                    limit_per_host=cfg.crawl.per_host_concurrency,
                    transport=self._transport,
                )
            )
            llm = await self._open_llm(stack, storage)
            self._engine = self._compose(storage, sink, fetcher, llm)
            if cfg.status.enabled:
                server = StatusServer.from_config(
                    cfg.status,
                    self.status_snapshot,
                    metrics=self._events.metrics,
                    analytics=self._analytics,
                    store=storage,
                )
                await stack.enter_async_context(server)
                self.status_url = server.url
                log.info("Status server listening on %s", server.url)
        except BaseException:
            self._engine = None
            await stack.aclose()
            raise
        self._stack = stack
        return self

    def _compose(
        self, storage: Storage, sink: JsonlSink, fetcher: Fetcher, llm: LLMManager | None
    ) -> _Engine:
        cfg, clock = self.config, self._clock
        policy = RetryPolicy(cfg.retry, rng=self._rng)
        failures = FailureHandler(
            cfg,
            rules=RuleAnalyser(),
            llm=llm,
            policy=policy,
            hosts=self._hosts,
            storage=storage,
            analytics=self._analytics,
            counters=self._counters,
            commit_lock=self._commit_lock,
            clock=clock,
        )
        robots = RobotsGate(
            cfg,
            self._hosts,
            policy,
            self._analytics,
            self._counters,
            fetcher=lambda: fetcher,
            clock=clock,
        )
        pipeline = Pipeline(
            cfg,
            hosts=self._hosts,
            robots=robots,
            failures=failures,
            storage=storage,
            sink=sink,
            fetcher=fetcher,
            analytics=self._analytics,
            counters=self._counters,
            commit_lock=self._commit_lock,
            commit=self._commit,
            clock=clock,
            rng=self._rng,
            judge=llm if _judges_pages(cfg) else None,
            llm_allowed=self._events.llm_allowed,
        )
        return _Engine(storage, sink, fetcher, llm, failures, pipeline)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            if self._engine is not None:
                await self._commit()
        finally:
            self._engine = None
            await stack.aclose()

    async def _open_llm(self, stack: AsyncExitStack, storage: Storage) -> LLMManager:
        from crawler.llm import open_llm_manager

        return await open_llm_manager(
            self.config.llm, stack, storage, fallback=RuleAnalyser(), events=self._events
        )

    @property
    def _parts(self) -> _Engine:
        if self._engine is None:
            raise RuntimeError("AdaptiveCrawler used outside its 'async with' block")
        return self._engine

    @property
    def storage(self) -> Storage:
        """The state store: the frontier and the DLQ (``dlq_list``, ``dlq_requeue``, ...)."""
        return self._parts.storage

    def on_error(self, callback: Callable[[FailureRecord, Analysis | None], object]) -> None:
        """Call ``callback(record, analysis)`` for every failure (sync or async; errors in it are
        logged, never raised into the crawl)."""
        self._analytics.on_error(callback)

    @property
    def metrics(self) -> CrawlMetrics:
        """The crawler's Prometheus registry (``metrics.registry``) and its event counters."""
        return self._events.metrics

    async def status_snapshot(self) -> StatusSnapshot:
        """The crawl at this moment, as plain typed data: health, frontier, hosts with their
        breakers and throttles, error analytics, the latest DLQ entries, the LLM, degraded mode.
        Cheap: counts come from memory and the DLQ tail is bounded."""
        now = self._clock()
        storage = self.storage
        counts = await storage.counts()
        traffic = self._events.metrics.traffic()
        hosts = [
            HostView(
                s.host,
                {**s.breaker.snapshot(now), "given_up": s.given_up, "failures": s.failures},
                s.throttle.snapshot(now),
                requests=traffic.get(s.host, 0),
            )
            for s in self._hosts
        ]
        llm = self._parts.llm
        c = self._counters
        running = self._scheduler is not None
        return StatusSnapshot(
            status="stopping" if self._stopping else ("running" if running else "idle"),
            pages_ok=counts.done,
            pages_stored=c.pages_stored,
            pages_failed=c.pages_failed,
            requests=c.requests,
            retries=c.retries,
            in_flight=self._scheduler.in_flight if self._scheduler else 0,
            dlq_items=await storage.dlq_count(),
            frontier=FrontierView(counts.pending, counts.leased, counts.done, counts.dead),
            hosts=hosts,
            errors=self._analytics.snapshot(),
            dlq_tail=[e.public_dict() for e in await storage.dlq_list(limit=DLQ_TAIL)],
            llm=LLMView.from_stats(llm.stats() if llm is not None else None),
            degradation=self._events.degradation.status(),
        )

    def progress(self) -> CrawlSummary:
        """Live counters of the running invocation (read-only view for progress displays)."""
        return self._counters

    def request_stop(self) -> None:
        """Stop leasing new URLs; in-flight requests finish, then state is persisted."""
        if not self._stopping:
            log.warning("Stop requested: finishing in-flight requests, then saving state")
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.stop()

    # -- public crawling API -------------------------------------------------------------------
    async def run(self, seeds: Sequence[str] = (), *, history: bool = True) -> CrawlSummary:
        """Crawl from ``seeds`` (and whatever the state dir still has pending) to the end.

        ``history=False``: this run is not one of a series (e.g. a DLQ retry): it is neither
        compared with the earlier runs' summaries nor kept among them (docs/operations.md), and
        with ``[crawl] recrawl`` it revisits nothing that is merely due (docs/recrawl.md)."""
        self._requeue_run = not history
        started = self._clock()
        keys = _seed_keys(seeds)
        parts = self._parts
        storage = parts.storage
        all_seeds = await self._remember_seeds(keys)
        await storage.set_meta("out_path", str(self.config.crawl.out_path.resolve()))
        parts.pipeline.scope = self._make_scope(all_seeds)
        await storage.add((k, 0) for k in keys)
        await self._commit()
        self._counters.reset()
        # Recrawl (docs/recrawl.md): what is due now, the seeds, stale robots.txt rules, the
        # sitemaps. Not in a run outside the series (a DLQ retry re-fetches its entries only).
        revisits = self.config.crawl.recrawl and history
        await parts.pipeline.recrawl.start_run(started, all_seeds, self._hosts, revisit=revisits)
        parts.pipeline.sitemaps.start_run(active=revisits)
        bytes_before = parts.fetcher.bytes_received
        scheduler = Scheduler(
            storage,
            self._hosts,
            parts.pipeline.process,
            workers=self.config.crawl.concurrency,
            max_pages=self.config.crawl.max_pages,
            clock=self._clock,
            per_host=self.config.crawl.per_host_concurrency,
        )
        self._attach(scheduler)
        if self._stopping:
            scheduler.stop()
        try:
            # The committer is told to stop, never cancelled: a commit cut off mid-send would
            # leave the store unsure whether the batch landed.
            stop_committer = asyncio.Event()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._commit_loop(stop_committer))
                try:
                    await scheduler.run()
                finally:
                    stop_committer.set()
        finally:
            self._attach(None)
            await parts.pipeline.recrawl.finish_run(self._hosts)
            await self._commit()
            await self._analytics.drain()
        self._counters.bytes_downloaded = parts.fetcher.bytes_received - bytes_before
        return await self._finish_summary(started)

    def _attach(self, scheduler: Scheduler | None) -> None:
        self._scheduler = scheduler
        pipeline, storage = self._parts.pipeline, self._parts.storage
        if scheduler is None:
            pipeline.take_held = lambda url: None
            pipeline.links_added = lambda: None
            pipeline.host_given_up = None
            return

        async def host_given_up(host: str) -> None:
            scheduler.hold(await storage.give_up_host(host))

        pipeline.take_held = scheduler.take
        pipeline.links_added = scheduler.wake
        pipeline.host_given_up = host_given_up

    async def crawl(self, url: str, target_data: Mapping[str, str] | None = None) -> CrawlResult:
        """Fetch one URL now, with the full failure path (retries wait in place here).

        ``target_data`` maps field names to CSS selectors for this call (a bad selector is a
        :class:`ConfigError`). The page is stored like any other (results file, frontier) and its
        links are queued, so a later :meth:`run` over the same state dir crawls on from it.
        """
        if target_data:
            validate_selectors(target_data)
        (key,) = _seed_keys([url])
        parts = self._parts
        pipeline, storage = parts.pipeline, parts.storage
        pipeline.scope = self._make_scope(await self._remember_seeds([key]))
        last: FailureOutcome | None = None
        while True:
            lease = await storage.lease_url(key)
            if lease is None:
                raise ConfigError("url", url, "a URL that no other task is fetching right now")
            state = self._hosts.get(lease.host)
            admission = None
            if not state.given_up:
                admitted = self._hosts.admit(state, self._clock(), retry=lease.tries > 0)
                if isinstance(admitted, Deferral):
                    await storage.nack(lease, lease.not_before, lease.attempts, lease.tries)
                    await self._wait_until(admitted.until, url)
                    continue
                admission = admitted
            outcome = await pipeline.process(lease, admission, target_data=target_data)
            await self._commit()
            if isinstance(outcome, PageRecord):
                return CrawlResult(url, outcome, last.as_result() if last else None)
            if isinstance(outcome, FailureOutcome):
                last = outcome
                if not outcome.retry:
                    return CrawlResult(url, None, outcome.as_result(), dead_lettered=True)
                await self._wait_until(outcome.not_before, url)
            elif outcome is None:
                # Handed back untouched (robots.txt or the prefix's soft-404 probe came first,
                # or is being fetched by a running crawl): look again in a moment.
                await asyncio.sleep(HANDED_BACK_RECHECK_S)

    async def _wait_until(self, until: float, url: str) -> None:
        delay = until - self._clock()
        if delay == float("inf"):
            raise ConfigError("url", url, "a URL whose host may be asked during this run")
        if delay > 0:
            await asyncio.sleep(delay)

    async def _handle_error(self, error: str | Exception, context: dict[str, Any]) -> ErrorResult:
        """The failure path for one error (docs/failure-path.md): log, classify, analyse (rules;
        the LLM where they are unsure), decide, feed the analytics; returns the documented
        dict. Never raises."""
        outcome = await self._parts.failures.handle(error, context)
        return outcome.as_result()

    # -- internals -----------------------------------------------------------------------------
    async def _commit_loop(self, stop: asyncio.Event) -> None:
        interval = self.config.storage.batch_interval_s
        sample_rss = self.config.degradation.max_rss_mb > 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
                return
            await self._commit()
            if sample_rss:
                self._events.degradation.record_rss(read_rss_bytes())

    async def _commit(self) -> None:
        """Results file first, then the frontier with the file's offset (see output.py)."""
        parts = self._engine
        if parts is None:
            return
        async with self._commit_lock:
            # A shared store's lease may have been lost meanwhile: that page's line is dropped
            # before it is written (docs/workers.md, "Fencing").
            parts.sink.discard(await parts.storage.fence_acks())
            try:
                offset = parts.sink.flush()
            except Exception:
                # The lines were not written (a full disk): the acks staged with them must not
                # become durable, or a resumed run would skip pages that are in no file.
                await parts.storage.abort()
                raise
            await parts.storage.commit(str(self.config.crawl.out_path.resolve()), offset)

    async def _remember_seeds(self, keys: Sequence[str]) -> list[str]:
        storage = self.storage
        known: list[str] = list(await storage.get_meta("seeds") or [])
        merged = list(dict.fromkeys([*known, *keys]))
        if merged != known:
            await storage.set_meta("seeds", merged)
        return merged

    def _make_scope(self, seeds: Sequence[str]) -> Scope:
        c = self.config.crawl
        return Scope(seeds, c.allowed_domains, c.include, c.exclude)

    async def _finish_summary(self, started: float) -> CrawlSummary:
        storage = self.storage
        counts = await storage.counts()
        s = dataclasses.replace(self._counters)
        # Stored pages, revisits still pending included (each has content in the results file).
        s.pages_ok = max(counts.done, await storage.page_count())
        s.dlq_items = await storage.dlq_count()
        s.pending = counts.pending + counts.leased
        s.breakers = self._hosts.breaker_states()
        s.stopped = self._stopping
        s.duration_s = round(self._clock() - started, 3)
        llm = self._parts.llm
        if llm is not None:
            s.llm_calls, s.llm_cache_hits, s.llm_rejected = llm.calls, llm.cache_hits, llm.rejected
        cfg = self.config
        if cfg.alerts.enabled and not self._requeue_run:
            alerts = await check_run(storage, s.to_dict(), cfg.alerts, now=self._clock())
            s.alerts = [a.to_dict() for a in alerts]
        metrics = self._events.metrics
        metrics.on_run_finished(s.to_dict(), success=not s.stopped, alerts=len(s.alerts))
        if cfg.metrics.textfile:
            write_textfile(cfg.metrics.textfile, metrics)
        write_summary(cfg.crawl.summary_path, s.to_dict())
        return s


def _judges_pages(cfg: Config) -> bool:
    """Whether the LLM settles uncertain page verdicts ([llm] judge_pages, docs/blocks.md)."""
    if cfg.llm.judge_pages == "auto":
        return cfg.llm.provider != "local"
    return cfg.llm.judge_pages == "on"


def _seed_keys(seeds: Sequence[str]) -> list[str]:
    keys: list[str] = []
    for seed in seeds:
        key = normalize(seed)
        if key is None:
            raise ConfigError("SEED_URL", seed, "an absolute http(s) URL")
        keys.append(key)
    return keys

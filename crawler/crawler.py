"""``AdaptiveCrawler``: the public face. It owns the lifetimes of the session, the storage, the
LLM client, the status server and the workers; engine/compose.py wires the engine's parts. One
URL's way through them is in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from crawler.config import Config, load_config
from crawler.decide.rules import RuleAnalyser
from crawler.engine.compose import (
    Engine,
    compose,
    finish_summary,
    make_scope,
    remember_seeds,
    seed_keys,
    status_snapshot,
)
from crawler.engine.failure_handler import FailureOutcome
from crawler.engine.hosts import Deferral, HostRegistry
from crawler.engine.scheduler import Scheduler
from crawler.errors import ConfigError
from crawler.observe.analytics import ErrorAnalytics
from crawler.observe.degradation import read_rss_bytes
from crawler.observe.events import CrawlEvents
from crawler.observe.metrics import CrawlMetrics
from crawler.observe.snapshot import StatusSnapshot
from crawler.observe.status import StatusServer
from crawler.records import (
    Analysis,
    CrawlResult,
    CrawlSummary,
    ErrorResult,
    FailureRecord,
    PageRecord,
)
from crawler.storage import Storage, host_ledger, open_storage
from crawler.storage.lock import StateLock
from crawler.storage.output import JsonlSink
from crawler.web.fetch import Fetcher, Transport
from crawler.web.parse import validate_selectors

if TYPE_CHECKING:  # the LLM layer (and openai, ~0.6 s to import) loads only when a crawl uses it
    from crawler.llm.manager import LLMManager

__all__ = ["AdaptiveCrawler"]

log = logging.getLogger("crawler")

HANDED_BACK_RECHECK_S = 0.01  # crawl(): how soon a URL handed back untouched is tried again


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
        self._engine: Engine | None = None
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
            # Per-host politeness shared by every worker of the crawl (docs/shared-politeness.md).
            ledger = await stack.enter_async_context(
                host_ledger(storage, self._clock, slot_ttl_s=cfg.storage.host_slot_ttl_s)
            )
            self._hosts.use_ledger(ledger)
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
            self._engine = compose(
                cfg,
                hosts=self._hosts,
                storage=storage,
                sink=sink,
                fetcher=fetcher,
                llm=llm,
                analytics=self._analytics,
                counters=self._counters,
                commit_lock=self._commit_lock,
                commit=self._commit,
                clock=self._clock,
                rng=self._rng,
                llm_allowed=self._events.llm_allowed,
            )
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
    def _parts(self) -> Engine:
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
        scheduler = self._scheduler
        return await status_snapshot(
            self.storage,
            hosts=self._hosts,
            counters=self._counters,
            events=self._events,
            analytics=self._analytics,
            llm=self._parts.llm,
            status="stopping" if self._stopping else ("running" if scheduler else "idle"),
            in_flight=scheduler.in_flight if scheduler else 0,
            now=self._clock(),
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
        keys = seed_keys(seeds)
        parts = self._parts
        storage = parts.storage
        all_seeds = await remember_seeds(self.storage, keys)
        await storage.set_meta("out_path", str(self.config.crawl.out_path.resolve()))
        parts.pipeline.scope = make_scope(self.config, all_seeds)
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
        return await finish_summary(
            self.config,
            storage=storage,
            counters=self._counters,
            hosts=self._hosts,
            llm=parts.llm,
            metrics=self._events.metrics,
            started=started,
            now=self._clock(),
            stopped=self._stopping,
            in_series=not self._requeue_run,
        )

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
        (key,) = seed_keys([url])
        parts = self._parts
        pipeline, storage = parts.pipeline, parts.storage
        pipeline.scope = make_scope(self.config, await remember_seeds(self.storage, [key]))
        last: FailureOutcome | None = None
        while True:
            lease = await storage.lease_url(key)
            if lease is None:
                raise ConfigError("url", url, "a URL that no other task is fetching right now")
            state = self._hosts.get(lease.host)
            admission = None
            if not state.given_up:
                admitted = await self._hosts.admit(state, self._clock(), retry=lease.tries > 0)
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
            parts.sink.discard(await parts.storage.fence_acks())  # lost leases (docs/workers.md)
            try:
                offset = parts.sink.flush()
            except Exception:
                # The lines were not written (a full disk): the acks staged with them must not
                # become durable, or a resumed run would skip pages that are in no file.
                await parts.storage.abort()
                raise
            await parts.storage.commit(str(self.config.crawl.out_path.resolve()), offset)

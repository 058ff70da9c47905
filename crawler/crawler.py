"""``AdaptiveCrawler``: composes fetch, parse, storage, hosts and the failure path; runs workers.

One URL's way (ARCHITECTURE.md): ``storage.lease`` → may its host be asked now (robots.txt,
breaker, Retry-After pause, throttle slot)? no → ``nack(not_before)``, not an attempt → yes →
``Fetcher.fetch`` → ok: parse, stage the record, ``ack``, add the links | error:
``_handle_error`` → ``nack(not_before)`` (a durable retry) or ``dead_letter``. Nothing sleeps in
a worker while it waits for a host.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from crawler.config import Config, load_config
from crawler.decide.blocks import BLOCK_SCAN_CHARS, looks_blocked, may_contain_words
from crawler.decide.breaker import CircuitBreaker
from crawler.decide.classify import classify
from crawler.decide.retry import RetryBudget, RetryPolicy
from crawler.decide.rules import Analyser, RuleAnalyser
from crawler.decide.throttle import Throttle
from crawler.engine.failure_handler import FailurePath
from crawler.engine.hosts import HostRegistry, HostState
from crawler.engine.scheduler import Scheduler
from crawler.errors import (
    BlockedPage,
    ConfigError,
    FetchError,
    RedirectError,
    RobotsDisallowed,
)
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import Analysis, FailureRecord, PageRecord, iso
from crawler.storage import Lease, Storage, open_storage
from crawler.storage.lock import StateLock
from crawler.storage.output import JsonlSink
from crawler.web.fetch import Fetcher, FetchLimits, Response
from crawler.web.parse import (
    decode_body,
    is_html,
    media_type,
    parse_html,
    select_fields,
)
from crawler.web.robots import ROBOTS_MAX_REDIRECTS, robots_url, rules_from_body, rules_from_failure
from crawler.web.urls import Scope, host_key, normalize

log = logging.getLogger("crawler")


@dataclass(slots=True)
class CrawlSummary:
    """What one invocation did; ``pages_ok`` and ``dlq_items`` are totals for the state dir."""

    pages_ok: int = 0
    pages_failed: int = 0
    requests: int = 0
    retries: int = 0
    llm_calls: int = 0
    dlq_items: int = 0
    breakers: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    pages_stored: int = 0  # stored by this invocation
    pending: int = 0  # left in the frontier (e.g. after a stop or max_pages)
    llm_cache_hits: int = 0
    llm_rejected: int = 0
    stopped: bool = False  # ended by a signal / request_stop()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def headline(self) -> str:
        """The contract's counters on one line, for people reading a terminal or a log."""
        keys = ("pages_ok", "pages_failed", "requests", "retries", "llm_calls", "dlq_items")
        return ", ".join(f"{k}={getattr(self, k)}" for k in (*keys, "duration_s"))


@dataclass(slots=True)
class CrawlResult:
    """``crawl(url)``: the stored page, or the last ``_handle_error`` result when it failed."""

    url: str
    page: PageRecord | None
    failure: dict[str, Any] | None = None
    dead_lettered: bool = False

    @property
    def ok(self) -> bool:
        return self.page is not None


class AdaptiveCrawler(FailurePath):
    """An async context manager that owns its session, storage, LLM client and workers.

    >>> async with AdaptiveCrawler(load_config("config.toml")) as crawler:
    ...     summary = await crawler.run(["https://example.com/"])
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        analyser: Analyser | None = None,
    ) -> None:
        self.config = config or load_config()
        self._clock = clock
        self._rng = rng or random.Random()
        cfg = self.config
        self.state_dir = Path(cfg.crawl.state_dir)
        self.out_path = cfg.crawl.out_path
        self.summary_path = cfg.crawl.summary_path
        self.policy = RetryPolicy.from_config(cfg.retry, rng=self._rng)
        self.budget = RetryBudget.from_config(cfg.retry)
        self.analytics = ErrorAnalytics(clock=clock)
        self.rules = RuleAnalyser()
        self._analyser_override = analyser
        self.llm: Analyser | None = None
        self.hosts = HostRegistry(
            lambda: CircuitBreaker.from_config(cfg.circuit_breaker, rng=self._rng),
            lambda: Throttle.from_config(
                cfg.throttle, max_concurrency=cfg.crawl.per_host_concurrency
            ),
            max_crawl_delay_s=cfg.crawl.max_crawl_delay_s,
        )
        self._stack: AsyncExitStack | None = None
        self._storage: Storage | None = None
        self._sink: JsonlSink | None = None
        self._fetcher: Fetcher | None = None
        self._scope: Scope | None = None
        self._summary = CrawlSummary()
        self._scheduler: Scheduler | None = None
        self._stopping = False
        self._commit_lock = asyncio.Lock()
        self._acks_since_commit = 0
        self._history: dict[str, list[dict[str, Any]]] = {}
        self.status_url = ""  # set when the status server runs

    # -- lifetime ----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        cfg = self.config
        stack = AsyncExitStack()
        try:
            stack.enter_context(StateLock(self.state_dir))
            storage = open_storage(
                cfg.storage.backend,
                self.state_dir,
                cfg.storage.redis_url,
                lease_timeout_s=cfg.storage.lease_timeout_s,
            )
            await storage.open()
            stack.push_async_callback(storage.close)
            self._storage = storage
            sink = JsonlSink(self.out_path)
            await sink.open(await storage.out_offset(str(self.out_path.resolve())))
            stack.push_async_callback(sink.close)
            self._sink = sink
            limits = FetchLimits(
                connect_timeout_s=cfg.fetch.connect_timeout_s,
                read_timeout_s=cfg.fetch.read_timeout_s,
                total_timeout_s=cfg.fetch.total_timeout_s,
                max_response_bytes=cfg.fetch.max_response_bytes,
                max_redirects=cfg.fetch.max_redirects,
                allowed_content_types=tuple(cfg.fetch.allowed_content_types),
                user_agent=cfg.crawl.user_agent,
            )
            self._fetcher = await stack.enter_async_context(
                Fetcher(
                    limits,
                    limit=cfg.crawl.concurrency,
                    limit_per_host=cfg.crawl.per_host_concurrency,
                )
            )
            self.llm = self._analyser_override or await self._open_llm(stack, storage)
            if cfg.status.enabled:
                from crawler.observe.status import StatusServer

                server = StatusServer(self.status_snapshot, cfg.status.host, cfg.status.port)
                await stack.enter_async_context(server)
                self.status_url = server.url
                log.info("Status server listening on %s", server.url)
        except BaseException:
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
            if self._storage is not None:
                await self._commit()
        finally:
            await stack.aclose()

    async def _open_llm(self, stack: AsyncExitStack, storage: Storage) -> Analyser | None:
        from crawler.llm import open_llm_manager  # the LLM layer is optional at import time

        return await open_llm_manager(self.config.llm, stack, storage, fallback=self.rules)

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise RuntimeError("AdaptiveCrawler used outside its 'async with' block")
        return self._storage

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            raise RuntimeError("AdaptiveCrawler used outside its 'async with' block")
        return self._fetcher

    def on_error(self, callback: Callable[[FailureRecord, Analysis | None], object]) -> None:
        """Call ``callback(record, analysis)`` for every failure (sync or async; errors in it are
        logged, never raised into the crawl)."""
        self.analytics.on_error(callback)

    async def status_snapshot(self) -> dict[str, Any]:
        """Plain data for the status server and for library users: health, error analytics,
        breakers, rate limits, degradation mode and the DLQ."""
        now = self._clock()
        counts = await self.storage.counts()
        dlq = await self.storage.dlq_list()
        breakers = {
            s.host: {**s.breaker.snapshot(now), "given_up": s.given_up, "failures": s.failures}
            for s in self.hosts
        }
        rate_limits = {s.host: s.throttle.snapshot(now) for s in self.hosts}
        open_hosts = sorted(h for h, b in breakers.items() if b.get("state") != "closed")
        llm_on = self.llm is not None and bool(getattr(self.llm, "enabled", True))
        return {
            "health": {
                "status": "stopping" if self._stopping else "ok",
                "pages_ok": counts.done,
                "pending": counts.pending + counts.leased,
                "in_flight": self._scheduler.in_flight if self._scheduler else 0,
                "dlq_items": len(dlq),
            },
            "errors": self.analytics.snapshot(),
            "breakers": breakers,
            "rate_limits": rate_limits,
            "degradation": {
                "mode": "degraded" if open_hosts or not llm_on else "normal",
                "llm": "enabled" if llm_on else "rules-only",
                "hosts_not_closed": open_hosts,
            },
            "dlq": [e.to_dict() for e in dlq[-100:]],
        }

    def progress(self) -> CrawlSummary:
        """Live counters of the running invocation (read-only view for progress displays)."""
        return self._summary

    def request_stop(self) -> None:
        """Stop leasing new URLs; in-flight requests finish, then state is persisted."""
        if not self._stopping:
            log.warning("Stop requested: finishing in-flight requests, then saving state")
        self._stopping = True
        if self._scheduler is not None:
            self._scheduler.stop()

    # -- public crawling API -------------------------------------------------------------------
    async def run(self, seeds: Sequence[str] = ()) -> CrawlSummary:
        """Crawl from ``seeds`` (and whatever the state dir still has pending) to the end."""
        started = self._clock()
        storage = self.storage
        keys = self._seed_keys(seeds)
        known_seeds: list[str] = list(await storage.get_meta("seeds") or [])
        all_seeds = list(dict.fromkeys([*known_seeds, *keys]))
        await storage.set_meta("seeds", all_seeds)
        await storage.set_meta("out_path", str(self.out_path.resolve()))
        self._scope = self._make_scope(all_seeds)
        await storage.add((k, 0) for k in keys)
        await self._commit()
        self._summary = CrawlSummary()
        scheduler = Scheduler(
            storage,
            self.hosts,
            self._process,
            workers=self.config.crawl.concurrency,
            max_pages=self.config.crawl.max_pages,
            clock=self._clock,
        )
        self._scheduler = scheduler
        if self._stopping:
            scheduler.stop()
        try:
            async with asyncio.TaskGroup() as tg:
                committer = tg.create_task(self._commit_loop())
                await scheduler.run()
                committer.cancel()
        finally:
            self._scheduler = None
            await self._commit()
            await self.analytics.drain()
        return await self._finish_summary(started)

    async def crawl(self, url: str, target_data: Mapping[str, str] | None = None) -> CrawlResult:
        """Fetch one URL now, with the full failure path (retries wait in place here).

        ``target_data`` maps field names to CSS selectors for this call. The page is stored like
        any other (results file, frontier); links are not followed.
        """
        key = normalize(url)
        if key is None:
            raise ConfigError("url", url, "an absolute http(s) URL")
        if self._scope is None:
            self._scope = self._make_scope([key])
        last: dict[str, Any] | None = None
        while True:
            lease = await self.storage.lease_url(key)
            if lease is None:
                raise ConfigError("url", url, "a URL that no other task is fetching right now")
            now = self._clock()
            state = self.hosts.get(lease.host)
            wait = max(lease.not_before, now) if lease.not_before > now else None
            if wait is None and not state.given_up:
                wait = state.admit(now)
            if wait is not None:
                await self.storage.nack(lease, wait, lease.attempts, lease.tries)
                await asyncio.sleep(max(0.0, wait - now))
                continue
            outcome = await self._process(lease, target_data=target_data, follow_links=False)
            await self._commit()
            if isinstance(outcome, PageRecord):
                return CrawlResult(url, outcome, last)
            if outcome is not None:
                last = outcome
                if not outcome["should_retry"]:
                    return CrawlResult(url, None, last, dead_lettered=True)

    async def _commit_loop(self) -> None:
        interval = self.config.storage.batch_interval_s
        while True:
            await asyncio.sleep(interval)
            await self._commit()

    async def _commit(self) -> None:
        """Results file first, then the frontier with the file's offset (see output.py)."""
        if self._sink is None or self._storage is None:
            return
        async with self._commit_lock:
            offset = self._sink.flush()
            await self._storage.commit(str(self.out_path.resolve()), offset)
            self._acks_since_commit = 0

    # -- one URL -------------------------------------------------------------------------------
    async def _process(
        self,
        lease: Lease,
        *,
        target_data: Mapping[str, str] | None = None,
        follow_links: bool = True,
    ) -> PageRecord | dict[str, Any] | None:
        """Fetch and settle one leased URL whose host admitted it (``HostState.admit``).
        Returns the page, the ``_handle_error`` result, or None for a deferral."""
        state = self.hosts.get(lease.host)
        now = self._clock()
        if state.given_up:
            state.release()
            return await self._settle_given_up(lease, state)
        robots_needed = self.config.crawl.respect_robots_txt and state.robots is None
        if robots_needed and not await self._ensure_robots(state, lease):
            state.release()
            return None
        paused = state.throttle.paused_until - now
        if paused > self.config.retry.max_retry_after_s:
            state.release()
            until = iso(state.throttle.paused_until)
            exc = FetchError(
                f"host {lease.host} is paused by Retry-After until {until}",
                url=lease.url,
                status=429,
            )
            return await self._fail(exc, lease, state, 0.0, count_attempt=False)
        if state.robots is not None and not state.robots.allowed(lease.url):
            state.release()
            exc = RobotsDisallowed("robots.txt disallows this URL", url=lease.url)
            return await self._fail(exc, lease, state, 0.0, count_attempt=False)

        self._summary.requests += 1
        self.analytics.count("requests")
        self.budget.record_request(lease.host, now)
        started = self._clock()
        try:
            resp = await self.fetcher.fetch(
                lease.url, hop_check=lambda target: self._check_hop(state, target)
            )
            page = await self._page_or_block(lease, resp, target_data)
        except FetchError as exc:
            return await self._fail(exc, lease, state, self._clock() - started)
        except asyncio.CancelledError:
            state.release()
            raise
        except Exception as exc:  # a bug or a page no rule foresaw: a DLQ entry, not a crash
            log.debug("Unexpected error on %s", lease.url, exc_info=True)
            wrapped = FetchError(f"unexpected {type(exc).__name__}: {exc}", url=lease.url)
            wrapped.__cause__ = exc
            return await self._fail(wrapped, lease, state, self._clock() - started)
        self.hosts.on_success(state, self._clock(), self._clock() - started)
        await self._store(lease, page, resp, follow_links)
        return page

    async def _page_or_block(
        self, lease: Lease, resp: Response, target_data: Mapping[str, str] | None
    ) -> PageRecord:
        """The page, unless it is a block page: one the heuristics suspect is confirmed by the
        LLM when one is configured (its "no" stores the page; no answer leaves the heuristics'
        verdict standing)."""
        try:
            return self._make_page(lease, resp, target_data)
        except BlockedPage as suspected:
            confirm = getattr(self.llm, "confirm_block", None)
            verdict = await confirm(lease.url, suspected.excerpt) if confirm else None
            if verdict is False:
                log.info("LLM says %s is not a block page after all: storing it", lease.url)
                return self._make_page(lease, resp, target_data, check_blocked=False)
            suspected.confirmed_by = "llm" if verdict else "heuristics"
            raise

    def _make_page(
        self,
        lease: Lease,
        resp: Response,
        target_data: Mapping[str, str] | None,
        *,
        check_blocked: bool = True,
    ) -> PageRecord:
        mtype = media_type(resp.content_type)
        title: str | None = None
        links: list[str] = []
        data: dict[str, Any] | None = None
        if is_html(mtype, resp.body[:512]):
            text, encoding = decode_body(resp.body, resp.content_type)
            parsed = parse_html(resp.body, resp.final_url, encoding)
            title, links = parsed.title, parsed.links
            markers = self.config.fetch.block_markers
            # looks_blocked lower-cases and strips the page's first 16 KB, ~1 ms a page; a scan of
            # the raw bytes for the markers' words clears an ordinary page in a tenth of that.
            if (
                check_blocked
                and may_contain_words(resp.body, text, encoding, markers, BLOCK_SCAN_CHARS)
                and looks_blocked(text, markers)
            ):
                raise BlockedPage(
                    "the page looks like a captcha, WAF or access-denied page",
                    url=resp.final_url,
                    status=resp.status,
                    headers=resp.headers,
                    excerpt=text[:2048],
                )
            selectors = target_data if target_data is not None else self.config.crawl.target_data
            if selectors:
                data = dict(select_fields(text, selectors))
        return PageRecord(
            url=lease.url,
            final_url=resp.final_url,
            status=resp.status,
            depth=lease.depth,
            title=title,
            links=links,
            fetched_at=iso(self._clock()),
            attempts=lease.attempts + 1,
            data=data,
        )

    async def _store(
        self, lease: Lease, page: PageRecord, resp: Response, follow_links: bool
    ) -> None:
        storage = self.storage
        assert self._sink is not None
        async with self._commit_lock:  # the line and its ack land in the same batch
            self._sink.stage(page.to_dict())
            await storage.ack(lease, page.attempts)
        self._history.pop(lease.url, None)
        self._summary.pages_stored += 1
        if resp.redirects:
            await self._mark_redirect_target_seen(resp.final_url, lease.depth)
        if follow_links and lease.depth < self.config.crawl.max_depth:
            new = self._new_links(page.links, lease.depth + 1)
            if new:
                await storage.add(new)
                if self._scheduler is not None:
                    self._scheduler.wake()
        self._acks_since_commit += 1
        if self._acks_since_commit >= self.config.storage.batch_pages:
            await self._commit()

    async def _mark_redirect_target_seen(self, final_url: str, depth: int) -> None:
        """A redirect's final URL counts as seen: it is not fetched again as its own page."""
        key = normalize(final_url)
        if key is None:
            return
        waiting = self._scheduler.take(key) if self._scheduler else None
        if waiting is not None:  # leased and held but not started: hand it back first
            await self.storage.nack(waiting, 0.0, waiting.attempts, waiting.tries)
        await self.storage.add_done(key, depth)

    def _new_links(self, links: Iterable[str], depth: int) -> list[tuple[str, int]]:
        """Reject known links before anything is allocated for them (the hot path)."""
        storage, scope = self.storage, self._scope
        assert scope is not None
        out: list[tuple[str, int]] = []
        for link in links:
            key = normalize(link)
            if key is None or storage.is_known(key) or not scope.allows(key):
                continue
            out.append((key, depth))
        return out

    async def _check_hop(self, origin: HostState, target: str) -> None:
        key = normalize(target)
        assert self._scope is not None
        if key is None or not self._scope.allows(key):
            raise RedirectError(f"redirect leaves the crawl's scope: {target}", url=target)
        if not self.config.crawl.respect_robots_txt:
            return
        host = host_key(key)
        state = origin if host == origin.host else self.hosts.get(host)
        if state.robots is None:
            await self._fetch_robots(state, key)
        if state.robots is None or not state.robots.allowed(key):
            raise RobotsDisallowed(f"robots.txt disallows the redirect target {target}", url=target)

    # -- robots.txt ----------------------------------------------------------------------------
    async def _ensure_robots(self, state: HostState, lease: Lease) -> bool:
        """True when the host's rules are known; otherwise the lease was deferred or settled."""
        async with state.robots_lock:
            if state.robots is not None:
                return True
            now = self._clock()
            if state.robots_retry_at > now:
                await self.storage.nack(lease, state.robots_retry_at, lease.attempts, lease.tries)
                return False
            record = await self._fetch_robots(state, lease.url)
            if state.robots is not None:
                return True
            assert record is not None
            decision = self.policy.decide(record, state.robots_tries)
            if decision.retry and not state.given_up:
                state.robots_retry_at = self._clock() + decision.delay_s
                log.info(
                    "robots.txt of %s failed (%s); host waits %.2fs before trying it again",
                    state.host,
                    record.category.value,
                    decision.delay_s,
                )
                await self.storage.nack(lease, state.robots_retry_at, lease.attempts, lease.tries)
                return False
            log.warning(
                "robots.txt of %s keeps failing (%s): giving up on the host",
                state.host,
                record.message,
            )
            state.gave_up = record
        await self._settle_given_up(lease, state)
        return False

    async def _fetch_robots(self, state: HostState, url: str) -> FailureRecord | None:
        """Fetch and install a host's robots.txt; returns the failure record when it failed."""
        target = robots_url(url)
        ua = self.config.crawl.user_agent
        now = self._clock()
        self._summary.requests += 1
        self.analytics.count("requests")
        try:
            resp = await self.fetcher.fetch(target, max_redirects=ROBOTS_MAX_REDIRECTS)
        except FetchError as exc:
            rules = rules_from_failure(exc, ua)
            if rules is not None:
                self.hosts.set_robots(state, rules)
                return None
            state.robots_tries += 1
            record = classify(
                exc,
                url=target,
                host=state.host,
                attempt=state.robots_tries,
                now=datetime.fromtimestamp(now, UTC),
            )
            self.hosts.on_failure(state, self._clock(), record, self._clock() - now)
            self.analytics.record(record, None)
            return record
        self.hosts.set_robots(state, rules_from_body(resp.body, ua))
        return None

    # -- the failure path ----------------------------------------------------------------------
    # -- summary -------------------------------------------------------------------------------
    def _seed_keys(self, seeds: Sequence[str]) -> list[str]:
        keys: list[str] = []
        for seed in seeds:
            key = normalize(seed)
            if key is None:
                raise ConfigError("SEED_URL", seed, "an absolute http(s) URL")
            keys.append(key)
        return keys

    def _make_scope(self, seeds: Sequence[str]) -> Scope:
        c = self.config.crawl
        return Scope(seeds, c.allowed_domains, c.include, c.exclude)

    async def _finish_summary(self, started: float) -> CrawlSummary:
        counts = await self.storage.counts()
        s = self._summary
        s.pages_ok = counts.done
        s.dlq_items = len(await self.storage.dlq_list())
        s.pending = counts.pending + counts.leased
        s.breakers = self.hosts.breaker_states()
        s.stopped = self._stopping
        s.duration_s = round(self._clock() - started, 3)
        llm_stats = getattr(self.llm, "stats", None)
        if callable(llm_stats):
            stats = llm_stats()
            s.llm_calls = int(stats.get("calls", 0))
            s.llm_cache_hits = int(stats.get("cache_hits", 0))
            s.llm_rejected = int(stats.get("rejected", 0))
        self.summary_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.summary_path.with_name(self.summary_path.name + ".tmp")
        tmp.write_text(json.dumps(s.to_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(self.summary_path)
        return s


__all__ = ["AdaptiveCrawler", "CrawlResult", "CrawlSummary"]

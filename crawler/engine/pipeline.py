"""One leased URL, from its admission to a stored page, a retry, a DLQ entry or a deferral.

::

    given-up host? ─► DLQ (the host's failure, no request)
    robots.txt disallows? ─► DLQ ROBOTS (no request)
    admission for robots.txt? ─► fetch it (robots_gate), hand the URL back (not an attempt)
    fetch ─► ok: parse, judge (block page?), stage the line + ack, add the links
          └► error: failure_handler (retry with a durable not-before, or DLQ)

The scheduler owns *when* (it admitted the host); this module owns *what happens*.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from crawler.config import Config
from crawler.decide.blocks import BLOCK_SCAN_CHARS, looks_blocked, may_contain_words
from crawler.engine.failure_handler import FailureHandler, FailureOutcome
from crawler.engine.hosts import Admission, HostRegistry, Purpose
from crawler.engine.robots_gate import RobotsGate
from crawler.errors import BlockedPage, FetchError, RedirectError, RobotsDisallowed
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary, PageRecord, iso
from crawler.storage import Lease, Storage
from crawler.storage.output import JsonlSink
from crawler.web.fetch import Fetcher, Response
from crawler.web.parse import decode_body, is_html, media_type, parse_html, select_fields
from crawler.web.urls import Scope, normalize

__all__ = ["BlockJudge", "Outcome", "Pipeline"]

log = logging.getLogger("crawler")

# What processing one lease ends with: the stored page, the failure path's outcome, or None
# when the URL was handed back untouched (a deferral: not an attempt).
Outcome = PageRecord | FailureOutcome | None


class BlockJudge(Protocol):
    """Asked about a page the rules suspect is a block page (the LLM manager serves it)."""

    async def confirm_block(self, url: str, excerpt: str) -> bool | None: ...


class Pipeline:
    """Processes leases handed out by the scheduler; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        hosts: HostRegistry,
        robots: RobotsGate,
        failures: FailureHandler,
        storage: Storage,
        sink: JsonlSink,
        fetcher: Fetcher,
        analytics: ErrorAnalytics,
        counters: CrawlSummary,
        commit_lock: asyncio.Lock,
        commit: Callable[[], Awaitable[None]],
        clock: Callable[[], float],
        judge: BlockJudge | None = None,
    ) -> None:
        self._config = config
        self._hosts = hosts
        self._robots = robots
        self._failures = failures
        self._storage = storage
        self._sink = sink
        self._fetcher = fetcher
        self._analytics = analytics
        self._counters = counters
        self._commit_lock = commit_lock
        self._commit = commit
        self._clock = clock
        self._judge = judge
        self._acks_since_commit = 0
        self.scope = Scope([])
        # Set by the scheduler while a crawl runs: a lease it holds for a URL, handed back.
        self.take_held: Callable[[str], Lease | None] = lambda url: None
        self.links_added: Callable[[], None] = lambda: None
        self.host_given_up: Callable[[str], Awaitable[None]] | None = None

    async def process(
        self,
        lease: Lease,
        admission: Admission | None,
        *,
        target_data: Mapping[str, str] | None = None,
        follow_links: bool = True,
    ) -> Outcome:
        """Settle one lease. ``admission`` is None only for a URL of a given-up host or one
        robots.txt disallows (neither makes a request)."""
        state = self._hosts.get(lease.host)
        if state.given_up:
            if admission is not None:
                admission.cancel()
            return await self._failures.settle_given_up(lease, state)
        if state.robots is not None and not state.robots.allowed(lease.url):
            if admission is not None:
                admission.cancel()
            exc = RobotsDisallowed("robots.txt disallows this URL", url=lease.url)
            context = self._failures.context(lease, exc, count_attempt=False)
            return await self._failures.handle(exc, context, lease=lease)
        if admission is None:
            # The dispatcher hands out a lease without an admission only for the two cases
            # above; anything else goes back untouched.
            await self._storage.nack(lease, 0.0, lease.attempts, lease.tries)
            return None
        if admission.purpose is Purpose.ROBOTS:
            await self._robots.fetch(state, admission, lease.url)
            # The URL itself waits for its own admission (Crawl-delay applies from now on).
            await self._storage.nack(lease, 0.0, lease.attempts, lease.tries)
            if state.given_up and self.host_given_up is not None:
                await self.host_given_up(state.host)
            self.links_added()
            return None
        return await self._fetch(lease, admission, target_data, follow_links)

    async def _fetch(
        self,
        lease: Lease,
        admission: Admission,
        target_data: Mapping[str, str] | None,
        follow_links: bool,
    ) -> Outcome:
        self._counters.requests += 1
        self._analytics.count("requests")
        started = self._clock()
        try:
            resp = await self._fetcher.fetch(lease.url, hop_check=self._check_hop)
            page = await self._page_or_block(lease, resp, target_data)
        except FetchError as exc:
            return await self._failed(lease, admission, exc, started)
        except asyncio.CancelledError:
            admission.cancel()
            raise
        except Exception as exc:  # a bug or a page no rule foresaw: a DLQ entry, not a crash
            log.debug("Unexpected error on %s", lease.url, exc_info=True)
            wrapped = FetchError(f"unexpected {type(exc).__name__}: {exc}", url=lease.url)
            wrapped.__cause__ = exc
            return await self._failed(lease, admission, wrapped, started)
        now = self._clock()
        admission.success(now, now - started)
        await self._store(lease, page, resp, follow_links)
        return page

    async def _failed(
        self, lease: Lease, admission: Admission, exc: FetchError, started: float
    ) -> FailureOutcome:
        context = self._failures.context(lease, exc, count_attempt=True)
        outcome = await self._failures.handle(
            exc, context, lease=lease, admission=admission, latency_s=self._clock() - started
        )
        if outcome.host_given_up and self.host_given_up is not None:
            await self.host_given_up(lease.host)
        return outcome

    async def _check_hop(self, target: str) -> None:
        key = normalize(target)
        if key is None or not self.scope.allows(key):
            raise RedirectError(f"redirect leaves the crawl's scope: {target}", url=target)
        if self._config.crawl.respect_robots_txt:
            await self._robots.check_hop(key)

    # -- a page --------------------------------------------------------------------------------
    async def _page_or_block(
        self, lease: Lease, resp: Response, target_data: Mapping[str, str] | None
    ) -> PageRecord:
        """The page, unless it is a block page: one the heuristics suspect is confirmed by the
        LLM when one is configured (its "no" stores the page; no answer leaves the heuristics'
        verdict standing)."""
        try:
            return self._make_page(lease, resp, target_data)
        except BlockedPage as suspected:
            verdict = (
                await self._judge.confirm_block(lease.url, suspected.excerpt)
                if (self._judge is not None)
                else None
            )
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
            markers = self._config.fetch.block_markers
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
            selectors = target_data if target_data is not None else self._config.crawl.target_data
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
        storage = self._storage
        async with self._commit_lock:  # the line and its ack land in the same batch
            self._sink.stage(page.to_dict())
            await storage.ack(lease, page.attempts)
        self._failures.forget(lease.url)
        self._counters.pages_stored += 1
        if resp.redirects:
            await self._mark_redirect_target_seen(resp.final_url, lease.depth)
        if follow_links and lease.depth < self._config.crawl.max_depth:
            new = self._new_links(page.links, lease.depth + 1)
            if new:
                await storage.add(new)
                self.links_added()
        self._acks_since_commit += 1
        if self._acks_since_commit >= self._config.storage.batch_pages:
            self._acks_since_commit = 0
            await self._commit()

    async def _mark_redirect_target_seen(self, final_url: str, depth: int) -> None:
        """A redirect's final URL counts as seen: it is not fetched again as its own page."""
        key = normalize(final_url)
        if key is None:
            return
        waiting = self.take_held(key)
        if waiting is not None:  # leased and held but not started: hand it back first
            await self._storage.nack(waiting, 0.0, waiting.attempts, waiting.tries)
        await self._storage.add_done(key, depth)

    def _new_links(self, links: Iterable[str], depth: int) -> list[tuple[str, int]]:
        """Reject known links before anything is allocated for them (the hot path)."""
        storage, scope = self._storage, self.scope
        out: list[tuple[str, int]] = []
        for link in links:
            key = normalize(link)
            if key is None or storage.is_known(key) or not scope.allows(key):
                continue
            out.append((key, depth))
        return out

"""One leased URL, from its admission to a stored page, a retry, a DLQ entry or a deferral.

::

    given-up host? ─► DLQ (the host's failure, no request)
    robots.txt disallows? ─► DLQ ROBOTS (no request)
    admission for robots.txt? ─► fetch it (robots_gate), hand the URL back (not an attempt)
    a sitemap of the host to read (recrawl)? ─► read it (engine/sitemaps.py), hand the URL back
    fetch (conditional for a revisit, engine/revisit.py)
          ─► 304: unchanged, state + ack
          ─► ok: parse, judge (block page?), digest, stage the line (new/changed) + ack, links
          └► error: failure_handler (retry with a durable not-before, or DLQ; a revisit that
             fails for good keeps its stored page, and a 404/410 makes it "gone")

The scheduler owns *when* (it admitted the host); this module owns *what happens*.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from crawler.config import Config
from crawler.decide.blocks import CONFIDENT_SCORE, Band, PageKind, PageVerdict, judge_page
from crawler.decide.recrawl import Visit
from crawler.engine.failure_handler import FailureHandler, FailureOutcome
from crawler.engine.hosts import Admission, HostRegistry, Purpose
from crawler.engine.probes import SoftNotFoundProber
from crawler.engine.revisit import FIRST_VISIT, Recrawl
from crawler.engine.robots_gate import RobotsGate
from crawler.engine.sitemaps import SitemapFeeder
from crawler.errors import (
    BlockedPage,
    FetchError,
    HTTPStatusError,
    RedirectError,
    RobotsDisallowed,
)
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary, PageRecord, iso
from crawler.storage import Lease, Storage
from crawler.storage.output import JsonlSink
from crawler.web.fetch import Fetcher, Response
from crawler.web.parse import decode_body, is_html, media_type, parse_html, select_fields
from crawler.web.urls import Scope, normalize

__all__ = ["Outcome", "PageJudge", "Pipeline"]

log = logging.getLogger("crawler")

EXCERPT_CHARS = 2048  # of a rejected page's text, for the DLQ entry and the LLM
USER_MARKER_SCAN_CHARS = 16_384  # how much of a page [fetch] block_markers are looked for in

# What processing one lease ends with: the stored page, the failure path's outcome, or None
# when the URL was handed back untouched (a deferral: not an attempt).
Outcome = PageRecord | FailureOutcome | None


class PageJudge(Protocol):
    """Settles a page verdict the rules are unsure of (the LLM manager serves it)."""

    async def judge_page(
        self, url: str, verdict: PageVerdict, headers: Mapping[str, str] | None = None
    ) -> PageVerdict: ...


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
        rng: random.Random,
        judge: PageJudge | None = None,
        llm_allowed: Callable[[], bool] = lambda: True,
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
        self._llm_allowed = llm_allowed
        self._rng = rng
        self.prober = SoftNotFoundProber(
            config,
            storage=storage,
            fetcher=fetcher,
            analytics=analytics,
            counters=counters,
            clock=clock,
            rng=rng,
            check_hop=self._check_hop,
            links_added=lambda: self.links_added(),
        )
        self._acks_since_commit = 0
        self.recrawl = Recrawl(
            config,
            storage=storage,
            sink=sink,
            counters=counters,
            commit_lock=commit_lock,
            clock=clock,
        )
        self.sitemaps = SitemapFeeder(
            config,
            storage=storage,
            fetcher=fetcher,
            recrawl=self.recrawl,
            counters=counters,
            analytics=analytics,
            clock=clock,
        )
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
        if admission.purpose is Purpose.PAGE and self.sitemaps.wants(state, lease.url):
            await self.sitemaps.fetch_next(
                lease,
                admission,
                scope=self.scope,
                hop_check=self._check_hop,
                links_added=self.links_added,
            )
            return None
        if admission.purpose is Purpose.PAGE and self.prober.needs_probe(lease):
            await self.prober.probe(lease, admission)
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
        try:
            visit = await self.recrawl.visit(lease)
        except BaseException:
            admission.cancel()
            raise
        started = self._clock()
        page: PageRecord | None = None
        try:
            resp = await self._fetcher.fetch(
                lease.url, hop_check=self._check_hop, headers=visit.headers or None
            )
            if resp.status != 304:
                page, digest = await self._page(lease, resp, target_data)
        except HTTPStatusError as exc:
            if exc.status == 304 and visit.revisit:  # a 304 nobody asked for (no validators)
                now = self._clock()
                admission.success(now, now - started, status=304, nbytes=0)
                record = await self.recrawl.not_modified(lease, visit, None)
                self._failures.forget(lease.url)
                await self._count_ack()
                return record
            return await self._failed(lease, admission, exc, started, visit)
        except FetchError as exc:
            return await self._failed(lease, admission, exc, started, visit)
        except asyncio.CancelledError:
            admission.cancel()
            raise
        except Exception as exc:  # a bug or a page no rule foresaw: a DLQ entry, not a crash
            log.debug("Unexpected error on %s", lease.url, exc_info=True)
            wrapped = FetchError(f"unexpected {type(exc).__name__}: {exc}", url=lease.url)
            wrapped.__cause__ = exc
            return await self._failed(lease, admission, wrapped, started, visit)
        now = self._clock()
        admission.success(now, now - started, status=resp.status, nbytes=len(resp.body))
        if page is None:
            record = await self.recrawl.not_modified(lease, visit, resp)
            self._failures.forget(lease.url)
            if resp.redirects:
                await self._mark_redirect_target_seen(resp.final_url, lease.depth)
            await self._count_ack()
            return record
        await self._store(lease, page, resp, follow_links, visit, digest)
        return page

    async def _failed(
        self,
        lease: Lease,
        admission: Admission,
        exc: FetchError,
        started: float,
        visit: Visit = FIRST_VISIT,
    ) -> FailureOutcome:
        context = self._failures.context(lease, exc, count_attempt=True)
        outcome = await self._failures.handle(
            exc, context, lease=lease, admission=admission, latency_s=self._clock() - started
        )
        if visit.revisit and not outcome.retry:  # the store kept the page (docs/recrawl.md)
            attempts = int(context.get("attempts", lease.attempts + 1))
            await self.recrawl.failed(lease, visit, outcome.record, attempts)
        if outcome.host_given_up and self.host_given_up is not None:
            await self.host_given_up(lease.host)
        return outcome

    async def _check_hop(self, target: str) -> None:
        key = normalize(target)
        if key is None:
            raise RedirectError(f"redirect to an unusable URL {target!r}", url=target)
        if not self.scope.allows(key):
            raise RedirectError(f"redirect leaves the crawl's scope: {key!r}", url=key)
        if self._config.crawl.respect_robots_txt:
            await self._robots.check_hop(key)

    # -- a page --------------------------------------------------------------------------------
    async def _page(
        self, lease: Lease, resp: Response, target_data: Mapping[str, str] | None
    ) -> tuple[PageRecord, str]:
        """The page record and its content digest, unless the page is not content: a block
        page, a login wall or a soft-404 raises :class:`BlockedPage` (docs/blocks.md). The rules
        judge; the LLM is asked about their uncertain band only, and may move a page either way
        only there."""
        mtype = media_type(resp.content_type)
        title: str | None = None
        links: list[str] = []
        data: dict[str, Any] | None = None
        visible: bytes | None = None
        if is_html(mtype, resp.body[:512]):
            text, encoding = decode_body(resp.body, resp.content_type)
            await self._judge_page(lease, resp, text, encoding)
            parsed = parse_html(resp.body, resp.final_url, encoding, with_text=True)
            title, links, visible = parsed.title, parsed.links, parsed.text
            selectors = target_data if target_data is not None else self._config.crawl.target_data
            if selectors:
                data = dict(select_fields(text, selectors))
        digest = self.recrawl.digest(visible, links, resp.body)
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
        ), digest

    async def _judge_page(self, lease: Lease, resp: Response, text: str, encoding: str) -> None:
        verdict = judge_page(
            resp.body,
            text,
            encoding,
            status=resp.status,
            headers=resp.headers,
            url=lease.url,
            final_url=resp.final_url,
            probe=self.prober.answer_for(lease.url),
            soft404_similarity=self._config.soft404.similarity,
        )
        marker = self._user_marker(text)
        if marker is not None and verdict.kind is PageKind.CONTENT:
            verdict = PageVerdict(
                PageKind.BLOCKED, Band.CONFIDENT, CONFIDENT_SCORE, reasons=(f"marker {marker!r}",)
            )
        if verdict.band is Band.UNCERTAIN and self._judge is not None and self._llm_allowed():
            verdict = await self._judge.judge_page(lease.url, verdict, resp.headers)
        if verdict.kind is PageKind.CONTENT:
            return
        raise BlockedPage(
            verdict.message(),
            kind=verdict.kind.value,
            certain=verdict.band is Band.CONFIDENT or verdict.source != "rules",
            url=resp.final_url,
            status=resp.status,
            headers=resp.headers,
            excerpt=text[:EXCERPT_CHARS],
        )

    def _user_marker(self, text: str) -> str | None:
        """The first of ``[fetch] block_markers`` in the page's head, if any (case-insensitive)."""
        markers = self._config.fetch.block_markers
        if not markers:
            return None
        head = text[:USER_MARKER_SCAN_CHARS].lower()
        return next((m for m in markers if m in head), None)

    async def _store(
        self,
        lease: Lease,
        page: PageRecord,
        resp: Response,
        follow_links: bool,
        visit: Visit,
        digest: str,
    ) -> None:
        storage = self._storage
        state = self.recrawl.content(lease, visit, page, resp, digest)
        line = self.recrawl.line(page)  # None: unchanged, nothing rewritten
        async with self._commit_lock:  # the line, the page's state and its ack: one batch
            if line is not None:
                self._sink.stage(line)
            await storage.put_page(state)
            await storage.ack(lease, page.attempts)
        self.recrawl.count(page.change)
        self._failures.forget(lease.url)
        if resp.redirects:
            await self._mark_redirect_target_seen(resp.final_url, lease.depth)
        if follow_links and lease.depth < self._config.crawl.max_depth:
            new = self._new_links(page.links, lease.depth + 1)
            if new:
                await storage.add(new)
                self.links_added()
        await self._count_ack()

    async def _count_ack(self) -> None:
        """Every stored or re-confirmed page counts towards pages_stored and the commit batch."""
        self._counters.pages_stored += 1
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

"""Sitemaps feed the frontier during a recrawl run (docs/recrawl.md, "Sitemaps").

Per host and per run, once its robots.txt rules are in: the ``Sitemap:`` lines of robots.txt
that point at the same ``host:port`` (in scope and allowed by robots.txt), or ``/sitemap.xml``
when there are none. Index files add their children (same host only), up to
``[recrawl] sitemap_max_files`` files per host per run.

A sitemap request is a request like any other — it spends an admission of the host (its
politeness, breaker and throttle apply, and it is counted in ``requests``) — but it is not a
page: never stored, retried or dead-lettered. Like the soft-404 probe, it takes the admission of
a leased page URL, which then goes back untouched (not an attempt) for an admission of its own.

What it feeds (parsing is :mod:`crawler.web.sitemaps`):

* a URL the crawl does not know yet is added at depth 1 (when ``max_depth`` allows);
* a stored page whose ``<lastmod>`` is newer than its last visit, and which this run has not
  visited yet, is revisited now — unless the host's lastmods have proved wrong
  (:class:`~crawler.decide.hints.HintBook`); every lastmod seen for a stored page is kept for
  the run, so its revisit can check the hint.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.config import Config
from crawler.engine.hosts import Admission, HostState
from crawler.engine.revisit import Recrawl
from crawler.engine.side_requests import side_request
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary, FailureRecord
from crawler.storage import Lease, Storage
from crawler.web.fetch import Fetcher
from crawler.web.sitemaps import Sitemap, SitemapEntry, parse_sitemap
from crawler.web.urls import Scope, host_key, normalize

__all__ = ["SitemapFeeder"]

log = logging.getLogger("crawler")

SITEMAP_DEPTH = 1  # a URL found only in a sitemap is one hop from the site's entry


@dataclass(slots=True)
class _HostSitemaps:
    queue: deque[str] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    fetched: int = 0


class SitemapFeeder:
    """The per-run sitemap state of every host; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        storage: Storage,
        fetcher: Fetcher,
        recrawl: Recrawl,
        counters: CrawlSummary,
        analytics: ErrorAnalytics,
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._storage = storage
        self._fetcher = fetcher
        self._recrawl = recrawl
        self._counters = counters
        self._analytics = analytics
        self._clock = clock
        self.active = False  # set per run by start_run
        self._hosts: dict[str, _HostSitemaps] = {}

    def start_run(self, *, active: bool) -> None:
        """Every recrawl run (``active``) reads the sitemaps again; other runs read none."""
        self.active = active and self._config.recrawl.sitemaps
        self._hosts = {}

    def wants(self, state: HostState, url: str) -> bool:
        """True when the host's next admission (here for ``url``) should fetch one of its
        sitemaps."""
        if not self.active:
            return False
        if state.robots is None and self._config.crawl.respect_robots_txt:
            return False
        host = self._hosts.get(state.host)
        if host is None:
            host = self._hosts[state.host] = _HostSitemaps()
            for candidate in self._candidates(state, url):
                self._push(host, candidate)
        return bool(host.queue)

    @staticmethod
    def _candidates(state: HostState, url: str) -> list[str]:
        rules = state.robots
        if rules is not None and rules.parser is not None:
            listed = [str(u) for u in rules.parser.sitemaps]
            if listed:
                return listed
        parts = urlsplit(url)
        return [f"{parts.scheme}://{parts.netloc}/sitemap.xml"]

    def _push(self, host: _HostSitemaps, url: str) -> None:
        key = normalize(url)
        if key is None or key in host.seen:
            return
        if len(host.seen) >= self._config.recrawl.sitemap_max_files:
            return
        host.seen.add(key)
        host.queue.append(key)

    async def fetch_next(
        self,
        lease: Lease,
        admission: Admission,
        *,
        scope: Scope,
        hop_check: Callable[[str], Awaitable[None]],
        links_added: Callable[[], None],
    ) -> None:
        """Spend ``admission`` on the host's next sitemap, feed what it lists, and hand the
        leased URL back untouched."""
        state = admission.state
        host = self._hosts[state.host]
        try:
            url = host.queue.popleft()
            allowed = state.robots is None or state.robots.allowed(url)
            if host_key(url) != state.host or not scope.allows(url) or not allowed:
                admission.cancel()
                log.info("Sitemap %s skipped: another host, out of scope or disallowed", url)
            else:
                host.fetched += 1
                sitemap = await self._fetch(url, admission, hop_check)
                if sitemap is not None:
                    await self._feed(host, state, url, sitemap, scope)
        finally:
            await self._storage.nack(lease, 0.0, lease.attempts, lease.tries)
            links_added()

    async def _fetch(
        self, url: str, admission: Admission, hop_check: Callable[[str], Awaitable[None]]
    ) -> Sitemap | None:
        """One sitemap request, settled on ``admission`` like the soft-404 probe's."""
        answer = await side_request(
            url,
            admission,
            config=self._config,
            fetcher=self._fetcher,
            hop_check=hop_check,
            counters=self._counters,
            analytics=self._analytics,
            clock=self._clock,
        )
        if isinstance(answer, int):
            log.info("Sitemap %s: HTTP %s", url, answer)
            return None
        if isinstance(answer, FailureRecord):
            log.info("Sitemap %s failed: %s", url, answer.message)
            return None
        resp, now = answer, self._clock()
        cfg = self._config.recrawl
        # A 50,000-entry file takes a few hundred ms to parse: off the event loop.
        sitemap = await asyncio.to_thread(
            parse_sitemap,
            resp.body,
            now=now,
            max_bytes=cfg.sitemap_max_bytes,
            max_urls=cfg.sitemap_max_urls,
        )
        if sitemap.error:
            log.info("Sitemap %s unreadable: %s", url, sitemap.error)
        elif sitemap.truncated:
            log.info("Sitemap %s read in part (a size or entry limit of [recrawl])", url)
        return sitemap

    async def _feed(
        self, host: _HostSitemaps, state: HostState, url: str, sitemap: Sitemap, scope: Scope
    ) -> None:
        origin = urlsplit(url)
        for child in sitemap.sitemaps:
            child_key = normalize(child.loc)
            if child_key is not None and urlsplit(child_key).netloc == origin.netloc:
                self._push(host, child_key)
        new: list[tuple[str, int]] = []
        hinted: dict[str, float] = {}
        can_add = self._config.crawl.max_depth >= SITEMAP_DEPTH
        for entry in sitemap.urls:
            key = self._usable(entry, state, scope)
            if key is None:
                continue
            if self._storage.is_known(key):
                if entry.lastmod is not None:
                    hinted[key] = entry.lastmod
            elif can_add:
                new.append((key, SITEMAP_DEPTH))
        added = await self._storage.add(new) if new else 0
        due = await self._hint(state.host, hinted) if hinted else 0
        if added or due:
            log.info("Sitemap %s: %d new URLs, %d pages made due by <lastmod>", url, added, due)

    def _usable(self, entry: SitemapEntry, state: HostState, scope: Scope) -> str | None:
        key = normalize(entry.loc)
        if key is None or not scope.allows(key):
            return None
        if state.robots is not None and not state.robots.allowed(key):
            return None  # a sitemap is a hint, not a link: no DLQ entry for what robots forbids
        return key

    async def _hint(self, host: str, hinted: dict[str, float]) -> int:
        """Remember the lastmods of stored pages; revisit now those that changed since their
        last visit, were not visited yet this run, and whose host's lastmods are trusted."""
        recrawl = self._recrawl
        recrawl.lastmods.update(hinted)
        if not recrawl.hints.trusted(host, "lastmod"):
            return 0
        pages = await self._storage.get_pages(list(hinted))
        due = 0
        for key, page in pages.items():
            fresh = page.visited_at < recrawl.run_start
            if fresh and not page.gone and hinted[key] > page.visited_at:
                due += await self._storage.revisit_now(key)
        return due

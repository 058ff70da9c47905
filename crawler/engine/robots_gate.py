"""robots.txt for every host, fetched once, retried like a page, and never more than that.

The first admission to a host whose rules are unknown is for its robots.txt
(:class:`~crawler.engine.hosts.Purpose.ROBOTS`); the host's other URLs wait until the rules are
in (docs/failure-path.md, "robots.txt"). Outcomes (RFC 9309, :mod:`crawler.web.robots`):

- 2xx: the rules; a ``Crawl-delay`` becomes the host's throttle floor before its first page;
- 4xx: everything allowed;
- 5xx, 429, unreachable: the host waits and robots.txt is retried with the crawler's retry
  policy; after ``max_retries + 1`` failed requests the host is parked and its URLs go to the DLQ
  with that failure's category.

A redirect to another host needs that host's rules before the hop is requested
(:meth:`RobotsGate.check_hop`): one fetch in flight per host, shared by everyone waiting; while
the target's robots.txt is failing, the hop fails with :class:`RobotsUnavailable` and the URL is
retried like that failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from crawler.config import Config
from crawler.decide.classify import classify
from crawler.decide.retry import RetryPolicy
from crawler.engine.hosts import Admission, Deferral, HostRegistry, HostState
from crawler.errors import FetchError, HostGivenUp, RobotsDisallowed, RobotsUnavailable
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary
from crawler.web.fetch import Fetcher
from crawler.web.robots import (
    ROBOTS_MAX_REDIRECTS,
    robots_text,
    robots_url,
    rules_from_failure,
    rules_from_text,
)
from crawler.web.urls import host_key

__all__ = ["RobotsGate"]

log = logging.getLogger("crawler")


class RobotsGate:
    """Fetches and installs robots.txt rules; the one place robots.txt is requested."""

    def __init__(
        self,
        config: Config,
        hosts: HostRegistry,
        policy: RetryPolicy,
        analytics: ErrorAnalytics,
        counters: CrawlSummary,
        *,
        fetcher: Callable[[], Fetcher],
        clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._hosts = hosts
        self._policy = policy
        self._analytics = analytics
        self._counters = counters
        self._fetcher = fetcher
        self._clock = clock
        self._in_flight: dict[str, asyncio.Future[None]] = {}
        self._last_error: dict[str, FetchError] = {}

    async def fetch(self, state: HostState, admission: Admission, page_url: str) -> None:
        """Fetch the host's robots.txt on ``admission`` and install what it decides."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight[state.host] = done
        try:
            await self._fetch(state, admission, page_url)
        finally:
            state.robots_in_flight = False
            del self._in_flight[state.host]
            done.set_result(None)

    async def _fetch(self, state: HostState, admission: Admission, page_url: str) -> None:
        ua = self._config.crawl.user_agent
        target = robots_url(page_url)
        started = self._clock()
        self._counters.requests += 1
        self._analytics.count("requests")
        try:
            resp = await self._fetcher().fetch(target, max_redirects=ROBOTS_MAX_REDIRECTS)
        except FetchError as exc:
            now = self._clock()
            rules = rules_from_failure(exc, ua)
            if rules is not None:  # a 4xx: the host answered; everything is allowed
                admission.success(now, now - started, status=exc.status or 0, nbytes=0)
                self._hosts.set_robots(state, rules, "")
                return
            self._failed(state, admission, exc, target, started)
            return
        except BaseException:
            admission.cancel()
            raise
        now = self._clock()
        admission.success(now, now - started, status=resp.status, nbytes=len(resp.body))
        text = robots_text(resp.body)  # shared with the other workers: they fetch nothing
        self._hosts.set_robots(state, rules_from_text(text, ua), text)

    def _failed(
        self,
        state: HostState,
        admission: Admission,
        exc: FetchError,
        target: str,
        started: float,
    ) -> None:
        now = self._clock()
        state.robots_failures += 1
        self._last_error[state.host] = exc
        record = classify(
            exc,
            url=target,
            host=state.host,
            attempt=state.robots_failures,
            now=datetime.fromtimestamp(now, UTC),
            retry_http_codes=self._config.retry.retry_http_codes,
        )
        admission.failure(now, record, now - started)
        self._analytics.record(record, None)
        decision = self._policy.decide(record, state.robots_failures)
        if decision.retry and not state.given_up:
            self._hosts.robots_retry(state, now, decision.delay_s)
            log.info(
                "robots.txt of %s failed (%s); the host waits %.2fs before trying it again",
                state.host,
                record.category.value,
                decision.delay_s,
            )
            return
        log.warning(
            "robots.txt of %s keeps failing (%s): its URLs go to the dead-letter queue",
            state.host,
            record.message,
        )
        self._hosts.park(state, record)

    async def check_hop(self, target: str) -> None:
        """Raise unless robots.txt of ``target``'s host is known and allows ``target``."""
        state = self._hosts.get(host_key(target))
        if state.robots is None and not state.given_up:
            await self._ensure(state, target)
        if state.given_up:
            record = state.given_up_record
            raise HostGivenUp(
                f"redirect target host {state.host} is given up"
                + (f": {record.message}" if record else ""),
                url=target,
                record=record,
            )
        if state.robots is None:
            raise RobotsUnavailable(
                f"robots.txt of redirect target host {state.host} is unavailable for now",
                url=target,
                last=self._last_error.get(state.host),
            )
        if not state.robots.allowed(target):
            raise RobotsDisallowed(f"robots.txt disallows the redirect target {target}", url=target)

    async def _ensure(self, state: HostState, target: str) -> None:
        pending = self._in_flight.get(state.host)
        if pending is not None:
            await asyncio.shield(pending)
            return
        admitted = await self._hosts.admit(state, self._clock(), retry=False, force=True)
        if isinstance(admitted, Deferral):
            return  # paused, open, or robots.txt failing: the caller raises RobotsUnavailable
        if state.robots is not None:  # another path installed the rules meanwhile
            admitted.cancel()
            return
        await self.fetch(state, admitted, target)

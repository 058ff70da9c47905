"""Soft-404 probes (docs/blocks.md, "Soft 404s"): per host and path prefix, one request for a
URL that cannot exist; its answer is what a "not found" page of that prefix looks like.

A probe spends the admission of the first page of its prefix and hands that page back untouched
(not an attempt). It is a request like any other — counted, admitted, its redirects checked, its
outcome taught to the host's breaker and throttle — but it is never stored, retried or
dead-lettered.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from crawler.config import Config
from crawler.decide.page_features import head_bytes
from crawler.decide.soft404 import ProbeAnswer, ProbeBook
from crawler.engine.hosts import Admission
from crawler.engine.side_requests import side_request
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary, FailureRecord
from crawler.storage import Lease, Storage
from crawler.web.fetch import Fetcher
from crawler.web.parse import decode_body

__all__ = ["PROBE_WAIT_S", "SoftNotFoundProber"]

PROBE_WAIT_S = 0.05  # a URL whose prefix is being probed comes back this much later


class SoftNotFoundProber:
    """The probe book of one crawler and the requests that fill it."""

    def __init__(
        self,
        config: Config,
        *,
        storage: Storage,
        fetcher: Fetcher,
        analytics: ErrorAnalytics,
        counters: CrawlSummary,
        clock: Callable[[], float],
        rng: random.Random,
        check_hop: Callable[[str], Awaitable[None]],
        links_added: Callable[[], None],
    ) -> None:
        self._config = config
        self._storage = storage
        self._fetcher = fetcher
        self._analytics = analytics
        self._counters = counters
        self._clock = clock
        self._rng = rng
        self._check_hop = check_hop
        self._links_added = links_added
        self._probing = config.soft404.probe
        self._probes = ProbeBook(depth=config.soft404.prefix_depth)
        self._probing_now: set[str] = set()

    def needs_probe(self, lease: Lease) -> bool:
        return self._probing and self._probes.get(lease.url) is None

    def answer_for(self, url: str) -> ProbeAnswer | None:
        """The probe answer of ``url``'s prefix, for the page verdict (None: none, or off)."""
        return self._probes.get(url) if self._probing else None

    async def probe(self, lease: Lease, admission: Admission) -> None:
        """Spend ``admission`` on the soft-404 probe of ``lease``'s prefix, then hand the URL
        back for its own admission (not an attempt). One probe per prefix at a time: a URL whose
        prefix is being probed waits a moment."""
        key = self._probes.key(lease.url)
        state = admission.state
        probe = self._probes.plan(lease.url, self._rng)
        if key in self._probing_now or probe is None:
            admission.cancel()
            await self._storage.nack(
                lease, self._clock() + PROBE_WAIT_S, lease.attempts, lease.tries
            )
            return
        if state.robots is not None and not state.robots.allowed(probe):
            admission.cancel()  # no probe where robots.txt says no: the rules decide alone
            self._probes.put(lease.url, ProbeAnswer(status=0))
            await self._storage.nack(lease, 0.0, lease.attempts, lease.tries)
            return
        self._probing_now.add(key)
        try:
            self._probes.put(lease.url, await self._fetch_probe(probe, admission))
        finally:
            self._probing_now.discard(key)
        await self._storage.nack(lease, 0.0, lease.attempts, lease.tries)
        self._links_added()

    async def _fetch_probe(self, probe: str, admission: Admission) -> ProbeAnswer:
        """A probe is a request like any other (counted, admitted, its redirects checked, its
        outcome taught to the host's breaker and throttle) but it is never stored, retried or
        dead-lettered: a probe that fails leaves the prefix without a probe answer this run."""
        answer = await side_request(
            probe,
            admission,
            config=self._config,
            fetcher=self._fetcher,
            hop_check=self._check_hop,
            counters=self._counters,
            analytics=self._analytics,
            clock=self._clock,
        )
        if isinstance(answer, int):
            return ProbeAnswer(status=answer)
        if isinstance(answer, FailureRecord):
            return ProbeAnswer(status=0)
        resp = answer
        text, encoding = decode_body(resp.body, resp.content_type)
        return ProbeAnswer.from_response(
            resp.status,
            head_bytes(resp.body, text, encoding),
            requested_url=probe,
            final_url=resp.final_url,
        )

"""Revisits: what the pipeline asks before a request and tells after it (docs/recrawl.md).

A revisit is an ordinary request for a stored page: admitted by its host (politeness), retried
by the failure path, counted in ``attempts``. This module adds what is particular to it:

* before the request, the page's state: the ``If-None-Match`` / ``If-Modified-Since`` to send
  (:func:`~crawler.decide.recrawl.plan_visit`);
* after a full answer, the content digest and the ``change`` of the results line — ``new``,
  ``changed``, or ``unchanged`` (not written as content; a short line when
  ``[recrawl] unchanged_lines``);
* after a 304, the page's new due time and an optional short line;
* after a revisit that failed for good: ``gone`` for a 404/410 or soft-404 (a line and the DLQ
  entry the failure path wrote), else the stored page stays as it was;
* per run: requeueing what is due when the run starts, the seeds, stale robots.txt rules, and
  the per-host hint record (kept in the state's metadata).

The page state is written in the same batch as the line and the ack it goes with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from crawler.config import Config
from crawler.decide.hints import HintBook
from crawler.decide.recrawl import (
    Change,
    Outcome,
    Schedule,
    Visit,
    VisitRules,
    plan_visit,
)
from crawler.engine.hosts import HostRegistry
from crawler.records import Category, CrawlSummary, FailureRecord, PageRecord, PageState, iso
from crawler.storage import Lease, Storage
from crawler.storage.output import JsonlSink
from crawler.web.digest import Digester
from crawler.web.fetch import Response
from crawler.web.robots import RobotsRules

__all__ = ["HINTS_KEY", "Recrawl"]

log = logging.getLogger("crawler")

HINTS_KEY = "recrawl_hints"  # meta: the per-host hint record (HintBook.to_json)
FIRST_VISIT = Visit(None, {})
# The keys of a short "unchanged" line (docs/recrawl.md, "Results lines").
SHORT_KEYS = ("url", "final_url", "status", "depth", "fetched_at", "attempts", "change")


class Recrawl:
    """Per-crawler recrawl state and the pipeline's hooks; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        storage: Storage,
        sink: JsonlSink,
        counters: CrawlSummary,
        commit_lock: asyncio.Lock,
        clock: Callable[[], float],
    ) -> None:
        cfg = config.recrawl
        self._cfg = cfg
        self._storage = storage
        self._sink = sink
        self._counters = counters
        self._commit_lock = commit_lock
        self._clock = clock
        self.rules = VisitRules(Schedule(cfg))
        self.digester = Digester(builtin=cfg.digest_builtin, ignore=cfg.digest_ignore)
        self.hints = HintBook(min_samples=cfg.hint_min_samples, min_accuracy=cfg.hint_min_accuracy)
        self.run_start = 0.0  # 0: no run() yet (crawl(url) alone): each visit counts from now
        # Sitemap <lastmod> values of stored pages seen this run (engine/sitemaps.py fills it).
        self.lastmods: dict[str, float] = {}
        self._robots_seen: dict[str, tuple[RobotsRules, float]] = {}

    # -- a run ---------------------------------------------------------------------------------
    async def start_run(
        self, now: float, seeds: Sequence[str], hosts: HostRegistry, *, revisit: bool
    ) -> None:
        """Before the run's first lease: load the hint record; when the run ``revisit``s (recrawl
        on), requeue what is due (within ``schedule_slack_s``) and the seeds, and forget
        robots.txt rules older than ``robots_max_age_s`` (the host's next admission fetches
        them again)."""
        self.run_start = now
        self.lastmods = {}
        self.hints.load(await self._storage.get_meta(HINTS_KEY))
        if not revisit:
            return
        for state in hosts:
            seen = self._robots_seen.get(state.host)
            if state.robots is None or state.robots_in_flight or seen is None:
                continue
            if seen[0] is state.robots and now - seen[1] >= self._cfg.robots_max_age_s:
                state.robots = None
                del self._robots_seen[state.host]
        due = await self._storage.requeue_due(now + self._cfg.schedule_slack_s)
        seeds_due = 0
        for seed in seeds:
            seeds_due += await self._storage.revisit_now(seed)
        if due or seeds_due:
            log.info("Recrawl: %d stored pages are due, %d seeds revisited", due, seeds_due)

    async def finish_run(self, hosts: HostRegistry) -> None:
        """After the run: keep the hint record (staged; the caller commits) and note when each
        host's robots.txt rules were first seen (the start of the run that fetched them)."""
        await self._storage.set_meta(HINTS_KEY, self.hints.to_json())
        for state in hosts:
            seen = self._robots_seen.get(state.host)
            if state.robots is not None and (seen is None or seen[0] is not state.robots):
                self._robots_seen[state.host] = (state.robots, self.run_start or self._clock())

    def _base(self, now: float) -> float:
        return self.run_start or now

    # -- before a request ----------------------------------------------------------------------
    async def visit(self, lease: Lease) -> Visit:
        """What the state knows about ``lease``'s URL and what to send. A URL never requested
        before (``attempts`` 0) has no state: no lookup on a first crawl's hot path."""
        if lease.attempts == 0:
            return FIRST_VISIT
        page = (await self._storage.get_pages([lease.url])).get(lease.url)
        return plan_visit(
            page,
            trust_validators=self.hints.trusted(lease.host, "validators"),
            audit_every=self._cfg.audit_every,
        )

    # -- after a full answer -------------------------------------------------------------------
    def digest(self, text: bytes | None, links: Sequence[str], body: bytes) -> str:
        """The page's digest: of its visible text and links (HTML), else of its bytes."""
        return self.digester.html(text, links) if text is not None else self.digester.raw(body)

    def content(
        self, lease: Lease, visit: Visit, page: PageRecord, resp: Response, digest: str
    ) -> PageState:
        """Decide the page's ``change`` (set on ``page``) and its new state; count it."""
        now = self._clock()
        outcome = self.rules.content(
            lease.url,
            visit,
            final_url=resp.final_url,
            digest=digest,
            headers=resp.headers,
            now=now,
            run_start=self._base(now),
            lastmod=self.lastmods.get(lease.url),
        )
        page.change = outcome.change.value
        self._learn(lease.host, outcome)
        return outcome.page

    def line(self, page: PageRecord) -> dict[str, object] | None:
        """The results line of a visited page: the whole record when its content is new or
        changed, a short one when unchanged and ``unchanged_lines`` is on, else None."""
        if page.change != Change.UNCHANGED:
            return page.to_dict()
        if not self._cfg.unchanged_lines:
            return None
        full = page.to_dict()
        return {k: full[k] for k in SHORT_KEYS}

    # -- after a 304 ---------------------------------------------------------------------------
    async def not_modified(self, lease: Lease, visit: Visit, resp: Response | None) -> PageRecord:
        """Settle a 304 (``resp`` None: one raised for a request without validators): the
        page is unchanged, nothing is rewritten; its state is written and the URL acked."""
        now = self._clock()
        final_url = resp.final_url if resp is not None else lease.url
        outcome = self.rules.not_modified(
            lease.url,
            visit,
            final_url=final_url,
            headers=resp.headers if resp is not None else {},
            now=now,
            run_start=self._base(now),
            lastmod=self.lastmods.get(lease.url),
        )
        self._learn(lease.host, outcome)
        self._counters.not_modified += 1
        record = PageRecord(
            url=lease.url,
            final_url=final_url,
            status=304,
            depth=lease.depth,
            title=None,
            links=[],
            fetched_at=iso(now),
            attempts=lease.attempts + 1,
            change=Change.UNCHANGED.value,
        )
        line = self.line(record)
        async with self._commit_lock:
            if line is not None:
                self._sink.stage(line)
            await self._storage.put_page(outcome.page)
            await self._storage.ack(lease, record.attempts)
        self.count(record.change)
        return record

    # -- after a revisit that failed for good -------------------------------------------------
    async def failed(
        self, lease: Lease, visit: Visit, record: FailureRecord | None, attempts: int
    ) -> None:
        """The failure path dead-lettered a revisit (the store kept the page done). A 404/410 or
        a soft-404 is ``gone``: a line (once; a page already gone gets none) and the state says
        so. Anything else leaves the stored page as it was, due again after its interval."""
        before = visit.page
        if before is None:
            return
        now = self._clock()
        line: dict[str, object] | None = None
        if record is not None and record.category is Category.NOT_FOUND:
            outcome = self.rules.gone(
                lease.url,
                visit,
                now=now,
                run_start=self._base(now),
                lastmod=self.lastmods.get(lease.url),
            )
            self._learn(lease.host, outcome)
            state = outcome.page
            if not before.gone:
                gone = PageRecord(
                    url=lease.url,
                    final_url=record.url or lease.url,
                    status=record.status_code or 0,
                    depth=lease.depth,
                    title=None,
                    links=[],
                    fetched_at=iso(now),
                    attempts=attempts,
                    change=Change.GONE.value,
                )
                line = gone.to_dict()
                self.count(Change.GONE)
        else:
            state = self.rules.failed(visit, now=now, run_start=self._base(now))
        async with self._commit_lock:
            if line is not None:
                self._sink.stage(line)
            await self._storage.put_page(state)

    # -- counting ------------------------------------------------------------------------------
    def count(self, change: str) -> None:
        c = self._counters
        if change == Change.NEW:
            c.pages_new += 1
        elif change == Change.CHANGED:
            c.pages_changed += 1
        elif change == Change.UNCHANGED:
            c.pages_unchanged += 1
        elif change == Change.GONE:
            c.pages_gone += 1

    def _learn(self, host: str, outcome: Outcome) -> None:
        for evidence in outcome.evidence:
            was = self.hints.trusted(host, evidence.kind)
            self.hints.record(host, evidence)
            if was and not self.hints.trusted(host, evidence.kind):
                counts = self.hints.counts(host, evidence.kind)
                log.warning(
                    "Recrawl: %s's %s hints do not predict its changes (tp, fp, tn, fn = %s);"
                    " they are ignored from now on",
                    host,
                    evidence.kind,
                    counts,
                )

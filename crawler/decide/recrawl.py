"""Recrawl decisions, pure: when a page is due again, what a revisit sends, what its answer means,
and which hosts' change hints can be believed (docs/recrawl.md).

No I/O and no clock: every time is passed in (epoch seconds).

**Intervals** (Nutch's AdaptiveFetchSchedule): a new page gets ``initial_interval_s``; a revisit
that finds the page unchanged multiplies the interval by ``grow_factor`` (1.4), one that finds a
change by ``shrink_factor`` (0.8); the result is clamped to ``[min_interval_s, max_interval_s]``.
A revisit that learned nothing (it failed, or a 304 nobody asked for) keeps the interval. A URL
matching one of ``[recrawl] intervals`` gets that fixed interval instead, never adapted.

**Due time**: ``max(run_start + interval, now)``. Counting from the start of the run, not from the
moment of the fetch, is what makes a nightly cron find yesterday's pages due however late in
yesterday's run they were fetched; ``max(…, now)`` means nothing is ever scheduled before the
visit that schedules it.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from email.utils import parsedate_to_datetime

from crawler.config import RecrawlConfig
from crawler.decide.hints import Evidence
from crawler.records import PageState, header

__all__ = [
    "Change",
    "Outcome",
    "Schedule",
    "Visit",
    "VisitRules",
    "conditional_headers",
    "http_date",
    "plan_visit",
    "same_etag",
    "validators",
]

MAX_VALIDATOR_CHARS = 512  # a longer ETag or Last-Modified is not one we send back
_PRINTABLE = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")  # visible ASCII, inner spaces allowed


class Change(enum.StrEnum):
    """The ``change`` of a results line."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    GONE = "gone"


# -- schedule ----------------------------------------------------------------------------------
class Schedule:
    """The interval rule of the module docstring, built from ``[recrawl]``."""

    def __init__(self, cfg: RecrawlConfig) -> None:
        self._cfg = cfg
        self._fixed = [(re.compile(p), float(s)) for p, s in cfg.intervals.items()]

    def fixed(self, url: str) -> float | None:
        """The ``[recrawl] intervals`` entry for ``url`` (the first regex that matches), if any."""
        for pattern, seconds in self._fixed:
            if pattern.search(url):
                return seconds
        return None

    def clamp(self, seconds: float) -> float:
        cfg = self._cfg
        if not math.isfinite(seconds):
            return cfg.max_interval_s
        return min(cfg.max_interval_s, max(cfg.min_interval_s, seconds))

    def interval(self, url: str, previous: float, changed: bool | None) -> float:
        """The next interval: ``changed`` True shrinks it, False grows it, None keeps it."""
        fixed = self.fixed(url)
        if fixed is not None:
            return fixed
        cfg = self._cfg
        if previous <= 0:
            return self.clamp(cfg.initial_interval_s)
        if changed is True:
            return self.clamp(previous * cfg.shrink_factor)
        if changed is False:
            return self.clamp(previous * cfg.grow_factor)
        return self.clamp(previous)

    @staticmethod
    def due(interval: float, *, now: float, run_start: float) -> float:
        """When the page is due again: never before ``now``."""
        return max(run_start + interval, now)


# -- validators --------------------------------------------------------------------------------
def http_date(value: str | None) -> float | None:
    """An HTTP-date (RFC 9110 §5.6.7, the obsolete forms too) as epoch seconds; None when it does
    not parse."""
    if not value or len(value) > MAX_VALIDATOR_CHARS:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def validators(headers: Mapping[str, str], now: float) -> tuple[str, str]:
    """``(etag, last_modified)`` worth sending back, from a response's headers ("" for none).

    An ETag must be visible ASCII and at most MAX_VALIDATOR_CHARS (weak ones keep ``W/``). A
    Last-Modified must parse and must not be later than the response's ``Date`` — or, when the
    server sent no usable Date, than our own clock: a date in the future would make the server
    answer 304 until then (RFC 9110 §8.8.2.1 forbids sending one). Both are kept verbatim, since
    servers compare If-Modified-Since as a string (nginx's default ``if_modified_since exact``).
    """
    etag = (header(headers, "etag") or "").strip()
    if len(etag) > MAX_VALIDATOR_CHARS or not _PRINTABLE.match(etag or "-"):
        etag = ""
    modified = (header(headers, "last-modified") or "").strip()
    when = http_date(modified)
    date = http_date(header(headers, "date"))
    limit = date if date is not None else now
    if when is None or when > limit or not _PRINTABLE.match(modified):
        modified = ""
    return etag, modified


def same_etag(a: str, b: str) -> bool:
    """RFC 9110 §8.8.3.2 weak comparison: ``W/"x"`` and ``"x"`` are the same resource version (a
    compressing proxy or nginx's gzip weakens strong ETags)."""
    return bool(a) and bool(b) and a.removeprefix("W/") == b.removeprefix("W/")


def conditional_headers(page: PageState) -> dict[str, str]:
    """If-None-Match / If-Modified-Since for the page's validators (both when it has both: a
    server must then ignore the date, RFC 9110 §13.1.3)."""
    out: dict[str, str] = {}
    if page.etag:
        out["If-None-Match"] = page.etag
    if page.last_modified:
        out["If-Modified-Since"] = page.last_modified
    return out


# -- one visit ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Visit:
    """A request for a URL: what the state knew before it and what it sends."""

    page: PageState | None  # None: a first fetch
    headers: dict[str, str]  # the conditional headers sent ({} for none)
    audit: bool = False  # sent without the page's validators on purpose

    @property
    def revisit(self) -> bool:
        return self.page is not None

    @property
    def conditional(self) -> bool:
        return bool(self.headers)


def plan_visit(page: PageState | None, *, trust_validators: bool, audit_every: int) -> Visit:
    """What to send: the validators, unless the host's are not trusted or this revisit is an
    audit (every ``audit_every``-th answered revisit of the page, the first revisit never)."""
    if page is None or page.gone:
        return Visit(page, {})
    headers = conditional_headers(page)
    audit = bool(headers) and audit_every > 0 and page.revisits > 0
    audit = audit and (page.revisits + 1) % audit_every == 0
    if audit or not trust_validators:
        return Visit(page, {}, audit=audit)
    return Visit(page, headers)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a visit's answer means: the line's change, the page's new state, the hint checks."""

    change: Change
    page: PageState
    evidence: tuple[Evidence, ...] = ()


class VisitRules:
    """Turns a visit's answer into an :class:`Outcome` (docs/recrawl.md, "What a visit means")."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def _next(
        self, url: str, before: PageState | None, changed: bool | None, now: float, start: float
    ) -> tuple[float, float]:
        interval = self.schedule.interval(url, before.interval_s if before else 0.0, changed)
        return interval, self.schedule.due(interval, now=now, run_start=start)

    def content(
        self,
        url: str,
        visit: Visit,
        *,
        final_url: str,
        digest: str,
        headers: Mapping[str, str],
        now: float,
        run_start: float,
        lastmod: float | None = None,
    ) -> Outcome:
        """A full answer (200) with content whose digest is ``digest``. ``lastmod``: the
        sitemap's ``<lastmod>`` for the page seen this run, if any (a hint to check)."""
        etag, modified = validators(headers, now)
        before = visit.page
        if before is None:
            interval, due = self._next(url, None, None, now, run_start)
            page = PageState(url, etag, modified, digest, final_url, now, now, due, interval)
            return Outcome(Change.NEW, page)
        # A page stored before digests existed (or a gone page back) cannot be compared: it is
        # written again, which costs a line, where calling it unchanged could hide a change.
        changed = before.gone or not before.digest or before.digest != digest
        interval, due = self._next(url, before, changed, now, run_start)
        page = replace(
            before,
            etag=etag,
            last_modified=modified,
            digest=digest,
            final_url=final_url,
            changed_at=now if changed else before.changed_at,
            visited_at=now,
            due_at=due,
            interval_s=interval,
            revisits=before.revisits + 1,
            gone=False,
        )
        evidence = list(_lastmod_evidence(before, lastmod, changed))
        if before.digest and not before.gone and (before.etag or before.last_modified):
            evidence.append(
                Evidence("validators", _validators_moved(before, etag, modified), changed)
            )
        return Outcome(Change.CHANGED if changed else Change.UNCHANGED, page, tuple(evidence))

    def not_modified(
        self,
        url: str,
        visit: Visit,
        *,
        final_url: str,
        headers: Mapping[str, str],
        now: float,
        run_start: float,
        lastmod: float | None = None,
    ) -> Outcome:
        """A 304. To a conditional request it means unchanged: the interval grows and validators
        the 304 carries replace the stored ones (RFC 9111 §4.3.4). Nobody asked for it when the
        request was not conditional (the page had no validators), or it came from another URL
        than the last full fetch: then it proves nothing — the interval is kept, the validators
        are dropped, and the next visit is a full fetch."""
        before = visit.page
        assert before is not None
        trusted = visit.conditional and (not before.final_url or final_url == before.final_url)
        etag, modified = validators(headers, now)
        if trusted:
            etag, modified = etag or before.etag, modified or before.last_modified
        else:
            etag, modified = "", ""
        changed = False if trusted else None
        interval, due = self._next(url, before, changed, now, run_start)
        page = replace(
            before,
            etag=etag,
            last_modified=modified,
            visited_at=now,
            due_at=due,
            interval_s=interval,
            revisits=before.revisits + 1,
        )
        evidence = _lastmod_evidence(before, lastmod, False) if trusted else ()
        return Outcome(Change.UNCHANGED, page, evidence)

    def gone(
        self, url: str, visit: Visit, *, now: float, run_start: float, lastmod: float | None = None
    ) -> Outcome:
        """404/410 (or a soft-404) for a stored page. A page that was gone already stays gone
        (no new line). Gone pages are looked at again after ``max_interval_s``."""
        before = visit.page
        assert before is not None
        interval = self.schedule.clamp(math.inf)
        due = self.schedule.due(interval, now=now, run_start=run_start)
        page = replace(before, visited_at=now, due_at=due, gone=True)
        return Outcome(Change.GONE, page, _lastmod_evidence(before, lastmod, True))

    def failed(self, visit: Visit, *, now: float, run_start: float) -> PageState:
        """The revisit failed for good (not gone): the stored page stays as it was and is
        looked at again after its current interval."""
        before = visit.page
        assert before is not None
        interval = self.schedule.interval(before.url, before.interval_s, None)
        return replace(before, due_at=self.schedule.due(interval, now=now, run_start=run_start))


def _validators_moved(before: PageState, etag: str, modified: str) -> bool:
    """Did the validators say "changed"? ETags are compared (weakly) when both answers have
    one, else Last-Modified."""
    if before.etag and etag:
        return not same_etag(before.etag, etag)
    old, new = http_date(before.last_modified), http_date(modified)
    if old is not None and new is not None:
        return new > old
    return True  # a validator appeared or vanished: the server says it is another version


def _lastmod_evidence(
    before: PageState, lastmod: float | None, changed: bool
) -> tuple[Evidence, ...]:
    """A sitemap ``<lastmod>`` predicts a change when it is newer than the last visit."""
    if lastmod is None or before.visited_at <= 0:
        return ()
    return (Evidence("lastmod", lastmod > before.visited_at, changed),)

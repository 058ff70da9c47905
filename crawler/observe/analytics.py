"""Error analytics: counters, error groups, error rate, bounded history, and error callbacks.

Everything ``snapshot()`` returns is plain data (str, int, float, lists, dicts) for the status
server, the summary and ``crawler stats``. Callbacks registered by library users run on every
recorded error; one that raises is logged and never breaks the crawl, and an async one is
scheduled on the running loop (``drain()`` waits for those still running).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from crawler.decide.signature import normalise_message
from crawler.records import Analysis, FailureRecord, Severity

__all__ = [
    "ErrorAnalytics",
    "ErrorCallback",
    "filter_notifications",
    "notification_id",
]

log = logging.getLogger(__name__)

ErrorCallback = Callable[[FailureRecord, Analysis | None], object]

TOP_ERRORS = 10
HISTORY_TAIL = 20
MAX_GROUPS = 1000  # distinct message groups kept; the rarest is dropped beyond this
MAX_NOTIFICATIONS = 100
_NOTIFY = frozenset({Severity.HIGH, Severity.CRITICAL})


def notification_id(record: FailureRecord) -> str:
    """A notification's id: the record's correlation id, else a digest of what identifies it
    (stable across processes, so an acknowledgement persisted in the state keeps its meaning)."""
    if record.correlation_id:
        return record.correlation_id
    key = "\x1f".join(
        (record.timestamp, record.url, record.category.value, record.message, str(record.attempt))
    )
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]


def filter_notifications(
    entries: Iterable[Mapping[str, Any]],
    *,
    severity: str | None = None,
    limit: int = MAX_NOTIFICATIONS,
    exclude: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``entries`` (oldest first) newest first: of one ``severity`` when given, without the ids
    in ``exclude`` (acknowledged ones), at most ``limit``."""
    out: list[dict[str, Any]] = []
    for entry in reversed(list(entries)):
        if len(out) >= limit:
            break
        if severity is not None and entry.get("severity") != severity:
            continue
        if entry.get("id") in exclude:
            continue
        out.append(dict(entry))
    return out


@dataclass(slots=True)
class _Group:
    category: str
    status_code: int | None
    pattern: str
    example: str
    count: int
    hosts: set[str]
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "status_code": self.status_code,
            "pattern": self.pattern,
            "example": self.example,
            "count": self.count,
            "hosts": sorted(self.hosts)[:10],
            "last_seen": self.last_seen,
        }


class ErrorAnalytics:
    """Collects every failure record (and its analysis) of a run."""

    def __init__(
        self,
        *,
        history_size: int = 1000,
        rate_window_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_window_s = rate_window_s
        self._clock = clock
        self._started = clock()
        self._history: deque[dict[str, Any]] = deque(maxlen=max(1, history_size))
        self._notifications: deque[dict[str, Any]] = deque(maxlen=MAX_NOTIFICATIONS)
        self._recent: deque[float] = deque()  # clock() of each error within rate_window_s
        self.counters: Counter[str] = Counter()
        self.by_category: Counter[str] = Counter()
        self.by_severity: Counter[str] = Counter()
        self.by_host: Counter[str] = Counter()
        self.by_type: Counter[str] = Counter()
        self._groups: dict[tuple[str, int | None, str], _Group] = {}
        self._callbacks: list[ErrorCallback] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- input ---------------------------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        """Free counters: requests, retries, llm_calls, llm_cache_hits, breaker_opened..."""
        self.counters[name] += n

    def on_error(self, callback: ErrorCallback) -> None:
        """Call ``callback(record, analysis)`` on every recorded error (sync or async)."""
        self._callbacks.append(callback)

    def record(self, record: FailureRecord, analysis: Analysis | None) -> None:
        """Count one failure, then run the callbacks. Never raises for a callback's sake."""
        now = self._clock()
        severity = analysis.severity if analysis is not None else record.severity
        error_type = analysis.error_type if analysis is not None else record.category.value.lower()
        self.counters["errors"] += 1
        self.by_category[record.category.value] += 1
        self.by_severity[severity.value] += 1
        self.by_host[record.host] += 1
        self.by_type[error_type] += 1
        self._recent.append(now)
        self._prune(now)
        entry = {
            "at": record.timestamp,
            "url": record.url,
            "host": record.host,
            "category": record.category.value,
            "severity": severity.value,
            "status_code": record.status_code,
            "error_type": error_type,
            "message": record.message,
            "attempt": record.attempt,
            "suggested_action": analysis.suggested_action.value if analysis else None,
        }
        self._history.append(entry)
        if severity in _NOTIFY:
            self._notifications.append({"id": notification_id(record), **entry})
        self._group(record)
        for callback in list(self._callbacks):
            self._run_callback(callback, record, analysis)

    def _group(self, record: FailureRecord) -> None:
        pattern = normalise_message(record.message)
        key = (record.category.value, record.status_code, pattern)
        group = self._groups.get(key)
        if group is None:
            if len(self._groups) >= MAX_GROUPS:
                rarest = min(self._groups, key=lambda k: self._groups[k].count)
                del self._groups[rarest]
            group = self._groups[key] = _Group(
                record.category.value, record.status_code, pattern, record.message, 0, set(), ""
            )
        group.count += 1
        if len(group.hosts) < 100:  # enough to tell "one host" from "many"
            group.hosts.add(record.host)
        group.last_seen = record.timestamp

    def _run_callback(
        self, callback: ErrorCallback, record: FailureRecord, analysis: Analysis | None
    ) -> None:
        try:
            result = callback(record, analysis)
        except Exception:
            log.exception("error callback %r failed", callback)
            return
        if not inspect.isawaitable(result):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.warning("async error callback %r skipped: no running event loop", callback)
            if inspect.iscoroutine(result):
                result.close()  # never awaited otherwise, which would warn
            return
        task = loop.create_task(self._guard(callback, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(callback: ErrorCallback, awaitable: Awaitable[object]) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("async error callback %r failed", callback)

    async def drain(self) -> None:
        """Wait for async callbacks still running (the crawler calls this before it closes)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    # -- output --------------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        cutoff = now - self.rate_window_s
        while self._recent and self._recent[0] < cutoff:
            self._recent.popleft()

    def errors_per_minute(self) -> float:
        """Errors per minute over the window (or over the run so far, if shorter; ≥ 1 min)."""
        now = self._clock()
        self._prune(now)
        span_s = min(self.rate_window_s, max(60.0, now - self._started))
        return len(self._recent) * 60.0 / span_s if span_s > 0 else 0.0

    def top_errors(self, n: int = TOP_ERRORS) -> list[dict[str, Any]]:
        """The ``n`` largest message groups, largest first."""
        groups = sorted(self._groups.values(), key=lambda g: g.count, reverse=True)
        return [g.to_dict() for g in groups[:n]]

    def notifications(
        self,
        *,
        severity: str | None = None,
        limit: int = MAX_NOTIFICATIONS,
        exclude: Collection[str] = (),
    ) -> list[dict[str, Any]]:
        """HIGH and CRITICAL errors, newest first (see :func:`filter_notifications`)."""
        return filter_notifications(
            self._notifications, severity=severity, limit=limit, exclude=exclude
        )

    def snapshot(self) -> dict[str, Any]:
        """Plain data: counters, breakdowns, rate, top error groups, the history tail."""
        return {
            "counters": dict(self.counters),
            "errors_total": self.counters["errors"],
            "by_category": dict(self.by_category),
            "by_severity": dict(self.by_severity),
            "by_host": dict(self.by_host),
            "by_type": dict(self.by_type),
            "errors_per_minute": round(self.errors_per_minute(), 3),
            "rate_window_s": self.rate_window_s,
            "top_errors": self.top_errors(),
            "history": list(self._history)[-HISTORY_TAIL:],
            "notifications": list(self._notifications),
        }

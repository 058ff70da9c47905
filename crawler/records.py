"""Plain data that crosses module boundaries: categories, severities, failure records, analyses,
page records and DLQ entries. No I/O here; ``to_dict`` gives the record shapes of
docs/behaviour.md."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypedDict

from crawler.redact import redact_url


def iso(ts: float | datetime) -> str:
    """Epoch seconds (or an aware datetime) as the one ISO 8601 UTC form records carry
    (``2026-11-29T07:50:53.123Z``)."""
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value by its lower-case ``name``, whatever case the server wrote it in."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class Category(enum.StrEnum):
    """What kind of failure happened (docs/failure-path.md, "Taxonomy"); upper-case names."""

    NETWORK = "NETWORK"
    DNS = "DNS"
    TIMEOUT = "TIMEOUT"
    TLS = "TLS"
    RATE_LIMIT = "RATE_LIMIT"
    SERVER = "SERVER"
    CLIENT = "CLIENT"
    AUTH = "AUTH"
    NOT_FOUND = "NOT_FOUND"
    BLOCKED = "BLOCKED"
    CONTENT = "CONTENT"
    REDIRECT = "REDIRECT"
    ROBOTS = "ROBOTS"
    UNKNOWN = "UNKNOWN"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Strategy(enum.StrEnum):
    """Recovery strategy per category (docs/failure-path.md); ``[retry] strategies`` overrides."""

    RETRY = "RETRY"
    EXPONENTIAL_BACKOFF = "EXPONENTIAL_BACKOFF"
    CIRCUIT_BREAKER = "CIRCUIT_BREAKER"
    FALLBACK = "FALLBACK"
    SKIP = "SKIP"
    FAIL_FAST = "FAIL_FAST"


class Action(enum.StrEnum):
    """The closed set of things an analysis may suggest and the crawler can carry out.

    Free text never becomes an action: an analysis whose ``suggested_action`` is not one of these
    does not validate.
    """

    RETRY_LATER = "retry_later"
    SLOW_DOWN_HOST = "slow_down_host"
    WAIT = "wait"
    GIVE_UP_URL = "give_up_url"
    GIVE_UP_HOST = "give_up_host"


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """What happened to one request, as ``decide.classify.classify`` saw it."""

    category: Category
    severity: Severity
    message: str
    url: str
    host: str  # "host:port"
    method: str = "GET"
    status_code: int | None = None
    attempt: int = 1
    correlation_id: str = ""
    timestamp: str = ""  # ISO 8601, UTC
    response_excerpt: str = ""  # bounded
    retry_after_s: float | None = None  # seconds from `timestamp`, when the server sent one
    exception_chain: tuple[str, ...] = ()
    retryable: bool = False  # the table's verdict before budgets, breakers and the LLM
    certain: bool = True  # False: the rules are unsure and the LLM manager may be asked
    counts_for_breaker: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["category"] = self.category.value
        d["severity"] = self.severity.value
        d["exception_chain"] = list(self.exception_chain)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureRecord:
        """The record :meth:`to_dict` described."""
        d = dict(data)
        d["category"] = Category(d["category"])
        d["severity"] = Severity(d["severity"])
        d["exception_chain"] = tuple(d.get("exception_chain", ()))
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The analysis of a failure (docs/failure-path.md): rules, LLM, or a cached verdict."""

    error_type: str
    severity: Severity
    description: str
    should_retry: bool
    suggested_action: Action
    recovery_steps: tuple[str, ...] = ()
    source: str = "rules"  # "rules" | "llm" | "llm-cache"
    wait_s: float | None = None  # only with suggested_action == WAIT

    def to_dict(self) -> dict[str, Any]:
        """The six contract keys."""
        return {
            "error_type": self.error_type,
            "severity": self.severity.value,
            "description": self.description,
            "should_retry": self.should_retry,
            "suggested_action": self.suggested_action.value,
            "recovery_steps": list(self.recovery_steps),
        }


@dataclass(slots=True)
class PageRecord:
    """One stored page: the results JSONL line of docs/behaviour.md (plus ``data`` when asked)."""

    url: str
    final_url: str
    status: int
    depth: int
    title: str | None
    links: list[str]
    fetched_at: str
    attempts: int
    data: dict[str, Any] | None = None  # target_data fields, only when the job asks for them
    # "new" (first fetch), "changed", "unchanged" or "gone" (docs/recrawl.md); set by the
    # pipeline when the line is written.
    change: str = "new"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "depth": self.depth,
            "title": self.title,
            "links": self.links,
            "fetched_at": self.fetched_at,
            "attempts": self.attempts,
        }
        if self.data is not None:
            d["data"] = self.data
        d["change"] = self.change
        return d


@dataclass(frozen=True, slots=True)
class PageState:
    """What the state keeps about one stored page so that it can be revisited (docs/recrawl.md).

    Times are epoch seconds; 0 means "never" / "unknown". Validators are kept as the server sent
    them (a weak ETag keeps its ``W/``); empty when it sent none we can use."""

    url: str
    etag: str = ""
    last_modified: str = ""  # an HTTP-date, sent back as If-Modified-Since
    digest: str = ""  # of the normalised content; "" for a page stored before digests existed
    final_url: str = ""  # where the last full fetch ended (a 304 from elsewhere is not trusted)
    changed_at: float = 0.0  # the visit that last found new content (the first fetch counts)
    visited_at: float = 0.0  # the last visit that got an answer (200, 304 or 404/410)
    due_at: float = 0.0  # the next revisit is due (never before the visit that set it)
    interval_s: float = 0.0  # the current revisit interval; 0: not set yet
    revisits: int = 0  # answered revisits so far (every audit_every-th is unconditional)
    gone: bool = False  # the last visit answered 404/410 (or a soft-404)

    def to_json(self) -> dict[str, Any]:
        """Everything but ``url`` and ``due_at`` (the stores key and index those)."""
        d = asdict(self)
        del d["url"], d["due_at"]
        return d

    @classmethod
    def from_json(cls, url: str, due_at: float, data: Mapping[str, Any]) -> PageState:
        """The inverse of :meth:`to_json`. Unknown keys are ignored; a missing key, or one of the
        wrong type (a state written by hand or by another version), takes its default."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in ("url", "due_at") or f.name not in data:
                continue
            value, default = data[f.name], f.default
            if isinstance(default, bool):
                ok = isinstance(value, bool)
            elif isinstance(default, float):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                ok = ok and math.isfinite(value)
                value = float(value) if ok else value
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, str)
            if ok:
                values[f.name] = value
        return cls(url=url, due_at=due_at, **values)


@dataclass(slots=True)
class DLQEntry:
    """A URL that failed for good, with what a person needs to act on it."""

    id: int
    url: str
    attempts: int
    error: dict[str, Any]  # category, message, status_code (+ the rest of the failure record)
    analysis: dict[str, Any]  # the six analysis keys
    first_failed_at: str
    last_failed_at: str
    depth: int = 0
    host: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "attempts": self.attempts,
            "error": self.error,
            "analysis": self.analysis,
            "first_failed_at": self.first_failed_at,
            "last_failed_at": self.last_failed_at,
            "depth": self.depth,
            "host": self.host,
            "context": self.context,
            "history": self.history,
        }

    def public_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` for people (CLI, status server, exports): the URL's secrets redacted.
        The stored entry keeps the URL as requested: ``dlq retry`` must request it again."""
        out = self.to_dict()
        out["url"] = redact_url(self.url)
        return out


class ErrorResult(TypedDict):
    """What ``AdaptiveCrawler._handle_error`` returns for one failure (docs/failure-path.md)."""

    error: str
    context: dict[str, Any]
    analysis: dict[str, Any]  # the six analysis keys, or {"error": "error analysis failed"}
    should_retry: bool
    retry_count: int


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
    alerts: list[dict[str, Any]] = field(default_factory=list)  # run-over-run checks that fired
    # Recrawl (docs/recrawl.md): what this invocation's visits found. pages_stored counts
    # new + changed + unchanged (every page a visit confirmed).
    pages_new: int = 0
    pages_changed: int = 0
    pages_unchanged: int = 0  # 304s and full downloads whose digest had not changed
    not_modified: int = 0  # 304 answers (a 304 nobody asked for too: docs/recrawl.md)
    pages_gone: int = 0
    bytes_downloaded: int = 0  # response bodies received, decoded (error excerpts included)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def reset(self) -> None:
        """Back to zero, in place (the live counters of the next invocation)."""
        fresh = CrawlSummary()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def headline(self) -> str:
        """The contract's counters on one line, for people reading a terminal or a log."""
        keys = ("pages_ok", "pages_failed", "requests", "retries", "llm_calls", "dlq_items")
        return ", ".join(f"{k}={getattr(self, k)}" for k in (*keys, "duration_s"))


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """``crawl(url)``: the stored page, or the last failure's result when it was not stored."""

    url: str
    page: PageRecord | None
    failure: ErrorResult | None = None
    dead_lettered: bool = False

    @property
    def ok(self) -> bool:
        return self.page is not None

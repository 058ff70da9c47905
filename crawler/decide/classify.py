"""Failure classification: the ONE table from an exception (or HTTP status) to a failure record.

``classify()`` is pure: it reads an exception of :mod:`crawler.errors` and returns a
:class:`~crawler.records.FailureRecord`; retry policy, breaker, throttle and DLQ act on that record
only. Anything that is not one of our fetch errors becomes ``UNKNOWN`` — classify never raises.

Decisions the table encodes (docs/failure-path.md, "Taxonomy"):

* NETWORK, TIMEOUT, SERVER (5xx) are retryable and feed the host's breaker.
* DNS: a name that surely does not exist (``nxdomain``) is certain and never retried; a temporary
  resolver failure is retried.
* TLS: certificate errors are never retried; a transient handshake failure is (the retry policy
  allows it once, see ``policy.CATEGORY_MAX_RETRIES``).
* 429 is RATE_LIMIT. A bare 503 is SERVER (an overloaded or down server), but a 503 that carries
  a usable ``Retry-After`` is RATE_LIMIT, like a 429: the server said when to come back, and
  a wait over ``max_retry_after_s`` is parked as RATE_LIMIT "on 429 and 503". Both
  carry ``retry_after_s`` and the raw header in their message (the server's time, for the DLQ).
* 401/403 are AUTH and 451/400/other 4xx are CLIENT, none retried; 408 is TIMEOUT and retried. 4xx
  never count for the breaker: the host answered.
* AUTH, BLOCKED and UNKNOWN are not certain: the LLM manager may be asked about them.
* For HTTP statuses, whether to retry is decided by ``retry_http_codes`` (data, overridable from
  ``[retry] retry_http_codes``), not by the rows.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from crawler.config import DEFAULT_RETRY_CODES
from crawler.errors import (
    BlockedPage,
    ContentError,
    DNSError,
    FetchError,
    FetchTimeout,
    HostGivenUp,
    HTTPStatusError,
    NetworkError,
    RedirectError,
    RobotsDisallowed,
    RobotsUnavailable,
    TLSError,
)
from crawler.records import Category, FailureRecord, Severity, header, iso

__all__ = [
    "DEFAULT_RETRY_CODES",
    "EXCEPTION_RULES",
    "MAX_EXCERPT_CHARS",
    "RETRY_AFTER_CAP_S",
    "RETRY_AFTER_CODES",
    "STATUS_RULES",
    "Rule",
    "category_rule",
    "classify",
    "failure_from_dict",
    "parse_retry_after",
]

# Statuses whose Retry-After header the crawler honours (docs/failure-path.md, "Retry-After").
RETRY_AFTER_CODES: frozenset[int] = frozenset({429, 503})
MAX_EXCERPT_CHARS = 512
MAX_MESSAGE_CHARS = 1000
MAX_CHAIN = 8
# The longest wait a server's Retry-After can ask for, in seconds (one year). Any number the server
# sends is clamped to this before arithmetic, so a 400-digit value or a date in year 9999 is a
# finite wait that later sums (now + wait, ISO timestamps) cannot overflow. A wait this long is
# far beyond any sane ``max_retry_after_s``, so the URL is parked as RATE_LIMIT all the same.
RETRY_AFTER_CAP_S = 365 * 24 * 3600.0
_RETRY_AFTER_SHOWN = 64  # characters of the raw header kept in the message
_DELTA_SECONDS = re.compile(r"[0-9]+")  # RFC 9110 delta-seconds: ASCII digits only


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the classification table.

    ``retryable`` is ``None`` on HTTP-status rows: there ``retry_http_codes`` decides.
    """

    category: Category
    severity: Severity
    retryable: bool | None
    certain: bool = True
    counts_for_breaker: bool = False


_C, _S = Category, Severity

# Exception kinds (see _kind) → rule. Rows of one category come in order of how typical they are:
# category_rule() takes the first.
EXCEPTION_RULES: Mapping[str, Rule] = {
    "network": Rule(_C.NETWORK, _S.MEDIUM, True, counts_for_breaker=True),
    "dns_nxdomain": Rule(_C.DNS, _S.HIGH, False, counts_for_breaker=True),
    "dns_temporary": Rule(_C.DNS, _S.MEDIUM, True, counts_for_breaker=True),
    "timeout": Rule(_C.TIMEOUT, _S.MEDIUM, True, counts_for_breaker=True),
    "tls_certificate": Rule(_C.TLS, _S.HIGH, False, counts_for_breaker=True),
    "tls_handshake": Rule(_C.TLS, _S.MEDIUM, True, counts_for_breaker=True),
    "content": Rule(_C.CONTENT, _S.LOW, False),
    "redirect": Rule(_C.REDIRECT, _S.LOW, False),
    "robots": Rule(_C.ROBOTS, _S.LOW, False),
    "blocked": Rule(_C.BLOCKED, _S.HIGH, False, certain=False),
    "login": Rule(_C.AUTH, _S.HIGH, False, certain=False),
    "soft_404": Rule(_C.NOT_FOUND, _S.LOW, False),
    "unknown": Rule(_C.UNKNOWN, _S.MEDIUM, False, certain=False),
}

# Exact statuses first; then the class rows (keys 3, 4, 5 stand for 3xx, 4xx, 5xx).
STATUS_RULES: Mapping[int, Rule] = {
    429: Rule(_C.RATE_LIMIT, _S.MEDIUM, None, counts_for_breaker=True),
    408: Rule(_C.TIMEOUT, _S.MEDIUM, None),
    401: Rule(_C.AUTH, _S.HIGH, None, certain=False),
    403: Rule(_C.AUTH, _S.HIGH, None, certain=False),
    404: Rule(_C.NOT_FOUND, _S.LOW, None),
    410: Rule(_C.NOT_FOUND, _S.LOW, None),
    451: Rule(_C.CLIENT, _S.MEDIUM, None),
    3: Rule(_C.REDIRECT, _S.LOW, None),
    4: Rule(_C.CLIENT, _S.LOW, None),
    5: Rule(_C.SERVER, _S.MEDIUM, None, counts_for_breaker=True),
}


def _kind(exc: BaseException) -> str:
    """The EXCEPTION_RULES key of a non-HTTP-status exception. Subclasses before their bases."""
    if isinstance(exc, DNSError):
        return "dns_nxdomain" if exc.nxdomain else "dns_temporary"
    if isinstance(exc, NetworkError):
        return "network"
    if isinstance(exc, FetchTimeout):
        return "timeout"
    if isinstance(exc, TLSError):
        return "tls_certificate" if exc.certificate else "tls_handshake"
    if isinstance(exc, ContentError):
        return "content"
    if isinstance(exc, RedirectError):
        return "redirect"
    if isinstance(exc, RobotsDisallowed):
        return "robots"
    if isinstance(exc, BlockedPage):
        return exc.kind if exc.kind in ("login", "soft_404") else "blocked"
    return "unknown"


def _status_rule(status: int) -> Rule:
    rule = STATUS_RULES.get(status) or STATUS_RULES.get(status // 100)
    return rule if rule is not None else EXCEPTION_RULES["unknown"]


def category_rule(category: Category) -> Rule:
    """The most typical row of ``category`` (for callers that know only a category name).

    A status row's ``retryable`` is resolved against ``DEFAULT_RETRY_CODES`` (class rows by their
    x00 code), so the result is always a plain bool.
    """
    for rule in EXCEPTION_RULES.values():
        if rule.category is category:
            return rule
    for key, rule in STATUS_RULES.items():
        if rule.category is category:
            code = key if key >= 100 else key * 100
            return replace(rule, retryable=code in DEFAULT_RETRY_CODES)
    return EXCEPTION_RULES["unknown"]


def classify(
    exc: BaseException,
    *,
    url: str,
    host: str,
    attempt: int,
    method: str = "GET",
    correlation_id: str = "",
    now: datetime | None = None,
    retry_http_codes: Collection[int] = DEFAULT_RETRY_CODES,
) -> FailureRecord:
    """Turn one exception into a failure record. Never raises.

    ``HostGivenUp`` takes the category, severity and status of its ``last`` failure, but is
    final: not retryable, certain, and not fed to the breaker again.
    """
    now = now or datetime.now(UTC)
    try:
        return _classify(
            exc,
            url=url,
            host=host,
            attempt=attempt,
            method=method,
            correlation_id=correlation_id,
            now=now,
            retry_http_codes=retry_http_codes,
        )
    except Exception as inner:  # a bug here must not lose the URL: fall back to UNKNOWN
        rule = EXCEPTION_RULES["unknown"]
        return FailureRecord(
            category=rule.category,
            severity=rule.severity,
            message=_bounded(_safe_str(exc), MAX_MESSAGE_CHARS),
            url=url,
            host=host,
            method=method,
            attempt=attempt,
            correlation_id=correlation_id,
            timestamp=iso(now),
            exception_chain=(_describe(exc), f"classify failed: {_describe(inner)}"),
            retryable=False,
            certain=False,
        )


def _classify(
    exc: BaseException,
    *,
    url: str,
    host: str,
    attempt: int,
    method: str,
    correlation_id: str,
    now: datetime,
    retry_http_codes: Collection[int],
) -> FailureRecord:
    status: int | None = None
    retry_after: float | None = None
    excerpt = ""
    if isinstance(exc, FetchError):
        url = url or exc.url
        status = exc.status
        excerpt = exc.excerpt
    message = _safe_str(exc)

    if isinstance(exc, HostGivenUp):
        given = exc.record
        rule = Rule(given.category, given.severity, False) if given else EXCEPTION_RULES["unknown"]
        if given is not None:
            status = given.status_code
            retry_after = given.retry_after_s
            excerpt = excerpt or given.response_excerpt
            if given.message and given.message not in message:
                message = f"{message} (last failure: {given.message})"
        retryable, certain, counts = False, True, False  # final, and already counted
    elif isinstance(exc, RobotsUnavailable):
        # Retried as the robots.txt failure would be; not the fault of the URL's own host.
        inner = _classify(
            exc.last if exc.last is not None else NetworkError(message, url=url),
            url=url,
            host=host,
            attempt=attempt,
            method=method,
            correlation_id=correlation_id,
            now=now,
            retry_http_codes=retry_http_codes,
        )
        rule = Rule(inner.category, inner.severity, inner.retryable)
        status = inner.status_code
        retry_after = inner.retry_after_s
        if inner.message and inner.message not in message:
            message = f"{message} (robots.txt: {inner.message})"
        retryable, certain, counts = inner.retryable, True, False
    elif isinstance(exc, HTTPStatusError) and exc.status is not None:
        rule = _status_rule(exc.status)
        retryable = exc.status in retry_http_codes
        certain = rule.certain
        counts = rule.counts_for_breaker
        if exc.status in RETRY_AFTER_CODES:
            raw = header(exc.headers, "retry-after")
            retry_after = parse_retry_after(raw, now)
            if retry_after is not None:
                rule = STATUS_RULES[429]  # a 503 that says when to come back is a rate limit
                shown = _bounded(raw.strip() if raw else "", _RETRY_AFTER_SHOWN)
                message = f"{message} (Retry-After: {shown})"
    else:
        rule = EXCEPTION_RULES[_kind(exc)]
        retryable = bool(rule.retryable)
        # A page verdict that was confident (or that the LLM already settled) is not asked about.
        certain = rule.certain or (isinstance(exc, BlockedPage) and exc.certain)
        counts = rule.counts_for_breaker

    return FailureRecord(
        category=rule.category,
        severity=rule.severity,
        message=_bounded(message, MAX_MESSAGE_CHARS),
        url=url,
        host=host,
        method=method,
        status_code=status,
        attempt=attempt,
        correlation_id=correlation_id,
        timestamp=iso(now),
        response_excerpt=_bounded(excerpt, MAX_EXCERPT_CHARS),
        retry_after_s=retry_after,
        exception_chain=_chain(exc),
        retryable=retryable,
        certain=certain,
        counts_for_breaker=counts,
    )


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a foreign __str__ that raises must not break classification
        text = ""
    return text or type(exc).__name__


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_bounded(_safe_str(exc), 300)}"


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chain(exc: BaseException) -> tuple[str, ...]:
    """``exc`` then its causes, as ``"Type: message"``; explicit ``__cause__`` wins over context."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(out) < MAX_CHAIN:
        seen.add(id(current))
        out.append(_describe(current))
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None
    return tuple(out)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: ``delta-seconds`` or an HTTP-date.

    A date in the past gives 0. Garbage (negative numbers, non-ASCII digits, unparsable dates)
    gives None. Never raises, and never more than :data:`RETRY_AFTER_CAP_S`: a number of any
    length or a date in year 9999 becomes that finite cap.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.fullmatch(text):
        # Compare digit counts before converting: int() refuses over 4,300 digits and float()
        # overflows past 308; the cap has 8.
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(int(RETRY_AFTER_CAP_S))):
            return RETRY_AFTER_CAP_S
        return min(float(int(digits)), RETRY_AFTER_CAP_S)
    if len(text) > 200:  # no HTTP-date is this long; parsing it would only cost time
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:
        return RETRY_AFTER_CAP_S
    return min(max(0.0, seconds), RETRY_AFTER_CAP_S)


def failure_from_dict(data: Mapping[str, Any]) -> FailureRecord:
    """Rebuild a record from ``FailureRecord.to_dict()`` output (unknown keys are ignored).

    Missing flags fall back to the category's table row.
    """
    category = Category(str(data.get("category", Category.UNKNOWN.value)).upper())
    rule = category_rule(category)
    severity_raw = data.get("severity")
    severity = Severity(str(severity_raw).lower()) if severity_raw else rule.severity
    status = data.get("status_code")
    retry_after = data.get("retry_after_s")
    return FailureRecord(
        category=category,
        severity=severity,
        message=str(data.get("message", "")),
        url=str(data.get("url", "")),
        host=str(data.get("host", "")),
        method=str(data.get("method", "GET")),
        status_code=int(status) if status is not None else None,
        attempt=int(data.get("attempt", 1)),
        correlation_id=str(data.get("correlation_id", "")),
        timestamp=str(data.get("timestamp", "")),
        response_excerpt=_bounded(str(data.get("response_excerpt", "")), MAX_EXCERPT_CHARS),
        retry_after_s=float(retry_after) if retry_after is not None else None,
        exception_chain=tuple(str(x) for x in data.get("exception_chain", ())),
        retryable=bool(data.get("retryable", bool(rule.retryable))),
        certain=bool(data.get("certain", rule.certain)),
        counts_for_breaker=bool(data.get("counts_for_breaker", rule.counts_for_breaker)),
    )

"""The classification table, Retry-After parsing and the block-page heuristic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from crawler.decide.classify import (
    DEFAULT_RETRY_CODES,
    MAX_EXCERPT_CHARS,
    category_rule,
    classify,
    failure_from_dict,
    parse_retry_after,
)
from crawler.errors import (
    BlockedPage,
    ConfigError,
    ContentError,
    DNSError,
    FetchError,
    FetchTimeout,
    HostGivenUp,
    HTTPStatusError,
    NetworkError,
    RedirectError,
    RobotsDisallowed,
    TLSError,
)
from crawler.records import Category, Severity, iso

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
C, S = Category, Severity


def http(status: int, **headers: str) -> HTTPStatusError:
    return HTTPStatusError(f"HTTP {status}", status=status, headers=headers, excerpt="body")


# (exception, category, severity, retryable, certain, counts_for_breaker)
TABLE = [
    (NetworkError("Connection refused"), C.NETWORK, S.MEDIUM, True, True, True),
    (DNSError("no such host", nxdomain=True), C.DNS, S.HIGH, False, True, True),
    (DNSError("temporary failure", nxdomain=False), C.DNS, S.MEDIUM, True, True, True),
    (FetchTimeout("read timeout", phase="read"), C.TIMEOUT, S.MEDIUM, True, True, True),
    (FetchTimeout("connect timeout", phase="connect"), C.TIMEOUT, S.MEDIUM, True, True, True),
    (TLSError("certificate verify failed", certificate=True), C.TLS, S.HIGH, False, True, True),
    (TLSError("handshake reset", certificate=False), C.TLS, S.MEDIUM, True, True, True),
    (http(429), C.RATE_LIMIT, S.MEDIUM, True, True, True),
    (http(500), C.SERVER, S.MEDIUM, True, True, True),
    (http(502), C.SERVER, S.MEDIUM, True, True, True),
    (http(503), C.SERVER, S.MEDIUM, True, True, True),
    (http(504), C.SERVER, S.MEDIUM, True, True, True),
    (http(501), C.SERVER, S.MEDIUM, False, True, True),
    (http(401), C.AUTH, S.HIGH, False, False, False),
    (http(403), C.AUTH, S.HIGH, False, False, False),
    (http(404), C.NOT_FOUND, S.LOW, False, True, False),
    (http(410), C.NOT_FOUND, S.LOW, False, True, False),
    (http(408), C.TIMEOUT, S.MEDIUM, True, True, False),
    (http(400), C.CLIENT, S.LOW, False, True, False),
    (http(418), C.CLIENT, S.LOW, False, True, False),
    (http(451), C.CLIENT, S.MEDIUM, False, True, False),
    (http(300), C.REDIRECT, S.LOW, False, True, False),
    (BlockedPage("captcha", status=200), C.BLOCKED, S.HIGH, False, False, False),
    (ContentError("too large", reason="too_large"), C.CONTENT, S.LOW, False, True, False),
    (RedirectError("redirect loop"), C.REDIRECT, S.LOW, False, True, False),
    (RobotsDisallowed("disallowed"), C.ROBOTS, S.LOW, False, True, False),
    (FetchError("something odd"), C.UNKNOWN, S.MEDIUM, False, False, False),
    (ValueError("not ours"), C.UNKNOWN, S.MEDIUM, False, False, False),
    (ConfigError("x", 1, "y"), C.UNKNOWN, S.MEDIUM, False, False, False),
    (KeyboardInterrupt(), C.UNKNOWN, S.MEDIUM, False, False, False),
]


@pytest.mark.parametrize(
    ("exc", "category", "severity", "retryable", "certain", "counts"),
    TABLE,
    ids=[
        f"{type(row[0]).__name__}-{getattr(row[0], 'status', '')}-{i}"
        for i, row in enumerate(TABLE)
    ],
)
def test_classification_table(
    exc: BaseException,
    category: Category,
    severity: Severity,
    retryable: bool,
    certain: bool,
    counts: bool,
) -> None:
    rec = classify(exc, url="http://a.test/x", host="a.test:80", attempt=2, now=NOW)
    assert (rec.category, rec.severity, rec.retryable, rec.certain, rec.counts_for_breaker) == (
        category,
        severity,
        retryable,
        certain,
        counts,
    )
    assert rec.url == "http://a.test/x"
    assert rec.host == "a.test:80"
    assert rec.attempt == 2
    assert rec.timestamp == iso(NOW)
    assert rec.exception_chain[0].startswith(type(exc).__name__)


def test_record_fields_from_http_error() -> None:
    exc = HTTPStatusError(
        "HTTP 429 Too Many Requests",
        status=429,
        headers={"retry-after": "7"},
        excerpt="x" * 5000,
    )
    rec = classify(
        exc,
        url="http://a.test/p",
        host="a.test:80",
        attempt=3,
        method="HEAD",
        correlation_id="abc",
        now=NOW,
    )
    assert rec.status_code == 429
    assert rec.retry_after_s == 7.0
    assert rec.method == "HEAD"
    assert rec.correlation_id == "abc"
    assert rec.message == "HTTP 429 Too Many Requests (Retry-After: 7)"
    assert len(rec.response_excerpt) <= MAX_EXCERPT_CHARS
    assert rec.response_excerpt.startswith("xxx")


def test_503_with_retry_after_is_a_rate_limit() -> None:
    rec = classify(http(503, **{"Retry-After": "30"}), url="u", host="h", attempt=1, now=NOW)
    assert rec.category is Category.RATE_LIMIT
    assert rec.status_code == 503
    assert rec.retry_after_s == 30.0
    assert rec.retryable
    assert rec.counts_for_breaker
    assert rec.message == "HTTP 503 (Retry-After: 30)"  # the server's time, for the DLQ


def test_503_without_usable_retry_after_is_server() -> None:
    for headers in ({}, {"Retry-After": "whenever"}):
        rec = classify(http(503, **headers), url="u", host="h", attempt=1, now=NOW)
        assert rec.category is Category.SERVER
        assert rec.retry_after_s is None
        assert rec.message == "HTTP 503"


def test_retry_after_ignored_on_other_statuses() -> None:
    rec = classify(http(500, **{"Retry-After": "30"}), url="u", host="h", attempt=1, now=NOW)
    assert rec.retry_after_s is None


def test_retry_codes_are_data() -> None:
    assert 503 in DEFAULT_RETRY_CODES
    rec = classify(http(503), url="u", host="h", attempt=1, now=NOW, retry_http_codes=[500])
    assert rec.category is Category.SERVER
    assert not rec.retryable
    rec = classify(http(404), url="u", host="h", attempt=1, now=NOW, retry_http_codes=[404])
    assert rec.category is Category.NOT_FOUND
    assert rec.retryable


def test_host_given_up_takes_category_of_last_failure() -> None:
    last = classify(
        NetworkError("Connection refused", url="http://a.test/1"),
        url="http://a.test/1",
        host="a.test:80",
        attempt=1,
        now=NOW,
    )
    exc = HostGivenUp("host a.test:80 given up", record=last)
    rec = classify(exc, url="http://a.test/2", host="a.test:80", attempt=1, now=NOW)
    assert rec.category is Category.NETWORK
    assert rec.severity is Severity.MEDIUM
    assert not rec.retryable
    assert rec.certain
    assert not rec.counts_for_breaker
    assert "Connection refused" in rec.message
    assert rec.exception_chain[0].startswith("HostGivenUp:")

    exc = HostGivenUp("given up", record=classify(http(503), url="u", host="h", attempt=1, now=NOW))
    rec = classify(exc, url="u", host="h", attempt=1, now=NOW)
    assert (rec.category, rec.status_code) == (Category.SERVER, 503)

    rec = classify(HostGivenUp("given up"), url="u", host="h", attempt=1, now=NOW)
    assert rec.category is Category.UNKNOWN


def test_exception_chain_follows_cause_and_context() -> None:
    try:
        try:
            raise OSError("connect ECONNREFUSED")
        except OSError as inner:
            raise NetworkError("Connection refused") from inner
    except NetworkError as exc:
        caught = exc
    rec = classify(caught, url="u", host="h", attempt=1, now=NOW)
    assert rec.exception_chain == (
        "NetworkError: Connection refused",
        "OSError: connect ECONNREFUSED",
    )

    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise FetchTimeout("total timeout") from None
    except FetchTimeout as exc:
        suppressed = exc
    rec = classify(suppressed, url="u", host="h", attempt=1, now=NOW)
    assert rec.exception_chain == ("FetchTimeout: total timeout",)

    try:
        try:
            raise KeyError("k")
        except KeyError:
            raise ValueError("implicit")  # noqa: B904 — the implicit __context__ is the point
    except ValueError as exc:
        implicit = exc
    rec = classify(implicit, url="u", host="h", attempt=1, now=NOW)
    assert rec.exception_chain == ("ValueError: implicit", "KeyError: 'k'")


def test_cyclic_chain_terminates() -> None:
    a, b = ValueError("a"), ValueError("b")
    a.__cause__, b.__cause__ = b, a
    rec = classify(a, url="u", host="h", attempt=1, now=NOW)
    assert rec.exception_chain == ("ValueError: a", "ValueError: b")


def test_exception_with_broken_str_never_raises() -> None:
    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str for you")

    rec = classify(Weird(), url="u", host="h", attempt=1, now=NOW)
    assert rec.category is Category.UNKNOWN
    assert rec.message == "Weird"


def test_url_taken_from_exception_when_not_given() -> None:
    rec = classify(NetworkError("x", url="http://b.test/"), url="", host="b.test:80", attempt=1)
    assert rec.url == "http://b.test/"
    assert rec.timestamp  # defaults to the current time


def test_category_rule_and_failure_from_dict_round_trip() -> None:
    assert category_rule(Category.RATE_LIMIT).retryable is True
    assert category_rule(Category.SERVER).retryable is True
    assert category_rule(Category.AUTH).retryable is False
    assert category_rule(Category.AUTH).certain is False
    assert category_rule(Category.DNS).retryable is False  # nxdomain is the typical DNS row
    rec = classify(http(429, **{"Retry-After": "3"}), url="u", host="h", attempt=2, now=NOW)
    assert failure_from_dict(rec.to_dict()) == rec
    partial = failure_from_dict({"category": "server", "message": "boom"})
    assert partial.category is Category.SERVER
    assert partial.retryable
    assert partial.counts_for_breaker


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("  5 ", 5.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),  # RFC 850, still allowed by RFC 9110
        ("Wed, 01 May 2024 11:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
        ("Wed, 99 Foo 2024 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now() -> None:
    assert parse_retry_after("Wed, 01 May 2024 12:00:10 GMT", NOW.replace(tzinfo=None)) == 10.0

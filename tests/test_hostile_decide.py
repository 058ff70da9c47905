"""Hostile numbers and robots.txt files meet the pure parts: clamped, never raised, obeyed."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.decide.classify import RETRY_AFTER_CAP_S, classify, parse_retry_after
from crawler.errors import HTTPStatusError
from crawler.records import Category
from crawler.web.robots import ROBOTS_MAX_BYTES, rules_from_body
from tests.raw_server import RawServer, response

NOW = datetime(2026, 1, 1, tzinfo=UTC)
UA = "adaptive-crawler/0.1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("9" * 400, RETRY_AFTER_CAP_S),  # float(int(...)) overflowed: UNKNOWN, status null
        ("9" * 5000, RETRY_AFTER_CAP_S),  # int() refuses more than 4,300 digits
        ("99999999999999999999", RETRY_AFTER_CAP_S),
        ("Fri, 31 Dec 9999 23:59:59 GMT", RETRY_AFTER_CAP_S),
        ("0000000000000000000000000000000000000000007", 7.0),
        ("120", 120.0),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),
        ("Wed, 31 Dec 2025 00:00:00 GMT", 0.0),
        ("\u00b2", None),  # str.isdigit() says yes, int() says no
        ("\u0661\u0662", None),  # Arabic-Indic digits are not HTTP's DIGIT
        ("-5", None),
        ("1e9", None),
        ("x" * 10_000, None),
    ],
)
def test_retry_after_is_clamped_before_arithmetic(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("value", ["9" * 400, "9" * 5000, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_absurd_retry_after_stays_rate_limit_with_its_status(status: int, value: str) -> None:
    exc = HTTPStatusError(f"HTTP {status}", status=status, headers={"Retry-After": value})
    record = classify(exc, url="http://h/", host="h:80", attempt=1, now=NOW)
    assert record.category is Category.RATE_LIMIT
    assert record.status_code == status
    assert record.retry_after_s == RETRY_AFTER_CAP_S
    assert "Retry-After: " in record.message
    assert len(record.message) < 200  # the raw header is shown, cut short


@given(st.text(max_size=300))
def test_parse_retry_after_is_total(value: str) -> None:
    seconds = parse_retry_after(value, NOW)
    assert seconds is None or 0.0 <= seconds <= RETRY_AFTER_CAP_S


@given(st.integers(min_value=0, max_value=10**500))
def test_any_delta_seconds_is_finite_and_capped(number: int) -> None:
    assert parse_retry_after(str(number), NOW) == min(float(min(number, 10**9)), RETRY_AFTER_CAP_S)


# -- robots.txt -------------------------------------------------------------------------------
RULES = "User-agent: *\nDisallow: /private/\n"


@pytest.mark.parametrize(
    "body",
    [
        codecs.BOM_UTF8 + RULES.encode(),  # was ignored: "\ufeffUser-agent" is no known line
        codecs.BOM_UTF8 + RULES.replace("\n", "\r\n").encode(),
        RULES.replace("\n", "\r").encode(),
        RULES.encode("utf-16"),  # with its BOM
        b"\x00\xff\xfe\x80junk\n" + RULES.encode() + b"\x00\x01\xff",
        RULES.replace("/\n", "/\x00\n").encode(),
    ],
    ids=["bom", "bom-crlf", "cr", "utf16", "binary-junk", "nul"],
)
def test_hostile_robots_bodies_are_obeyed(body: bytes) -> None:
    rules = rules_from_body(body, UA)
    assert not rules.allowed("http://h/private/x")
    assert rules.allowed("http://h/public")


def test_huge_robots_parses_500_kib_and_drops_the_cut_line() -> None:
    line = b"Disallow: /p%06d/\n"
    body = b"User-agent: *\n" + b"".join(line % i for i in range(60_000))
    assert len(body) > 2 * ROBOTS_MAX_BYTES
    rules = rules_from_body(body, UA)
    last_whole = (ROBOTS_MAX_BYTES - len(b"User-agent: *\n")) // len(line % 0) - 1
    assert not rules.allowed(f"http://h/p{last_whole:06d}/x")
    assert rules.allowed(f"http://h/p{59_999:06d}/x")  # past the limit: not read
    # The line cut by the limit ("Disallow: /p0" of "/p012345/") is dropped, not obeyed.
    assert rules.allowed("http://h/p0999999")


@given(st.binary(max_size=2000))
def test_rules_from_any_bytes_never_raise(body: bytes) -> None:
    rules = rules_from_body(body, UA)
    rules.allowed("http://h/x")
    assert rules.crawl_delay() >= 0


async def test_crawl_obeys_robots_with_a_bom(
    make_config: Callable[..., Config], tmp_path: object
) -> None:
    async with RawServer() as server:
        html = b'<title>home</title><a href="/private/x">p</a><a href="/ok">ok</a>'
        server.route("/", response(200, [("Content-Type", "text/html")], html))
        server.route("/ok", response(200, [("Content-Type", "text/html")], b"<title>ok</title>"))
        server.route("/private/x", response(200, [("Content-Type", "text/html")], b"secret"))
        robots = codecs.BOM_UTF8 + RULES.replace("\n", "\r\n").encode()
        server.route("/robots.txt", response(200, [("Content-Type", "text/plain")], robots))
        async with AdaptiveCrawler(make_config()) as crawler:
            summary = await crawler.run([server.url("/")])
            dlq = await crawler.storage.dlq_list()
        assert server.hits["/private/x"] == 0, "a robots.txt-disallowed URL was requested"
        assert summary.pages_ok == 2
        assert [e.error["category"] for e in dlq] == ["ROBOTS"]


def test_a_huge_title_is_stored_capped() -> None:
    from crawler.web.parse import MAX_TITLE_CHARS, parse_html

    page = b"<title>" + b"spam \x1b[2J " * 500_000 + b"</title><a href='/x'>x</a>"
    parsed = parse_html(page, "http://h/")
    assert parsed.title is not None
    assert len(parsed.title) == MAX_TITLE_CHARS
    assert parsed.title.endswith("…")
    assert parsed.links == ["http://h/x"]

"""The rule-based analyser: one analysis per category, through both entry points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.decide.classify import classify
from crawler.decide.rules import Analyser, RuleAnalyser
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
    TLSError,
)
from crawler.records import Action, Category, FailureRecord, Severity

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
URL, HOST = "http://shop.test:8080/item/7", "shop.test:8080"


def record_of(exc: BaseException) -> FailureRecord:
    return classify(exc, url=URL, host=HOST, attempt=1, now=NOW)


def http(status: int, **headers: str) -> HTTPStatusError:
    return HTTPStatusError(f"HTTP {status}", status=status, headers=headers)


CASES = [
    (NetworkError("Connection refused"), "connection_refused", Action.RETRY_LATER),
    (NetworkError("Server disconnected"), "server_disconnected", Action.RETRY_LATER),
    (DNSError("Name or service not known", nxdomain=True), "dns_nxdomain", Action.GIVE_UP_HOST),
    (DNSError("Temporary failure", nxdomain=False), "dns_temporary", Action.RETRY_LATER),
    (FetchTimeout("read timeout after 30s", phase="read"), "read_timeout", Action.RETRY_LATER),
    (
        TLSError("certificate verify failed", certificate=True),
        "tls_certificate",
        Action.GIVE_UP_HOST,
    ),
    (TLSError("handshake failed"), "tls_handshake", Action.RETRY_LATER),
    (http(429), "http_429", Action.SLOW_DOWN_HOST),
    (http(503), "http_503", Action.RETRY_LATER),
    (http(403), "http_403", Action.GIVE_UP_URL),
    (http(404), "http_404", Action.GIVE_UP_URL),
    (http(400), "http_400", Action.GIVE_UP_URL),
    (BlockedPage("captcha page", status=200), "captcha", Action.GIVE_UP_URL),
    (ContentError("body too large", reason="too_large"), "content_too_large", Action.GIVE_UP_URL),
    (RedirectError("redirect loop detected"), "redirect_loop", Action.GIVE_UP_URL),
    (RobotsDisallowed("disallowed by robots.txt"), "robots_disallowed", Action.GIVE_UP_URL),
    (FetchError("weird"), "unknown_error", Action.GIVE_UP_URL),
    (
        HostGivenUp("host given up", record=record_of(NetworkError("refused"))),
        "host_given_up",
        Action.GIVE_UP_HOST,
    ),
]


@pytest.mark.parametrize(("exc", "error_type", "action"), CASES, ids=[c[1] for c in CASES])
def test_analysis_per_category(exc: BaseException, error_type: str, action: Action) -> None:
    record = record_of(exc)
    analysis = RuleAnalyser().analyse(record)
    assert analysis.error_type == error_type
    assert analysis.suggested_action is action
    assert analysis.should_retry is record.retryable
    assert analysis.severity is record.severity
    assert analysis.source == "rules"
    assert 2 <= len(analysis.recovery_steps) <= 4
    assert all(isinstance(s, str) and s for s in analysis.recovery_steps)
    assert "{" not in " ".join(analysis.recovery_steps)  # every placeholder filled
    assert URL in analysis.description
    assert HOST in analysis.description
    assert analysis.description.endswith(".")
    if record.status_code is not None:
        assert f"HTTP {record.status_code}" in analysis.description
    assert set(analysis.to_dict()) == {
        "error_type",
        "severity",
        "description",
        "should_retry",
        "suggested_action",
        "recovery_steps",
    }


def test_every_category_has_steps() -> None:
    analyser = RuleAnalyser()
    for category in Category:
        record = FailureRecord(category, Severity.MEDIUM, "m", URL, HOST)
        assert len(analyser.analyse(record).recovery_steps) >= 2


def test_retry_after_means_wait() -> None:
    analysis = RuleAnalyser().analyse(record_of(http(429, **{"Retry-After": "42"})))
    assert analysis.suggested_action is Action.WAIT
    assert analysis.wait_s == 42.0
    assert "42s" in analysis.description
    analysis = RuleAnalyser().analyse(record_of(http(503, **{"Retry-After": "5"})))
    assert analysis.suggested_action is Action.WAIT


async def test_analyze_error_reads_the_failure_record() -> None:
    analyser: Analyser = RuleAnalyser()
    record = record_of(http(404))
    by_record = await analyser.analyze_error("m", "HTTP 404", {"failure": record})
    by_dict = await analyser.analyze_error("m", "HTTP 404", {"failure": record.to_dict()})
    assert by_record == by_dict
    assert by_record.error_type == "http_404"


async def test_analyze_error_falls_back_to_category() -> None:
    analysis = await RuleAnalyser().analyze_error(
        "m", "Connection refused", {"category": "network", "url": URL, "host": HOST}
    )
    assert analysis.error_type == "connection_refused"
    assert analysis.should_retry
    assert analysis.suggested_action is Action.RETRY_LATER
    assert URL in analysis.description


async def test_analyze_error_never_raises() -> None:
    analyser = RuleAnalyser()
    for context in (None, {}, {"category": "NOPE"}, {"failure": {"category": "bogus"}}):
        analysis = await analyser.analyze_error("m", "??", context)
        assert analysis.error_type  # an UNKNOWN analysis, not an exception
    analysis = await analyser.analyze_error("m", "??", {"failure": {"category": "bogus"}})
    assert analysis.error_type == "unknown_error"
    assert not analysis.should_retry

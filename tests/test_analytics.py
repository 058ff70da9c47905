"""Error analytics: snapshot shape, rates, groups, bounded history, callback isolation."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from crawler.decide.rules import RuleAnalyser
from crawler.decide.signature import normalise_message
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import Analysis, Category, FailureRecord, Severity


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def rec(
    category: Category = Category.SERVER,
    *,
    host: str = "a.test:80",
    message: str = "HTTP 503 Service Unavailable",
    status: int | None = 503,
    severity: Severity = Severity.MEDIUM,
) -> FailureRecord:
    return FailureRecord(
        category=category,
        severity=severity,
        message=message,
        url=f"http://{host}/x",
        host=host,
        status_code=status,
        timestamp="2024-05-01T12:00:00+00:00",
    )


def test_snapshot_shape_and_counts() -> None:
    clock = Clock()
    a = ErrorAnalytics(clock=clock)
    a.count("requests", 10)
    a.count("retries")
    a.record(rec(), RuleAnalyser().analyse(rec()))
    a.record(rec(host="b.test:80"), None)
    a.record(rec(Category.NOT_FOUND, message="HTTP 404", status=404, severity=Severity.LOW), None)
    snap = a.snapshot()
    assert set(snap) == {
        "counters",
        "errors_total",
        "by_category",
        "by_severity",
        "by_host",
        "by_type",
        "errors_per_minute",
        "rate_window_s",
        "top_errors",
        "history",
        "notifications",
    }
    json.dumps(snap)  # plain data all the way down
    assert snap["counters"] == {"requests": 10, "retries": 1, "errors": 3}
    assert snap["errors_total"] == 3
    assert snap["by_category"] == {"SERVER": 2, "NOT_FOUND": 1}
    assert snap["by_severity"] == {"medium": 2, "low": 1}
    assert snap["by_host"] == {"a.test:80": 2, "b.test:80": 1}
    assert snap["by_type"] == {"http_503": 1, "server": 1, "not_found": 1}
    assert snap["top_errors"][0]["count"] == 2
    assert snap["top_errors"][0]["hosts"] == ["a.test:80", "b.test:80"]
    assert snap["top_errors"][0]["category"] == "SERVER"
    assert snap["history"][-1]["category"] == "NOT_FOUND"
    assert snap["history"][0]["suggested_action"] == "give_up_url"  # rec() is not retryable


def test_errors_per_minute_over_the_window() -> None:
    clock = Clock(0.0)
    a = ErrorAnalytics(rate_window_s=300.0, clock=clock)
    for _ in range(30):
        a.record(rec(), None)
    assert a.errors_per_minute() == 30.0  # run shorter than a minute: per the first minute
    clock.t = 150.0
    assert a.errors_per_minute() == pytest.approx(12.0)  # 30 errors in 2.5 minutes
    clock.t = 301.0
    assert a.errors_per_minute() == 0.0  # all left the window


def test_history_is_bounded() -> None:
    a = ErrorAnalytics(history_size=5, clock=Clock())
    for i in range(50):
        a.record(rec(message=f"boom {i}"), None)
    history = a.snapshot()["history"]
    assert len(history) == 5
    assert history[-1]["message"] == "boom 49"


def test_messages_group_by_pattern() -> None:
    assert normalise_message("timeout after 10.5s on http://x.test/a?b=1 id deadbeef1234") == (
        "timeout after <n>s on <url> id <hex>"
    )
    a = ErrorAnalytics(clock=Clock())
    for i in range(5):
        a.record(rec(Category.NETWORK, message=f"Connection refused to 10.0.0.{i}:80"), None)
    a.record(rec(Category.TIMEOUT, message="read timeout"), None)
    top = a.top_errors()
    assert [g["count"] for g in top] == [5, 1]
    assert top[0]["pattern"] == "connection refused to <n>:<n>"


def test_notifications_keep_high_and_critical() -> None:
    a = ErrorAnalytics(clock=Clock())
    a.record(rec(severity=Severity.LOW), None)
    a.record(rec(Category.AUTH, severity=Severity.HIGH, status=403), None)
    notes = a.snapshot()["notifications"]
    assert [n["category"] for n in notes] == ["AUTH"]


def test_callbacks_run_and_a_raising_one_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    a = ErrorAnalytics(clock=Clock())
    seen: list[tuple[Category, Analysis | None]] = []

    def broken(record: FailureRecord, analysis: Analysis | None) -> None:
        raise RuntimeError("callback bug")

    a.on_error(broken)
    a.on_error(lambda r, an: seen.append((r.category, an)))
    with caplog.at_level(logging.ERROR, logger="crawler.observe.analytics"):
        a.record(rec(), None)
        a.record(rec(Category.DNS), None)
    assert seen == [(Category.SERVER, None), (Category.DNS, None)]
    assert "callback bug" in caplog.text
    assert a.snapshot()["errors_total"] == 2


async def test_async_callbacks_are_scheduled_and_isolated(caplog: pytest.LogCaptureFixture) -> None:
    a = ErrorAnalytics(clock=Clock())
    seen: list[str] = []

    async def notify(record: FailureRecord, analysis: Analysis | None) -> None:
        await asyncio.sleep(0)
        seen.append(record.host)

    async def broken(record: FailureRecord, analysis: Analysis | None) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async callback bug")

    a.on_error(notify)
    a.on_error(broken)
    with caplog.at_level(logging.ERROR, logger="crawler.observe.analytics"):
        a.record(rec(), None)
        assert seen == []  # scheduled, not awaited inside record()
        await a.drain()
    assert seen == ["a.test:80"]
    assert "async callback bug" in caplog.text


def test_async_callback_without_loop_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    a = ErrorAnalytics(clock=Clock())

    async def notify(record: FailureRecord, analysis: Analysis | None) -> None:
        raise AssertionError("never runs")

    a.on_error(notify)
    with caplog.at_level(logging.WARNING, logger="crawler.observe.analytics"):
        a.record(rec(), None)
    assert "no running event loop" in caplog.text

"""The pure recrawl decisions (crawler/decide/recrawl.py) and the Fetcher's 304."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.config import FetchConfig, RecrawlConfig
from crawler.decide.hints import MAX_FALSE_SAME, Evidence, HintBook
from crawler.decide.recrawl import (
    Change,
    Schedule,
    Visit,
    VisitRules,
    conditional_headers,
    http_date,
    plan_visit,
    same_etag,
    validators,
)
from crawler.errors import HTTPStatusError
from crawler.records import PageState, header
from crawler.testing import Status, TestSite
from crawler.web.fetch import Fetcher
from tests.recrawl_site import ChangingSite

UA = "adaptive-crawler-test/1"
CFG = RecrawlConfig(min_interval_s=100.0, max_interval_s=10_000.0, initial_interval_s=1000.0)
NOW = 1_800_000_000.0
DATE = "Fri, 15 Jan 2027 08:00:00 GMT"  # == NOW
EARLIER = "Thu, 14 Jan 2027 08:00:00 GMT"


# -- the schedule ---------------------------------------------------------------------------------
def test_intervals_grow_shrink_and_clamp() -> None:
    s = Schedule(CFG)
    assert s.interval("u", 0.0, None) == 1000.0  # a new page
    assert s.interval("u", 1000.0, False) == pytest.approx(1400.0)
    assert s.interval("u", 1000.0, True) == pytest.approx(800.0)
    assert s.interval("u", 1000.0, None) == 1000.0
    assert s.interval("u", 9000.0, False) == 10_000.0
    assert s.interval("u", 110.0, True) == 100.0
    assert s.interval("u", math.inf, False) == 10_000.0
    tiny = Schedule(RecrawlConfig(initial_interval_s=5.0, min_interval_s=60.0))
    assert tiny.interval("u", 0.0, None) == 60.0


def test_fixed_intervals_by_pattern() -> None:
    s = Schedule(RecrawlConfig(intervals={"/news/": 60.0, r"\.pdf$": 1e9, "/": 5.0}))
    assert s.interval("http://x/news/1", 5000.0, False) == 60.0  # first match, not adapted
    assert s.interval("http://x/a.pdf", 0.0, None) == 1e9  # not clamped either
    assert s.fixed("http://x/other") == 5.0


@given(
    previous=st.floats(min_value=0, max_value=1e12),
    changed=st.sampled_from([True, False, None]),
    now=st.floats(min_value=0, max_value=4e9),
    start_before=st.floats(min_value=0, max_value=1e7),
)
def test_the_schedule_stays_in_bounds_and_never_in_the_past(
    previous: float, changed: bool | None, now: float, start_before: float
) -> None:
    s = Schedule(CFG)
    interval = s.interval("u", previous, changed)
    assert CFG.min_interval_s <= interval <= CFG.max_interval_s
    due = s.due(interval, now=now, run_start=now - start_before)
    assert due >= now


# -- validators ---------------------------------------------------------------------------------
def test_validators_kept_and_refused() -> None:
    assert validators({"ETag": ' "abc" ', "Last-Modified": EARLIER, "Date": DATE}, NOW) == (
        '"abc"',
        EARLIER,
    )
    assert validators({"etag": 'W/"x"'}, NOW) == ('W/"x"', "")
    assert validators({"ETag": '"a\x07b"'}, NOW) == ("", "")  # control characters
    assert validators({"ETag": '"' + "x" * 600 + '"'}, NOW) == ("", "")
    # A Last-Modified later than the response's Date, or than our clock without a Date: refused.
    assert validators({"Last-Modified": DATE, "Date": EARLIER}, NOW) == ("", "")
    assert validators({"Last-Modified": "Sat, 16 Jan 2027 08:00:00 GMT"}, NOW) == ("", "")
    assert validators({"Last-Modified": EARLIER}, NOW) == ("", EARLIER)
    assert validators({"Last-Modified": "yesterday"}, NOW) == ("", "")
    assert http_date(DATE) == NOW
    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") is not None  # RFC 850, obsolete
    assert http_date("9" * 600) is None


def test_weak_comparison() -> None:
    assert same_etag('W/"x"', '"x"')
    assert not same_etag('"x"', '"y"')
    assert not same_etag("", "")


def page(**kw: object) -> PageState:
    values: dict[str, object] = {
        "etag": '"v1"',
        "last_modified": EARLIER,
        "digest": "d1",
        "final_url": "http://x/a",
        "visited_at": NOW - 1000,
        "changed_at": NOW - 5000,
        "interval_s": 1000.0,
    }
    values.update(kw)
    return PageState("http://x/a", **values)  # type: ignore[arg-type]


def test_what_a_visit_sends() -> None:
    assert plan_visit(None, trust_validators=True, audit_every=8) == Visit(None, {})
    both = {"If-None-Match": '"v1"', "If-Modified-Since": EARLIER}
    assert conditional_headers(page()) == both
    assert plan_visit(page(), trust_validators=True, audit_every=8).headers == both
    assert plan_visit(page(), trust_validators=False, audit_every=8).headers == {}
    assert plan_visit(page(gone=True), trust_validators=True, audit_every=8).headers == {}
    assert plan_visit(page(etag="", last_modified=""), trust_validators=True, audit_every=8) == (
        Visit(page(etag="", last_modified=""), {})
    )
    # Every audit_every-th answered revisit is sent without validators; never the first.
    audits = [
        plan_visit(page(revisits=n), trust_validators=True, audit_every=4).audit for n in range(9)
    ]
    assert audits == [False, False, False, True, False, False, False, True, False]
    assert not any(
        plan_visit(page(revisits=n), trust_validators=True, audit_every=0).audit for n in range(9)
    )
    assert not plan_visit(page(revisits=0), trust_validators=True, audit_every=1).audit


# -- what an answer means ------------------------------------------------------------------------
RULES = VisitRules(Schedule(CFG))


def content(visit: Visit, digest: str, headers: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return RULES.content(
        "http://x/a",
        visit,
        final_url="http://x/a",
        digest=digest,
        headers=headers or {"ETag": '"v2"'},
        now=NOW,
        run_start=NOW - 10,
        **kw,  # type: ignore[arg-type]
    )


def test_first_fetch_then_unchanged_then_changed() -> None:
    first = content(Visit(None, {}), "d1", {"ETag": '"v1"'})
    assert first.change is Change.NEW
    assert (first.page.interval_s, first.page.due_at) == (1000.0, NOW - 10 + 1000.0)
    assert (first.page.changed_at, first.page.visited_at, first.page.revisits) == (NOW, NOW, 0)
    visit = Visit(page(), {"If-None-Match": '"v1"'})
    same = content(visit, "d1", {"ETag": '"v1"'})  # the server ignored our If-None-Match
    assert same.change is Change.UNCHANGED
    assert same.page.interval_s == pytest.approx(1400.0)
    assert same.page.changed_at == NOW - 5000
    assert same.evidence == (Evidence("validators", False, False),)
    changed = content(visit, "d2", {"ETag": '"v2"'})
    assert changed.change is Change.CHANGED
    assert (changed.page.interval_s, changed.page.changed_at) == (pytest.approx(800.0), NOW)
    assert changed.page.etag == '"v2"'
    assert changed.page.last_modified == ""
    assert changed.evidence == (Evidence("validators", True, True),)


def test_pages_that_cannot_be_compared_are_changed() -> None:
    migrated = content(Visit(page(digest="", etag=""), {}), "d1")
    assert migrated.change is Change.CHANGED
    assert migrated.evidence == ()
    back = content(Visit(page(gone=True), {}), "d1")
    assert back.change is Change.CHANGED
    assert not back.page.gone


def test_not_modified() -> None:
    visit = Visit(page(), {"If-None-Match": '"v1"'})
    out = RULES.not_modified(
        "http://x/a", visit, final_url="http://x/a", headers={}, now=NOW, run_start=NOW
    )
    assert out.change is Change.UNCHANGED
    assert (out.page.etag, out.page.last_modified) == ('"v1"', EARLIER)  # kept
    assert out.page.interval_s == pytest.approx(1400.0)
    fresh = RULES.not_modified(
        "http://x/a",
        visit,
        final_url="http://x/a",
        headers={"ETag": '"v1b"'},
        now=NOW,
        run_start=NOW,
    )
    assert fresh.page.etag == '"v1b"'  # a 304 may update the validators
    # A 304 nobody asked for, or from another URL: proves nothing; next visit is a full fetch.
    for v, final in ((Visit(page(), {}), "http://x/a"), (visit, "http://x/elsewhere")):
        out = RULES.not_modified(
            "http://x/a", v, final_url=final, headers={}, now=NOW, run_start=NOW
        )
        assert out.page.interval_s == 1000.0
        assert (out.page.etag, out.page.last_modified) == ("", "")
        assert out.evidence == ()


def test_gone_and_failed() -> None:
    visit = Visit(page(), {"If-None-Match": '"v1"'})
    gone = RULES.gone("http://x/a", visit, now=NOW, run_start=NOW - 10)
    assert gone.change is Change.GONE
    assert gone.page.gone
    assert gone.page.due_at == NOW - 10 + CFG.max_interval_s
    failed = RULES.failed(visit, now=NOW, run_start=NOW - 10)
    assert (failed.due_at, failed.interval_s, failed.digest) == (NOW - 10 + 1000.0, 1000.0, "d1")


def test_lastmod_evidence() -> None:
    visit = Visit(page(), {"If-None-Match": '"v1"'})
    said_changed = content(visit, "d1", {"ETag": '"v1"'}, lastmod=NOW - 10)
    assert Evidence("lastmod", True, False) in said_changed.evidence
    said_same = content(visit, "d2", lastmod=NOW - 99_999)
    assert Evidence("lastmod", False, True) in said_same.evidence


# -- hints ----------------------------------------------------------------------------------------
def test_hint_book() -> None:
    book = HintBook(min_samples=4, min_accuracy=0.5)
    for _ in range(3):
        book.record("h", Evidence("lastmod", True, False))
    assert book.trusted("h", "lastmod")  # 3 < min_samples
    book.record("h", Evidence("lastmod", True, True))
    assert not book.trusted("h", "lastmod")  # 1 of 4 right
    book.record("h", Evidence("lastmod", False, True))  # a "same" that was wrong: not counted
    assert book.counts("h", "lastmod") == [1, 3, 0, 1]
    for _ in range(MAX_FALSE_SAME - 1):
        book.record("h", Evidence("validators", False, True))
    assert book.trusted("h", "validators")
    book.record("h", Evidence("validators", False, True))
    assert not book.trusted("h", "validators")
    assert book.trusted("other", "validators")
    again = HintBook(min_samples=4, min_accuracy=0.5)
    again.load(book.to_json())
    assert again.to_json() == book.to_json()
    again.load({"x": {"lastmod": [1, True, 0, 0], "bogus": [1, 1, 1, 1]}, "y": 3, 5: {}})
    assert again.counts("x", "lastmod") == [0, 0, 0, 0]
    again.load("not a dict")


# -- the Fetcher ----------------------------------------------------------------------------------
async def test_a_304_to_a_conditional_request_is_a_response() -> None:
    async with ChangingSite() as site:
        site.add("/a", "a")
        async with Fetcher(FetchConfig(), user_agent=UA) as fetcher:
            full = await fetcher.fetch(site.url("/a"))
            assert full.status == 200
            assert header(full.headers, "etag") == '"a-0"'
            received = fetcher.bytes_received
            assert received == len(full.body)
            resp = await fetcher.fetch(site.url("/a"), headers={"If-None-Match": '"a-0"'})
            assert (resp.status, resp.body, resp.final_url) == (304, b"", site.url("/a"))
            assert fetcher.bytes_received == received
    async with TestSite() as plain:
        plain.add("/x", Status(304))
        async with Fetcher(FetchConfig(), user_agent=UA) as fetcher:
            with pytest.raises(HTTPStatusError) as info:  # nobody asked: still an error
                await fetcher.fetch(plain.url("/x"))
            assert info.value.status == 304


# -- the docs ---------------------------------------------------------------------------------
def test_docs_recrawl_names_every_key_and_constant() -> None:
    """docs/recrawl.md is the reference the code cites: every [recrawl] key, the interval
    constants and the summary fields are in it."""
    from pathlib import Path

    from crawler.records import CrawlSummary

    text = (Path(__file__).resolve().parents[1] / "docs" / "recrawl.md").read_text("utf-8")
    for key in RecrawlConfig.model_fields:
        assert f"`{key}`" in text or f"`[recrawl] {key}`" in text, key
    defaults = RecrawlConfig()
    assert f"(**{defaults.grow_factor}**)" in text
    assert f"(**{defaults.shrink_factor}**)" in text
    assert MAX_FALSE_SAME == 2
    assert "**two** such findings" in text
    summary = CrawlSummary().to_dict()
    for field in ("pages_new", "pages_changed", "pages_unchanged", "not_modified", "pages_gone"):
        assert field in summary
        assert f"| `{field}` |" in text, field
    assert "| `bytes_downloaded` |" in text

"""Fuzzing the HTTP edge and the whole crawl with hostile servers (hypothesis + tests/raw_server).

Every generated response must end as a stored page, a failure of our own error tree (a DLQ entry
in a crawl) or nothing at all when robots.txt forbids it — never an exception from elsewhere, a
hang, a request outside the scope, a broken body stored as a page, or a traceback in the log.
CI runs a bounded number of examples; tests/fuzzing.py says how to run for longer.
"""

from __future__ import annotations

import asyncio
import codecs
import gzip
import json
import logging
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler import AdaptiveCrawler
from crawler.config import FetchConfig, load_config
from crawler.decide.classify import classify
from crawler.errors import FetchError
from crawler.records import Category
from crawler.web import coding
from crawler.web.fetch import Fetcher
from tests.conftest import FAST
from tests.fuzzing import FUZZ_SECONDS, fuzz_settings, run_rounds
from tests.raw_server import RawServer, Reply, response

HTML = b"<html><head><title>fuzz page</title></head><body>" + b"text " * 300 + b"</body></html>"
HUGE_TITLE = b"<title>" + b"t" * 5000 + b"</title>"

UA = "adaptive-crawler-test/1"


def _compress(name: str, data: bytes) -> bytes:
    if name == "gzip":
        return gzip.compress(data)
    if name == "deflate":
        return zlib.compress(data)
    if name == "br":
        import brotli

        return bytes(brotli.compress(data))
    if name == "zstd":
        from backports.zstd import compress

        return bytes(compress(data))
    return data


@dataclass
class Case:
    """One generated response and what it must (not) become."""

    reply: Reply
    body: bytes
    broken: bool  # the bytes are not a whole page: never stored, always an error
    clean: bool  # a well-formed 200: must be fetched whole
    notes: list[str] = field(default_factory=list)


_STATUS_LINES = [
    b"HTTP/1.1 200 OK",
    b"HTTP/1.0 200 OK",
    b"HTTP/1.1 200",
    b"HTTP/1.1 abc OK",
    b"HTTP/9.9 200 OK",
    b"HTTP/1.1 2000 OK",
    b"ICY 200 OK",
    b"HTTP/1.1 200 \x1b[2J",
    b"HTTP/1.1 -1 X",
    b"",
    b"\x00\x01\x02",
]
_HEADER_JUNK = st.one_of(
    st.sampled_from(
        [
            b"Content-Length: 5",
            b"Content-Length: -1",
            b"Content-Length: 99999999999999999999999",
            b"Content-Length: abc",
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: gzip, chunked",
            b"Content-Type: text/html; charset=\x1b[2J",
            b"Content-Type: \xff\xfe",
            b"Location: /x\x1b[2J",
            b"X-Long: " + b"a" * 9000,
            b": no name",
            b"no colon at all",
            b"Set-Cookie: a=b",
            b" leading-space: folded",
            b"Content-Encoding: gzip",
        ]
    ),
    st.binary(max_size=60).filter(lambda b: b"\r\n" not in b),
)


@st.composite
def responses(draw: st.DrawFn) -> Case:
    """A response built from parts whose damage is known, plus free junk whose effect is not."""
    notes: list[str] = []
    page = draw(st.sampled_from([HTML, HUGE_TITLE + HTML, b"", b"\x00\xff binary"]))
    codings = [
        "",
        "gzip",
        "deflate",
        "x-gzip",
        *(c for c in ("br", "zstd") if c in coding.SUPPORTED),
    ]
    coding_name = draw(st.sampled_from([*codings, "x-unknown", "gzip, deflate"]))
    real = {"x-gzip": "gzip"}.get(coding_name, coding_name)
    data = _compress(real, page) if real in ("gzip", "deflate", "br", "zstd") else page
    broken = coding_name in ("x-unknown", "gzip, deflate")
    damage = draw(st.sampled_from(["none", "none", "truncate", "garbage", "flip"]))
    if real in ("gzip", "deflate", "br", "zstd") and damage != "none" and len(data) > 2:
        if damage == "truncate":
            data = data[: draw(st.integers(1, len(data) - 1))]
            broken = True
        elif damage == "garbage":
            data = b"\x13\x37" + draw(st.binary(min_size=1, max_size=200))
            broken = True
        else:  # one flipped byte: may or may not decode; no expectation beyond "no crash"
            at = draw(st.integers(0, len(data) - 1))
            data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
            notes.append("flipped")
        notes.append(damage)
    framing = draw(st.sampled_from(["length", "length", "short", "none", "chunked", "chunk-cut"]))
    status_line = draw(st.sampled_from(_STATUS_LINES[:1] * 6 + _STATUS_LINES))
    junk = draw(st.lists(_HEADER_JUNK, max_size=3))
    head = [status_line, b"Content-Type: text/html"]
    if coding_name:
        head.append(b"Content-Encoding: " + coding_name.encode())
    if framing == "length":
        head.append(b"Content-Length: %d" % len(data))
        payload = data
    elif framing == "short":  # fewer bytes than promised: the transfer broke off
        head.append(b"Content-Length: %d" % (len(data) + draw(st.integers(1, 5000))))
        payload = data
        broken = True
    elif framing == "none":  # close-delimited
        payload = data
    else:
        head.append(b"Transfer-Encoding: chunked")
        payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data) if data else b"0\r\n\r\n"
        if framing == "chunk-cut":
            payload = payload[: draw(st.integers(0, max(0, len(payload) - 3)))]
            broken = True
    head.append(b"Connection: close")
    head.extend(junk)
    raw = b"\r\n".join(head) + b"\r\n\r\n" + payload
    chunk = draw(st.sampled_from([0, 0, 1, 7, 500]))
    clean = (
        not broken
        and status_line == b"HTTP/1.1 200 OK"
        and not junk
        and damage in ("none", "truncate", "garbage")
    )
    return Case(Reply(raw, chunk=chunk), page, broken, clean, notes)


async def _fetch_one(case: Case) -> None:
    async with RawServer() as server:
        server.route("/", case.reply)
        limits = FetchConfig(total_timeout_s=3, read_timeout_s=2, connect_timeout_s=2)
        async with Fetcher(limits, user_agent=UA) as fetcher:
            failure: FetchError | None = None
            try:
                resp = await asyncio.wait_for(fetcher.fetch(server.url("/")), 10)
            except FetchError as exc:
                failure = exc
    if failure is not None:
        record = classify(failure, url="http://h/", host="h", attempt=1)
        assert record.category is not Category.UNKNOWN, f"untranslated: {failure!r}"
        assert not case.clean, f"a clean response failed: {failure!r}"
        return
    assert not case.broken, f"a broken body was returned as a page ({case.notes})"
    if case.clean:
        assert resp.body == case.body


def test_fuzz_fetch_responses() -> None:
    @fuzz_settings(150)
    @given(responses())
    def check(case: Case) -> None:
        asyncio.run(_fetch_one(case))

    run_rounds(check)


# -- whole crawls of a hostile site ---------------------------------------------------------------
RULES = "User-agent: *\nDisallow: /private/\n"


def _robots_reply(kind: str) -> tuple[Reply | None, bool]:
    """The robots.txt reply of one kind and whether it forbids /private/."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    bodies = {
        "plain": RULES.encode(),
        "bom": codecs.BOM_UTF8 + RULES.encode(),
        "bom-crlf": codecs.BOM_UTF8 + RULES.replace("\n", "\r\n").encode(),
        "cr": RULES.replace("\n", "\r").encode(),
        "utf16": RULES.encode("utf-16"),
        "binary": b"\x00\xff\xfe\x80\n" + RULES.encode() + b"\x00\x01",
        "huge": RULES.encode() + b"# padding\n" * 80_000,
        "gzip": None,
    }
    if kind == "none":
        return None, False
    if kind == "gzip":
        body = gzip.compress(RULES.encode())
        head = ok + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        return Reply(head + body), True
    if kind == "garbage":
        return Reply(ok + b"Content-Length: 6\r\n\r\n\x00\x01\x02\x03\x04\x05"), False
    if kind == "500":
        return Reply(b"HTTP/1.1 500 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), True
    page = bodies[kind]
    assert page is not None
    return Reply(ok + b"Content-Length: %d\r\n\r\n" % len(page) + page), True


# Waits beyond max_retry_after_s too: the host's other URLs must be parked and the crawl end.
RETRY_AFTER_VALUES = [
    b"0",
    b"1",
    b"-3",
    b"soon",
    b"\xff\xfe",
    b"Thu, 01 Jan 1970 00:00:00 GMT",
    b"100000",
    b"9" * 400,
    b"Fri, 31 Dec 9999 23:59:59 GMT",
]


@st.composite
def page_replies(draw: st.DrawFn, offsite: str) -> tuple[Reply, bool]:
    """A reply for one linked URL, and whether it is broken (never to be stored)."""
    kind = draw(st.sampled_from(["response", "response", "redirect", "status", "retry-after"]))
    if kind == "response":
        case = draw(responses())
        return case.reply, case.broken
    if kind == "redirect":
        location = draw(
            st.sampled_from(
                [
                    "/p0",
                    "/private/secret",
                    "../p1",
                    offsite,
                    offsite + "private",
                    "/x\x1b[2J",
                    "javascript:alert(1)",
                    "",
                    "http://[::1",
                    "http://127.0.0.1:0/",
                    "//" + offsite.split("//", 1)[1],
                    "/" + "a" * 9000,
                    "/loop",
                ]
            )
        )
        status = draw(st.sampled_from([301, 302, 303, 307, 308]))
        head = b"HTTP/1.1 %d X\r\nLocation: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        return Reply(head % (status, location.encode("utf-8", "replace"))), False
    if kind == "status":
        status = draw(st.sampled_from([200, 204, 304, 400, 401, 403, 404, 410, 451, 500, 599]))
        return Reply(
            b"HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno" % status
        ), False
    value = draw(st.sampled_from(RETRY_AFTER_VALUES))
    status = draw(st.sampled_from([429, 503]))
    head = b"HTTP/1.1 %d X\r\nRetry-After: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    return Reply(head % (status, value)), False


@dataclass
class Site:
    robots: str
    pages: list[tuple[Reply, bool]]
    private: list[tuple[Reply, bool]]


def sites(offsite: str) -> st.SearchStrategy[Site]:
    robots = st.sampled_from(
        [
            "none",
            "plain",
            "bom",
            "bom-crlf",
            "cr",
            "utf16",
            "binary",
            "huge",
            "gzip",
            "garbage",
            "500",
        ]
    )
    return st.builds(
        Site,
        robots,
        st.lists(page_replies(offsite), min_size=1, max_size=5),
        st.lists(page_replies(offsite), max_size=2),
    )


class _Traces(logging.Handler):
    """Collects log records that carry a traceback: the crawler logs one only for a bug."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text:
            self.records.append(record)


async def _crawl_site(site: Site, offsite: RawServer) -> None:
    async with RawServer() as server:
        links = [f"/p{i}" for i in range(len(site.pages))]
        links += [f"/private/p{i}" for i in range(len(site.private))]
        index = b"<title>index</title>" + b"".join(
            b'<a href="%s">x</a>' % link.encode() for link in [*links, offsite.url("/off")]
        )
        server.route("/", response(200, [("Content-Type", "text/html")], index))
        server.route("/loop", response(302, [("Location", "/loop")]))
        robots, forbids_private = _robots_reply(site.robots)
        if robots is not None:
            server.route("/robots.txt", robots)
        broken: set[str] = set()
        for path, (reply, is_broken) in zip(links, [*site.pages, *site.private], strict=True):
            server.route(path, reply)
            if is_broken:
                broken.add(server.url(path))
        traces = _Traces()
        logger = logging.getLogger("crawler")
        logger.addHandler(traces)
        old_level = logger.level
        logger.setLevel(logging.DEBUG)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "out.jsonl"
                overrides: dict[str, Any] = {
                    **FAST,
                    "crawl.state_dir": str(Path(tmp) / "state"),
                    "crawl.out": str(out),
                    "retry.max_retries": 1,
                    "retry.max_retry_after_s": 2.0,
                    "fetch.total_timeout_s": 3.0,
                    "fetch.read_timeout_s": 2.0,
                    # Polite waits (throttle, breaker) are real but kept short for a fuzz run.
                    "throttle.max_delay_s": 0.1,
                    "throttle.calm_interval_s": 0.1,
                }
                cfg = load_config(None, overrides, env={})
                async with AdaptiveCrawler(cfg) as crawler:
                    summary = await asyncio.wait_for(crawler.run([server.url("/")]), 20)
                records = [json.loads(line) for line in out.read_text().splitlines()]
        finally:
            logger.removeHandler(traces)
            logger.setLevel(old_level)
    assert offsite.hits == {}, f"a request left the scope: {dict(offsite.hits)}"
    if forbids_private:
        requested = [p for p in server.paths if p.startswith("/private/")]
        assert requested == [], f"robots.txt ({site.robots}) forbids {requested}"
    assert summary.pending == 0, "the crawl ended with URLs still pending"
    for record in records:
        assert record["url"] not in broken, f"a broken body was stored: {record['url']}"
        assert record["title"] is None or len(record["title"]) <= 1000
    assert traces.records == [], [
        (r.getMessage()[:300], r.exc_text or repr(r.exc_info[1] if r.exc_info else None))
        for r in traces.records
    ]


@pytest.mark.timeout(120 + 2 * FUZZ_SECONDS)  # a long run (tests/fuzzing.py) gets its budget
def test_fuzz_whole_crawls() -> None:
    async def run(site_of: Any) -> None:
        async with RawServer() as offsite:
            site = site_of(offsite.url("/"))
            await _crawl_site(site, offsite)

    @fuzz_settings(25)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        asyncio.run(run(lambda offsite_url: data.draw(sites(offsite_url))))

    run_rounds(check)

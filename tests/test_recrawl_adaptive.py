"""Recrawl over many nights with an injected clock: intervals adapt, hints that lie are caught.

Each "night" is a new :class:`AdaptiveCrawler` over the same state dir (as cron starts a new
process), its clock a day later than the last one's; the site is a scripted transport whose
pages change as each test says. docs/recrawl.md has the rules these tests hold the code to.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import AdaptiveCrawler, load_config
from crawler.records import CrawlSummary, PageState
from crawler.storage import SQLiteStorage
from crawler.web.fetch import RawResponse

DAY = 86_400.0
HTML = {"Content-Type": "text/html"}


class Night:
    """The crawler's clock: real time plus a whole number of days."""

    def __init__(self) -> None:
        self.days = 0

    def __call__(self) -> float:
        return time.time() + self.days * DAY


class Site:
    """``pages``: path -> how its content changes: "static" (never), "live" (every request),
    "liar" (every night, behind one ETag that never changes and 304s that believe it)."""

    def __init__(self, pages: Mapping[str, str], clock: Night, *, sitemap_now: bool = False):
        self.pages = dict(pages)
        self.clock = clock
        self.sitemap_now = sitemap_now  # a generated sitemap: every <lastmod> is "now"
        self.requests: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()
        self.full: Counter[str] = Counter()  # 200s with a body

    def version(self, path: str) -> int:
        kind = self.pages[path]
        if kind == "live":
            return self.requests[path]
        if kind == "liar":
            return self.clock.days
        return 0

    async def exchange(self, url: str, headers: Mapping[str, str] | None) -> RawResponse:
        await asyncio.sleep(0)
        path = urlsplit(url).path
        self.requests[path] += 1
        sent = dict(headers or {})
        if "If-None-Match" in sent or "If-Modified-Since" in sent:
            self.conditional[path] += 1
        if path == "/robots.txt":
            body = b"User-agent: *\nSitemap: http://site.test/sitemap.xml\n"
            return 200, {"Content-Type": "text/plain"}, body, "text/plain"
        if path == "/sitemap.xml":
            return self._sitemap()
        if path not in self.pages and path != "/":
            return 404, HTML, b"<title>Not found</title>", "text/html"
        if path == "/":
            links = "".join(f'<a href="{p}">x</a>' for p in self.pages)
            body = f"<title>home</title>{links}".encode()
            return 200, {**HTML, "ETag": '"home"'}, body, "text/html"
        kind = self.pages[path]
        version = self.version(path)
        etag = '"same"' if kind == "liar" else f'"{path}-{version}"'
        if sent.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b"", None
        self.full[path] += 1
        words = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
        body = f"<title>{path}</title><p>{words[version % 8]} {'x' * version}</p>".encode()
        return 200, {**HTML, "ETag": etag}, body, "text/html"

    def _sitemap(self) -> RawResponse:
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat() if self.sitemap_now else ""
        entries = "".join(
            f"<url><loc>http://site.test{p}</loc>"
            + (f"<lastmod>{now}</lastmod>" if now else "")
            + "</url>"
            for p in self.pages
        )
        return (
            200,
            {"Content-Type": "application/xml"},
            f"<urlset>{entries}</urlset>".encode(),
            None,
        )


def nights(
    tmp_path: Path, site: Site, n: int, overrides: Mapping[str, Any] | None = None
) -> list[tuple[CrawlSummary, Counter[str]]]:
    """Crawl ``n`` nights; each night's summary and the requests it made per path."""
    values = {
        "crawl.state_dir": str(tmp_path / "state"),
        "crawl.recrawl": True,
        "llm.enabled": False,
        "log.level": "ERROR",
        "soft404.probe": False,
        "recrawl.min_interval_s": 3600.0,
        "recrawl.initial_interval_s": DAY,
        "recrawl.max_interval_s": 30 * DAY,
        **(overrides or {}),
    }
    cfg = load_config(None, values, env={})
    out: list[tuple[CrawlSummary, Counter[str]]] = []

    async def crawl() -> CrawlSummary:
        async with AdaptiveCrawler(cfg, clock=site.clock, transport=site) as crawler:
            return await crawler.run(["http://site.test/"])

    for _ in range(n):
        before = Counter(site.requests)
        summary = asyncio.run(crawl())
        out.append((summary, site.requests - before))
        site.clock.days += 1
    return out


def states(tmp_path: Path) -> dict[str, PageState]:
    async def read() -> dict[str, PageState]:
        store = SQLiteStorage(tmp_path / "state" / "state.sqlite3")
        await store.open()
        try:
            urls = [f"http://site.test/{p}" for p in ("", "static/0", "static/1", "live/0")]
            urls += [
                f"http://site.test/{k}/{i}"
                for k in ("static", "live", "liar", "fixed")
                for i in range(4)
            ]
            return {urlsplit(u).path: s for u, s in (await store.get_pages(urls)).items()}
        finally:
            await store.close()

    return asyncio.run(read())


def test_intervals_adapt_to_how_often_pages_change(tmp_path: Path) -> None:
    pages = {f"/static/{i}": "static" for i in range(3)}
    pages |= {f"/live/{i}": "live" for i in range(3)}
    pages["/fixed/0"] = "static"
    clock = Night()
    site = Site(pages, clock)
    runs = nights(tmp_path, site, 30, {"recrawl.intervals": {"/fixed/": DAY}})
    fetched = Counter({p: sum(r[p] for _, r in runs) for p in pages})
    # Always-changing pages are due every night (their interval shrinks to the minimum);
    # never-changing ones grow 1.4x at each visit: 1, 1.4, 1.96, 2.7 ... days apart.
    for i in range(3):
        assert fetched[f"/live/{i}"] == 30
        assert 8 <= fetched[f"/static/{i}"] <= 12, fetched
    # Exactly: due = that night's start + 1 day x 1.4^k (1, 1.4, 1.96, 2.74, 3.84, 5.38, 7.53,
    # 10.5 days); a page is fetched the first night at or after its due time.
    static_nights = [n for n, (_, r) in enumerate(runs) if r["/static/0"]]
    assert static_nights == [0, 1, 3, 5, 8, 12, 18, 26]
    assert fetched["/fixed/0"] == 30  # the override: every day, never adapted
    got = states(tmp_path)
    assert got["/live/0"].interval_s == 3600.0
    assert 10 * DAY < got["/static/0"].interval_s <= 30 * DAY
    assert got["/fixed/0"].interval_s == DAY
    for state in got.values():
        assert state.due_at >= state.visited_at  # never scheduled into the past
    # The static pages were revisited with validators and answered 304: never downloaded again.
    assert site.full["/static/0"] == 1
    assert site.conditional["/static/0"] == fetched["/static/0"] - 1
    # Every night's summary adds up: each revisit is new, changed or unchanged.
    for summary, _ in runs[1:]:
        assert summary.pages_changed == 3
        assert summary.pages_new == 0
        assert summary.pages_stored == summary.pages_changed + summary.pages_unchanged


def test_a_host_whose_304s_lie_is_caught_by_audits(tmp_path: Path) -> None:
    clock = Night()
    site = Site({"/liar/0": "liar", "/liar/1": "liar"}, clock)
    runs = nights(
        tmp_path, site, 9, {"recrawl.intervals": {"/liar/": 3600.0}, "recrawl.audit_every": 2}
    )
    changed = [s.pages_changed for s, _ in runs]
    # Night 1 stores; night 2 believes the ETag (304: the change is missed); night 3 is each
    # page's audit (its 2nd revisit), which finds the content changed under the same ETag —
    # two such findings on the host end the trust, and from then on every night fetches in
    # full and sees the change.
    assert changed == [0, 0, 2, 2, 2, 2, 2, 2, 2]
    assert site.conditional["/liar/0"] == 1
    assert site.conditional["/"] == 1  # the host's other pages lose their conditionals too


def test_a_sitemap_whose_lastmods_lie_stops_making_pages_due(tmp_path: Path) -> None:
    clock = Night()
    site = Site({f"/static/{i}": "static" for i in range(4)}, clock, sitemap_now=True)
    runs = nights(
        tmp_path,
        site,
        5,
        {"recrawl.initial_interval_s": 20 * DAY, "recrawl.hint_min_samples": 4},
    )
    revisits = [sum(n for p, n in r.items() if p.startswith("/static/")) for _, r in runs]
    # Night 1 stores the pages. Night 2: every <lastmod> says "changed today", so all four are
    # revisited (304: they did not change) — four wrong hints, enough to stop trusting them.
    assert revisits == [4, 4, 0, 0, 0]
    assert [s.not_modified for s, _ in runs][1] >= 4

"""Real crawls of the loopback test site, checking the stored records exactly."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.testing import Page, Redirect, Status, TestSite
from tests.conftest import read_jsonl

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def build_site(site: TestSite, other: TestSite) -> None:
    """Several pages, robots.txt, a Shift_JIS page, a <base> page and out-of-scope links."""
    site.robots = "User-agent: *\nDisallow: /private\n"
    site.add(
        "/",
        Page(
            title="Home",
            links=[
                "/a",
                "b",
                "/ja#top",
                "/based/",
                "/private/x",
                other.url("/elsewhere"),
                "https://example.invalid/",
                "mailto:someone@example.com",
                "/a",
            ],
        ),
    )
    site.add("/a", Page(title="Page A", links=["/", "/c?x=1&a=2"]))
    site.add("/b", Page(title="Page B", links=[]))
    site.add("/c?x=1&a=2", Page(title="Page C", links=["/a#frag"]))
    # Shift_JIS with the charset only in <meta>; "表" and "ソ" carry 0x5C trail bytes.
    site.add(
        "/ja",
        Page(title="表示ソフト", links=["/"], charset="shift_jis", header_charset=False),
    )
    site.add("/based/", Page(title="Based", links=["rel", "/abs"], base_href="/sub/"))
    site.add("/sub/rel", Page(title="Rel", links=[]))
    site.add("/abs", Page(title="Abs", links=[]))
    site.add("/private/x", Page(title="Secret", links=[]))
    other.add("/elsewhere", Page(title="Elsewhere"))


async def test_crawl_stores_exact_records(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    async with TestSite("127.0.0.1") as other:
        build_site(site, other)
        cfg = make_config(crawl__out=str(tmp_path / "out.jsonl"))
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
            dlq = await crawler.storage.dlq_list()
        assert other.hits == {}, "a link to another port was requested"

    records = {r["url"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    u = site.url
    assert set(records) == {
        u("/"),
        u("/a"),
        u("/b"),
        u("/c?x=1&a=2"),
        u("/ja"),
        u("/based/"),
        u("/sub/rel"),
        u("/abs"),
    }
    home = records[u("/")]
    assert home["links"] == [
        u("/a"),
        u("/b"),
        u("/ja"),
        u("/based/"),
        u("/private/x"),
        other.url("/elsewhere"),
        "https://example.invalid/",
    ]
    assert home["title"] == "Home"
    assert home["status"] == 200
    assert home["depth"] == 0
    assert home["final_url"] == u("/")
    assert home["attempts"] == 1
    assert ISO.match(home["fetched_at"])
    assert records[u("/ja")]["title"] == "表示ソフト"
    assert records[u("/based/")]["links"] == [u("/sub/rel"), u("/abs")]
    assert records[u("/c?x=1&a=2")]["depth"] == 2
    assert records[u("/c?x=1&a=2")]["links"] == [u("/a")]
    assert all(
        set(r)
        >= {"url", "final_url", "status", "depth", "title", "links", "fetched_at", "attempts"}
        for r in records.values()
    )
    # robots.txt: the disallowed page is never requested and ends in the DLQ as ROBOTS.
    assert site.hits["/private/x"] == 0
    assert [(e.url, e.error["category"]) for e in dlq] == [(u("/private/x"), "ROBOTS")]
    assert summary.pages_ok == 8
    assert summary.dlq_items == 1
    # Every page requested once, robots.txt once.
    assert site.hits["/robots.txt"] == 1
    assert max(v for k, v in site.hits.items() if k != "/robots.txt") == 1


async def test_resume_fetches_nothing_twice(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add("/", Page(title="Home", links=["/a", "/b"]))
    site.add("/a", Page(title="A"))
    site.add("/b", Page(title="B"))
    cfg = make_config(crawl__out=str(tmp_path / "out.jsonl"))
    async with AdaptiveCrawler(cfg) as crawler:
        first = await crawler.run([site.url("/")])
    async with AdaptiveCrawler(cfg) as crawler:
        second = await crawler.run([site.url("/")])
    assert first.pages_ok == second.pages_ok == 3
    assert second.requests == 0
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 3


async def test_depth_and_page_limits(site: TestSite, make_config: Callable[..., Config]) -> None:
    site.add("/", Page(title="0", links=["/1"]))
    site.add("/1", Page(title="1", links=["/2"]))
    site.add("/2", Page(title="2", links=["/3"]))
    site.add("/3", Page(title="3"))
    async with AdaptiveCrawler(make_config(crawl__max_depth=1)) as crawler:
        summary = await crawler.run([site.url("/")])
    assert summary.pages_ok == 2
    assert site.hits["/2"] == 0


async def test_max_pages(site: TestSite, make_config: Callable[..., Config]) -> None:
    site.add("/", Page(title="0", links=[f"/p{i}" for i in range(20)]))
    for i in range(20):
        site.add(f"/p{i}", Page(title=str(i)))
    async with AdaptiveCrawler(make_config(crawl__max_pages=5)) as crawler:
        summary = await crawler.run([site.url("/")])
    assert summary.pages_ok == 5
    assert sum(v for k, v in site.hits.items() if k.startswith("/p")) == 4


async def test_redirect_final_url_counts_as_seen(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add("/", Page(title="Home", links=["/old", "/new"]))
    site.add("/old", Redirect("/new", 301))
    site.add("/new", Page(title="New"))
    cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"), crawl__concurrency=1)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
    records = read_jsonl(tmp_path / "o.jsonl")
    old = next(r for r in records if r["url"] == site.url("/old"))
    assert old["final_url"] == site.url("/new")
    assert site.hits["/new"] == 1
    assert [r["url"] for r in records].count(site.url("/new")) == 0


async def test_non_html_and_charsets(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add("/", Page(title="Home", links=["/data.txt", "/ru", "/euc"]))
    site.add("/data.txt", Page(title=None, content_type="text/plain"))
    site.add("/ru", Page(title="Привет, мир", charset="windows-1251", header_charset=False))
    site.add("/euc", Page(title="日本語の表示", charset="euc_jp", header_charset=False))
    cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"))
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
    records = {r["url"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert records[site.url("/data.txt")]["title"] is None
    assert records[site.url("/data.txt")]["links"] == []
    assert records[site.url("/ru")]["title"] == "Привет, мир"
    assert records[site.url("/euc")]["title"] == "日本語の表示"


async def test_crawl_single_url_with_target_data(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/p", Page(title="Product", body_text="<span class='price'>42 EUR</span>"))
    async with AdaptiveCrawler(make_config()) as crawler:
        result = await crawler.crawl(site.url("/p"), {"price": ".price", "none": ".nothing"})
    assert result.ok
    assert result.page is not None
    assert result.page.title == "Product"
    assert result.page.data == {"price": "42 EUR", "none": None}


async def test_crawl_single_url_not_found(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/gone", Status(410))
    async with AdaptiveCrawler(make_config()) as crawler:
        result = await crawler.crawl(site.url("/gone"))
    assert not result.ok
    assert result.dead_lettered
    assert result.failure is not None
    assert result.failure["should_retry"] is False
    assert result.failure["context"]["category"] == "NOT_FOUND"
    assert site.hits["/gone"] == 1

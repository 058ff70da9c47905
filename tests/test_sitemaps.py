"""Sitemap parsing (crawler/web/sitemaps.py): the forms, the limits, hostile files."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from crawler.web.sitemaps import Sitemap, SitemapEntry, parse_lastmod, parse_sitemap

NOW = datetime(2027, 1, 15, tzinfo=UTC).timestamp()
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def parse(body: bytes, max_bytes: int = 1 << 20, max_urls: int = 1000) -> Sitemap:
    return parse_sitemap(body, now=NOW, max_bytes=max_bytes, max_urls=max_urls)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_urlset_with_lastmods() -> None:
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS}>
  <url><loc>http://a.test/1</loc><lastmod>2024-05-01</lastmod><priority>0.5</priority></url>
  <url><loc> http://a.test/2 </loc><lastmod>2024-05-01T10:00:00+02:00</lastmod></url>
  <url><loc>http://a.test/3</loc><lastmod>2024-05-01T10:00Z</lastmod></url>
  <url><loc>http://a.test/4</loc><lastmod>2024-05</lastmod></url>
  <url><loc>http://a.test/5</loc><lastmod>2024</lastmod></url>
  <url><loc>http://a.test/6</loc><lastmod>last tuesday</lastmod></url>
  <url><loc>http://a.test/7</loc></url>
  <url><lastmod>2024-05-01</lastmod></url>
</urlset>""".encode()
    got = parse(body)
    assert got.error == ""
    assert not got.truncated
    assert got.sitemaps == []
    assert got.urls == [
        SitemapEntry("http://a.test/1", ts("2024-05-01T00:00:00+00:00")),
        SitemapEntry("http://a.test/2", ts("2024-05-01T08:00:00+00:00")),
        SitemapEntry("http://a.test/3", ts("2024-05-01T10:00:00+00:00")),
        SitemapEntry("http://a.test/4", ts("2024-05-01T00:00:00+00:00")),
        SitemapEntry("http://a.test/5", ts("2024-01-01T00:00:00+00:00")),
        SitemapEntry("http://a.test/6", None),
        SitemapEntry("http://a.test/7", None),
    ]


def test_index_gzip_and_no_namespace() -> None:
    index = b"<sitemapindex><sitemap><loc>http://a.test/s1.xml.gz</loc>"
    index += b"<lastmod>2024-05-01</lastmod></sitemap></sitemapindex>"
    got = parse(gzip.compress(index))
    assert got.urls == []
    assert got.sitemaps == [
        SitemapEntry("http://a.test/s1.xml.gz", ts("2024-05-01T00:00:00+00:00"))
    ]


def test_plain_text_sitemap() -> None:
    got = parse(b"\xef\xbb\xbfhttp://a.test/1\r\nhttps://a.test/2\n  \nnot a url\nftp://x/\n")
    assert [e.loc for e in got.urls] == ["http://a.test/1", "https://a.test/2"]
    assert parse(b"\x00\x01\x02 junk").error


def test_lastmod_in_the_future_is_dropped() -> None:
    assert parse_lastmod("2027-01-15T12:00:00Z", NOW) is not None  # within a day: clock skew
    assert parse_lastmod("2027-01-17", NOW) is None
    assert parse_lastmod("9999-12-31", NOW) is None
    assert parse_lastmod("x" * 100, NOW) is None
    assert parse_lastmod("2024-13-01", NOW) is None
    assert parse_lastmod(None, NOW) is None


def test_limits() -> None:
    urls = b"".join(b"<url><loc>http://a.test/%d</loc></url>" % i for i in range(50))
    body = b"<urlset>" + urls + b"</urlset>"
    capped = parse(body, max_urls=10)
    assert len(capped.urls) == 10
    assert capped.truncated
    cut = parse(body, max_bytes=300)  # a file cut short still gives what it holds
    assert cut.truncated
    assert 0 < len(cut.urls) < 50
    bomb = gzip.compress(b"<urlset>" + b" " * 20_000_000 + b"</urlset>")
    assert len(bomb) < 50_000
    got = parse(bomb, max_bytes=1 << 20)
    assert got.truncated
    assert got.urls == []
    assert parse(b"\x1f\x8bnot gzip").error.startswith("gzip")
    long_loc = b"<urlset><url><loc>http://a.test/" + b"x" * 3000 + b"</loc></url></urlset>"
    assert parse(long_loc).urls == []


def test_hostile_xml() -> None:
    xxe = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<urlset><url><loc>&x;</loc></url><url><loc>http://a.test/ok</loc></url></urlset>"""
    assert [e.loc for e in parse(xxe).urls] == ["http://a.test/ok"]
    laughs = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>
<urlset><url><loc>&e;</loc></url></urlset>"""
    assert all(len(e.loc) < 2048 for e in parse(laughs).urls)
    broken = b"<urlset><url><loc>http://a.test/1</loc></url><url><loc>http://a.te"
    assert [e.loc for e in parse(broken).urls] == ["http://a.test/1"]
    assert parse(b"<html><body>Not found</body></html>").urls == []

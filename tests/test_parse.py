"""Charsets, title and links, the fast link resolver, and target_data selectors."""

from __future__ import annotations

import codecs
from urllib.parse import urldefrag, urljoin

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.errors import ConfigError
from crawler.web.parse import (
    Parsed,
    codec_for,
    decode_body,
    is_html,
    media_type,
    parse_html,
    select_fields,
    validate_selectors,
)
from crawler.web.urls import LinkResolver, resolve

# -- charsets ----------------------------------------------------------------------------------
# 表 and ソ are the classic Shift_JIS trouble: their second byte is 0x5C, ASCII "\".
SJIS_TEXT = "表示のテスト ソフト"
SJIS_PAGE = (
    '<html><head><meta charset="Shift_JIS"><title>表ソ 一覧</title></head>'
    f'<body><p>{SJIS_TEXT}</p><a href="/表/ソ.html">表</a></body></html>'
)


def _page(body: bytes, content_type: str | None = None) -> tuple[str, Parsed]:
    """What the crawler does with an HTML response: decode once, parse with that codec."""
    text, encoding = decode_body(body, content_type)
    return text, parse_html(body, "http://jp.test/dir/index.html", encoding)


def test_shift_jis_page_with_meta_charset_only() -> None:
    body = SJIS_PAGE.encode("shift_jis")
    assert b"\x95\x5c" in body  # 表 ...
    assert b"\x83\x5c" in body  # ... and ソ carry a 0x5C trail byte
    text, parsed = _page(body, "text/html")
    assert decode_body(body, None)[1] == "cp932"
    assert SJIS_TEXT in text
    assert parsed.title == "表ソ 一覧"
    assert parsed.links == ["http://jp.test/表/ソ.html"]


def test_cp932_extensions_decode_under_a_shift_jis_label() -> None:
    body = '<meta charset="sjis"><title>①ｱ髙</title>'.encode("cp932")  # not in plain Shift_JIS
    text, parsed = _page(body)
    assert "①ｱ髙" in text
    assert parsed.title == "①ｱ髙"


def test_euc_jp_page() -> None:
    page = (
        '<html><head><meta charset="EUC-JP"><title>日本語のページ</title></head>'
        "<body>表ソ</body></html>"
    )
    text, parsed = _page(page.encode("euc_jp"))
    assert decode_body(page.encode("euc_jp"), None)[1] == "euc_jp"
    assert "表ソ" in text
    assert parsed.title == "日本語のページ"


def test_windows_1251_page_with_http_equiv_meta() -> None:
    page = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        "<title>Привет,  мир</title></head><body>Съешь же ещё этих мягких булок</body></html>"
    )
    text, parsed = _page(page.encode("cp1251"))
    assert decode_body(page.encode("cp1251"), None)[1] == "cp1251"
    assert "Съешь же ещё" in text
    assert parsed.title == "Привет, мир"


def test_header_charset_wins_over_meta() -> None:
    body = '<meta charset="iso-8859-1"><title>Ёлка</title>'.encode("koi8_r")
    text, encoding = decode_body(body, 'text/html; charset="KOI8-R"')
    assert encoding == "koi8-r"
    assert "Ёлка" in text
    assert parse_html(body, "http://x.test/", encoding).title == "Ёлка"


def test_unknown_header_charset_falls_through_to_meta() -> None:
    body = '<meta charset="windows-1251"><title>Ёлка</title>'.encode("cp1251")
    assert decode_body(body, "text/html; charset=no-such-codec") == (
        '<meta charset="windows-1251"><title>Ёлка</title>',
        "cp1251",
    )


@pytest.mark.parametrize(
    ("bom", "codec", "expected"),
    [
        (codecs.BOM_UTF8, "utf-8", "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    ],
)
def test_bom_beats_meta(bom: bytes, codec: str, expected: str) -> None:
    page = '<meta charset="windows-1252"><title>Zoë — ☃</title><a href="a">a</a>'
    body = bom + page.encode(codec)
    text, parsed = _page(body)
    assert decode_body(body, None)[1] == expected
    assert text == page  # the BOM itself is not text
    assert parsed.title == "Zoë — ☃"
    assert parsed.links == ["http://jp.test/dir/a"]


def test_meta_claiming_utf16_means_utf8() -> None:
    body = '<meta charset="utf-16"><title>Zoë</title>'.encode()
    assert decode_body(body, None) == ('<meta charset="utf-16"><title>Zoë</title>', "utf-8")


def test_detection_without_any_declaration() -> None:
    page = "<html><body><p>" + "Съешь же ещё этих мягких французских булок, да выпей чаю. " * 20
    text, encoding = decode_body(page.encode("cp1251"), "text/html")
    assert text == page
    assert encoding == "cp1251"
    assert decode_body("<p>Zoë ☃</p>".encode(), None) == ("<p>Zoë ☃</p>", "utf-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", None),
        (b"\xff\xfe\xfd\x80\x81" * 50, None),
        (b"<title>caf\xe9 \xff\xfe</title>", "text/html; charset=utf-8"),
        (bytes(range(256)) * 20, "text/html; charset=shift_jis"),
        (b"<meta charset=base64>\x00\x01", "text/html; charset=utf-7"),
        (b"\x00" * 1000, "text/html; charset=utf-16"),
    ],
)
def test_undecodable_bytes_never_raise(body: bytes, content_type: str | None) -> None:
    text, encoding = decode_body(body, content_type)
    assert isinstance(text, str)
    assert codecs.lookup(encoding)  # a real codec, usable again by parse_html
    assert isinstance(parse_html(body, "http://x.test/", encoding), Parsed)
    assert isinstance(parse_html(body, "http://x.test/"), Parsed)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("shift_jis", "cp932"),
        ("SJIS", "cp932"),
        ("x-sjis", "cp932"),
        ("EUC-JP", "euc_jp"),
        ("windows-1251", "cp1251"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("US-ASCII", "cp1252"),
        ("utf8", "utf-8"),
        ('"UTF-8"', "utf-8"),
        ("gb2312", "gb18030"),
        ("iso-8859-2", "iso8859-2"),
        ("utf-7", None),
        ("base64", None),
        ("rot13", None),
        ("no-such-codec", None),
    ],
)
def test_charset_labels_mean_what_browsers_think(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_media_type() -> None:
    assert media_type("Text/HTML; charset=UTF-8") == "text/html"
    assert media_type("application/xhtml+xml") == "application/xhtml+xml"
    assert media_type(None) == ""
    assert media_type("") == ""


@pytest.mark.parametrize(
    ("kind", "head", "expected"),
    [
        ("text/html", b"", True),
        ("application/xhtml+xml", b"<?xml", True),
        ("application/pdf", b"<html>", False),
        ("text/plain", b"<html>", False),
        ("image/png", b"\x89PNG", False),
        ("", b"  \n<!DOCTYPE html><html>", True),
        ("", codecs.BOM_UTF8 + b"<html lang=en>", True),
        ("", b"<HEAD>", True),
        ("", b"<p>", True),
        ("", b"<!-- c -->", True),
        ("", b"<a", True),
        ("", b"<abbr>", False),
        ("", b"%PDF-1.7", False),
        ("", b"", False),
        ("application/unknown", b"<body>", True),
    ],
)
def test_is_html(kind: str, head: bytes, expected: bool) -> None:
    assert is_html(kind, head) is expected


# -- title and links ---------------------------------------------------------------------------
PAGE = b"""<!DOCTYPE html>
<html><head>
<title>
   A   Title
   over lines </title>
<base href="/root/sub/">
<base href="http://ignored.test/">
</head><body>
<a href="page.html#section">relative, fragment dropped</a>
<a href="  /abs.html  ">whitespace stripped</a>
<a href="javascript:void(0)">js</a>
<a href="mailto:me@example.com">mail</a>
<a href="tel:+123">tel</a>
<a href="ftp://files.test/x">ftp</a>
<a href="page.html">duplicate of the first</a>
<a href="http://other.test/x?b=2&amp;a=1">absolute, other host</a>
<a name="no-href">anchor</a>
<map><area href="../area.html" alt="area"></map>
<a href="#top">same page</a>
<a href="//cdn.test/lib.js">network-path</a>
<a href="?q=1">query only</a>
<a href="HTTPS://Upper.test/Path">upper-case scheme</a>
<a href="http://[broken/">broken IPv6</a>
<a href="">empty href</a>
</body></html>"""


def test_title_and_links_in_document_order() -> None:
    parsed = parse_html(PAGE, "http://site.test:8080/start/index.html", "utf-8")
    assert parsed.title == "A Title over lines"
    assert parsed.links == [
        "http://site.test:8080/root/sub/page.html",
        "http://site.test:8080/abs.html",
        "http://other.test/x?b=2&a=1",
        "http://site.test:8080/root/area.html",
        "http://site.test:8080/root/sub/",
        "http://cdn.test/lib.js",
        "http://site.test:8080/root/sub/?q=1",
        "HTTPS://Upper.test/Path",  # another scheme than the base's: urljoin keeps it as written
    ]


def test_str_input_and_missing_encoding_give_the_same_result() -> None:
    base = "http://site.test:8080/start/index.html"
    expected = parse_html(PAGE, base, "utf-8")
    assert parse_html(PAGE.decode(), base) == expected
    assert parse_html(PAGE, base) == expected


def test_links_without_base_resolve_against_the_page_url() -> None:
    body = b'<a href="b.html">b</a><a href="../c.html">c</a><a href="/d">d</a>'
    parsed = parse_html(body, "https://site.test/x/y/z.html", "utf-8")
    assert parsed.title is None
    assert parsed.links == [
        "https://site.test/x/y/b.html",
        "https://site.test/x/c.html",
        "https://site.test/d",
    ]


def test_a_javascript_base_is_ignored() -> None:
    body = b'<base href="javascript:alert(1)"><a href="b.html">b</a>'
    assert parse_html(body, "http://site.test/a/", "utf-8").links == ["http://site.test/a/b.html"]


def test_an_absolute_base_on_another_host() -> None:
    body = b'<head><base href="https://cdn.test/assets/"></head><a href="img/x">x</a>'
    assert parse_html(body, "http://site.test/", "utf-8").links == ["https://cdn.test/assets/img/x"]


@pytest.mark.parametrize(
    "title_html", [b"", b"<title></title>", b"<title>  \n\t </title>", b"<svg></svg>"]
)
def test_absent_or_empty_title_is_none(title_html: bytes) -> None:
    assert (
        parse_html(b"<html><head>" + title_html + b"</head></html>", "http://x.test/").title is None
    )


def test_first_title_wins() -> None:
    body = b"<title>First</title><body><svg><title>Second</title></svg></body>"
    assert parse_html(body, "http://x.test/", "utf-8").title == "First"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"\x00\x01\x02\x03",
        b"<",
        b"<<<>>><a href=<a href='/x'",
        b"\xff" * 5000,
        bytes(range(256)) * 100,
        b"<html><a href='" + b"x" * 12_000_000 + b"'>huge</a><title>t</title>",
        b'<a href="/' + b"\xe9" * 100_000 + b'">latin-1 junk in utf-8</a>',
        b"<?xml version='1.0' encoding='utf-8'?><html><title>x</title></html>",
        b"<" + b"div>" * 20_000,
    ],
)
def test_garbage_never_raises(body: bytes) -> None:
    for encoding in ("utf-8", "cp932", None, "no-such-codec"):
        parsed = parse_html(body, "http://x.test/", encoding)
        assert isinstance(parsed, Parsed)
        assert all(link.startswith("http") for link in parsed.links)
    assert isinstance(parse_html(body.decode("latin-1"), "http://x.test/"), Parsed)


def test_garbage_base_url_never_raises() -> None:
    assert parse_html(b'<a href="x">x</a>', "not a url").links == []
    assert parse_html(b'<a href="x">x</a>', "http://[broken/").links == []


# -- the fast resolver is urljoin --------------------------------------------------------------
def _reference(base: str, href: str) -> str | None:
    try:
        return urldefrag(urljoin(base, href)).url
    except ValueError:
        return None


_BASES = st.sampled_from(
    [
        "http://a.test/b/c/d;p?q",
        "http://a.test/b/c/d?q=1&r",
        "http://a.test/b/c/",
        "http://a.test",
        "http://a.test/",
        "https://h.test:8443/x/y.html",
        "http://a.test:/x",
        "http://a.test/b//c/d",
        "http://a.test/b/./c",
        "http://a.test/b?",
        "http://a.test/b#frag",
        "HTTP://A.test/B/",
        "http://a.test/%7Euser/",
        "http://user@a.test/p/",
        "mailto:x@y.test",
    ]
)
_PIECES = st.sampled_from(
    [
        *"/.?#:;@%&=+~-_!$'()*,[] \t\n\\",
        "a",
        "b.html",
        "..",
        "../",
        "./",
        "//",
        "http:",
        "https:",
        "http://",
        "https://",
        "HTTP://",
        "javascript:",
        "other.test",
        ":8080",
        "?x=1",
        "#f",
        "%2e",
        "\u00e9",
        "[::1]",
        "\x00",
    ]
)
_HREFS = st.lists(_PIECES, max_size=8).map("".join)


@settings(max_examples=2000, deadline=None)
@given(_BASES, _HREFS)
@example("http://a.test/b/c/", "../../../x")
@example("http://a.test/b/c/", "?")
@example("http://a.test/b", "https://other.test/p?#f")
@example("http://a.test/b", "//x.test:80/p/../q?a#f")
@example("http://a.test/b", "http:x")
@example("http://a.test/b", "/./..//x")
def test_fast_resolver_matches_urljoin(base: str, href: str) -> None:
    assert LinkResolver(base)(href) == _reference(base, href)


@given(st.text(max_size=30), st.text(max_size=30))
def test_resolver_is_total_on_any_text(base: str, href: str) -> None:
    assert resolve(base, href) == _reference(base, href)


# -- target_data -------------------------------------------------------------------------------
FIELDS_PAGE = """<html><body>
<h1>  The  Headline </h1>
<ul><li class="tag">one</li><li class="tag"> two </li><li class="tag">three</li></ul>
<p id="price">€ <b>12</b>.50</p>
</body></html>"""


def test_select_fields() -> None:
    fields = select_fields(
        FIELDS_PAGE,
        {"headline": "h1", "tags": "li.tag", "price": "#price", "missing": ".nope"},
    )
    assert fields == {
        "headline": "The  Headline",
        "tags": ["one", "two", "three"],
        "price": "€ 12.50",
        "missing": None,
    }


def test_select_fields_on_text_that_looks_like_a_url() -> None:
    # bs4 warns about markup that looks like a URL; warnings are errors in this suite
    assert select_fields("http://example.com/", {"b": "body"}) == {"b": "http://example.com/"}
    assert select_fields("", {"x": "p"}) == {"x": None}


@pytest.mark.parametrize("selector", ["h1[", "", "p::nope", ">>>", "a:has()"])
def test_invalid_selector_is_a_config_error(selector: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_selectors({"ok": "h1", "bad": selector})
    assert info.value.key == "crawl.target_data.bad"
    assert info.value.value == selector
    assert info.value.expected == "a valid CSS selector"
    with pytest.raises(ConfigError):
        select_fields(FIELDS_PAGE, {"bad": selector})


def test_valid_selectors_pass() -> None:
    validate_selectors({"a": "div > p.x:not(.y)", "b": "a[href^='http']", "c": "li:nth-child(2n)"})

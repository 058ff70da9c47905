"""Charset detection against the labelled corpus (tests/encodings_corpus.py), and decode_body's
edge cases: UTF-16 without a BOM, ISO-2022-JP, UTF-8 with stray bytes, WHATWG labels, hostile bytes.

Targets (docs/encodings.md): every title right where the page declares its charset, at least 97 %
where it declares nothing. bench/encodings.py prints the same figures next to other detectors.
"""

from __future__ import annotations

import codecs
import functools
from collections import Counter

import chardetng_py
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.web import charsets
from crawler.web.charsets import _WEB_CODECS, codec_for, decode_body
from crawler.web.parse import Parsed, parse_html
from tests.encodings_corpus import Page, load

URL = "http://corpus.test/page.html"
FAMILIES = {
    "Japanese",
    "Chinese",
    "Korean",
    "Cyrillic",
    "Central European",
    "Greek",
    "Hebrew",
    "Arabic",
    "Thai",
    "Turkish",
    "Vietnamese",
    "Western",
}


@functools.cache
def corpus() -> tuple[Page, ...]:
    return tuple(load())


def _title(body: bytes, content_type: str) -> str | None:
    """What the crawler stores: decode once, parse with that codec."""
    _, encoding = decode_body(body, content_type)
    return parse_html(body, URL, encoding).title


def test_the_corpus_is_what_it_claims() -> None:
    pages = corpus()
    assert len({p.encoding for p in pages}) >= 20
    assert {p.family for p in pages} >= FAMILIES
    assert Counter(p.size for p in pages) == {"short": len(pages) // 2, "long": len(pages) // 2}
    for page in pages:
        assert not page.title.isascii(), page.id
        assert b"charset" not in page.undeclared.lower(), page.id
        assert not page.undeclared.startswith((codecs.BOM_UTF8, b"\xff\xfe", b"\xfe\xff"))
        # the label is right: the declared page decodes to its title with the true codec
        text = page.declared.decode(page.encoding).removeprefix("\ufeff")
        assert parse_html(text, URL).title == page.title, page.id


def test_every_declared_page_is_read_right() -> None:
    wrong = [p.id for p in corpus() if _title(p.declared, p.declared_content_type) != p.title]
    assert wrong == []


def test_undeclared_pages_are_read_right_at_least_97_percent() -> None:
    pages = corpus()
    right = Counter[str]()
    for page in pages:
        right[page.family] += _title(page.undeclared, "text/html") == page.title
    total = Counter(p.family for p in pages)
    assert sum(right.values()) / len(pages) >= 0.97, right
    # and no family is left behind (the weakest, Baltic, is at 22/24 today)
    assert {f: right[f] / n for f, n in total.items() if right[f] / n < 0.85} == {}


# -- detection, case by case -----------------------------------------------------------------
PAGE = "<!DOCTYPE html><html><head><title>{}</title></head><body><p>{}</p></body></html>"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["Zoë — ☃", "日本語のページ", "Привет, мир"])
def test_utf16_without_a_bom(codec: str, text: str) -> None:
    body = PAGE.format(text, text * 20).encode(codec)
    assert decode_body(body, "text/html") == (PAGE.format(text, text * 20), codec)
    assert _title(body, "text/html") == text


def test_iso_2022_jp_is_ascii_with_escapes() -> None:
    page = PAGE.format("日本語のページ", "これはテストです。")
    body = page.encode("iso2022_jp")
    assert body.isascii()
    assert decode_body(body, None) == (page, "iso2022_jp")
    assert decode_body(b"<p>\x1b[2J clear screen</p>", None)[1] == "utf-8"


def test_utf8_with_a_few_stray_bytes_stays_utf8() -> None:
    page = PAGE.format("Café crème — Zoë", "Déjà vu à la carte, señor. " * 5)
    body = page.encode() + b" \x92 " + "naïve".encode()  # a windows-1252 quote pasted in
    text, encoding = decode_body(body, "text/html")
    assert encoding == "utf-8"
    assert "Déjà vu" in text
    assert "\ufffd" in text


def test_valid_utf8_is_decoded_once_and_never_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_detector(*args: object, **kwargs: object) -> str:
        raise AssertionError("UTF-8 pages must not pay for detection")

    monkeypatch.setattr(chardetng_py, "detect", no_detector)
    page = PAGE.format("Zoë ☃ 日本", "ascii and ünïcödé")
    assert decode_body(page.encode(), "text/html") == (page, "utf-8")
    assert decode_body(b"<p>plain ascii</p>", None) == ("<p>plain ascii</p>", "utf-8")


class PanicException(BaseException):  # what pyo3 raises for a Rust panic
    pass


def test_a_detector_panic_costs_nothing_but_the_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    def panic(*args: object, **kwargs: object) -> str:
        raise PanicException("index out of bounds")

    monkeypatch.setattr(chardetng_py, "detect", panic)
    assert decode_body("<p>Ёлка</p>".encode("cp1251"), None) == (
        "<p>\xa8\xeb\xea\xe0</p>",
        "cp1252",
    )

    def interrupt(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(chardetng_py, "detect", interrupt)
    with pytest.raises(KeyboardInterrupt):
        decode_body("<p>Ёлка</p>".encode("cp1251"), None)


# -- labels ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("ISO-8859-8-I", "iso8859-8"),
        ("logical", "iso8859-8"),
        ("x-cp1251", "cp1251"),
        ("csISO2022JP", "iso2022_jp"),
        ("ISO-2022-JP", "iso2022_jp"),
        ("IBM866", "cp866"),
        ("dos-874", "cp874"),
        ("TIS-620", "cp874"),
        ("ks_c_5601-1987", "cp949"),
        ("csksc56011987", "cp949"),
        ("gb_2312-80", "gb18030"),
        ("x-mac-cyrillic", "mac-cyrillic"),
        ("koi8-ru", "koi8-u"),
        ("latin9", "iso8859-15"),  # not WHATWG; Python's alias still counts
        ("unicode-1-1-utf-8", "utf-8"),
        ("ucs-2", "utf-16-le"),
        ("hz-gb-2312", None),  # WHATWG's "replacement": never decoded
        ("ISO-2022-KR", None),
        ("iso-2022-cn", None),
        ("utf-32", None),
    ],
)
def test_whatwg_labels(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_the_label_table_names_canonical_python_codecs() -> None:
    for codec in set(_WEB_CODECS.values()):
        assert codecs.lookup(codec).name == codec


def test_a_refused_label_counts_as_undeclared() -> None:
    body = "<title>Ёлка</title><p>Съешь же ещё этих мягких французских булок</p>".encode("cp1251")
    assert decode_body(body, "text/html; charset=hz-gb-2312")[1] == "cp1251"
    assert charsets.declared_encoding(body, "text/html; charset=iso-2022-kr") is None


# -- hostile bytes -----------------------------------------------------------------------------
_PREFIXES = st.sampled_from(
    [
        b"",
        codecs.BOM_UTF8,
        codecs.BOM_UTF16_LE,
        codecs.BOM_UTF16_BE,
        b"<\x00h\x00t\x00m\x00l\x00>\x00",
        b"\x00<\x00h\x00t\x00m\x00l\x00>",
        b"\x1b$B",
        b'<meta charset="shift_jis">',
        b'<meta charset="utf-16">',
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-2022-jp">',
    ]
)
_CONTENT_TYPES = st.one_of(
    st.none(),
    st.text(max_size=40),
    st.builds(lambda label: f"text/html; charset={label}", st.text(max_size=20)),
    st.sampled_from(["text/html; charset=utf-16", "text/html; charset=iso-2022-jp"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_PREFIXES, body=st.binary(max_size=2000), content_type=_CONTENT_TYPES)
@example(prefix=b"", body=b"\xff" * 3, content_type="text/html; charset=utf-7")
@example(prefix=b"\x00", body=b"\x00" * 999, content_type=None)
def test_any_bytes_and_any_content_type_decode_to_text(
    prefix: bytes, body: bytes, content_type: str | None
) -> None:
    text, encoding = decode_body(prefix + body, content_type)
    assert isinstance(text, str)
    assert codec_for(encoding) is not None  # parse_html can use it again
    assert isinstance(parse_html(prefix + body, URL, encoding), Parsed)

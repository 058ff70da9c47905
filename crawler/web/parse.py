"""Response bodies → text, title, links and ``target_data`` fields.

The hot path (every fetched HTML page) is lxml only: one libxml2 parse, one C-level walk over
``<title>``, ``<base>``, ``<a>`` and ``<area>``, and :class:`crawler.web.urls.LinkResolver` for the
hrefs. BeautifulSoup (with soupsieve for CSS selectors) is used only when a job asks for
``target_data`` fields, because it costs some 40 times more per page.

Nothing here raises on hostile bytes: garbage HTML, empty or binary bodies and unknown charsets
give an empty :class:`Parsed` or text decoded with replacement characters.
"""

from __future__ import annotations

import codecs
import functools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import bs4
import charset_normalizer
import soupsieve
from lxml import etree

from crawler.errors import ConfigError
from crawler.web.urls import LinkResolver

# -- charsets ----------------------------------------------------------------------------------
# Labels whose meaning on the web differs from Python's codec of the same name (WHATWG Encoding
# Standard): browsers decode "iso-8859-1" and "ascii" as windows-1252, Shift_JIS as Microsoft's
# cp932 (real pages use its extensions), GB2312/GBK as gb18030, EUC-KR as cp949, and so on.
_WEB_CODEC_TABLE = """
cp1252: ascii us-ascii ansi_x3.4-1968 iso-8859-1 iso8859-1 iso_8859-1 latin1 latin-1 l1 cp819
cp1252: ibm819 csisolatin1 iso-ir-100 windows-1252 x-cp1252 cp1252 x-user-defined
cp932: shift_jis shift-jis sjis x-sjis ms_kanji csshiftjis windows-31j ms932 cp932
euc_jp: euc-jp euc_jp x-euc-jp cseucpkdfmtjapanese
cp1254: iso-8859-9 iso8859-9 iso_8859-9 latin5 l5 windows-1254
cp874: iso-8859-11 iso8859-11 tis-620 tis_620 windows-874
gb18030: gb2312 gbk x-gbk chinese csgb2312 iso-ir-58 gb18030
big5hkscs: big5 big5-hkscs big5hkscs cn-big5 csbig5 x-x-big5
cp949: euc-kr euc_kr ks_c_5601-1987 ks_c_5601-1989 korean windows-949 cp949
utf-16-le: utf-16 utf_16 utf-16le utf_16_le unicode
utf-16-be: utf-16be utf_16_be
"""
_WEB_CODECS = {
    label: codec
    for codec, _, labels in (line.partition(": ") for line in _WEB_CODEC_TABLE.split("\n"))
    for label in labels.split()
}
# Not decoded on the web at all (UTF-7 is an XSS vector); treated as an unknown label.
_REFUSED_CODECS = frozenset({"utf-7", "utf-32", "utf-32-le", "utf-32-be"})

_CHARSET_PARAM_RE = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]+)""", re.IGNORECASE)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:\-]+)""", re.IGNORECASE
)
_META_SCAN_BYTES = 4096
_DETECT_BYTES = 64 * 1024  # charset detection is slow; a prefix says enough
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@functools.lru_cache(maxsize=256)
def codec_for(label: str) -> str | None:
    """The Python codec a charset label means on the web (``"sjis"`` → ``"cp932"``), or None if
    the label names no text encoding Python has."""
    label = label.strip().strip("\"'").lower()
    name = _WEB_CODECS.get(label)
    if name is None:
        try:
            name = codecs.lookup(label).name
            # LookupError for bytes-to-bytes codecs such as base64 (empty input would not tell)
            b"  ".decode(name, "replace")
        except (LookupError, ValueError):
            return None
        name = _WEB_CODECS.get(name, name)
    return None if name in _REFUSED_CODECS else name


def media_type(content_type: str | None) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``; ``""`` when absent."""
    if not content_type:
        return ""
    return content_type.partition(";")[0].strip().lower()


_UNKNOWN_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# WHATWG MIME sniffing: the tags that make an untyped response HTML.
_HTML_SNIFF_RE = re.compile(
    rb"\s*(?:<!doctype\s+html|<html|<head|<script|<iframe|<h1|<div|<font|<table|<a|<style"
    rb"|<title|<b|<body|<br|<p|<!--)[\s>]",
    re.IGNORECASE,
)


def is_html(media_type: str, body_head: bytes) -> bool:
    """True for an HTML media type, or for an untyped response whose first bytes look like HTML."""
    kind = media_type.strip().lower()
    if kind in _HTML_TYPES:
        return True
    if kind not in _UNKNOWN_TYPES:
        return False
    head = body_head.removeprefix(codecs.BOM_UTF8)
    return _HTML_SNIFF_RE.match(head) is not None or _HTML_SNIFF_RE.match(head + b" ") is not None


def decode_body(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a response body; returns ``(text, codec used)``. Never raises.

    Order: charset in the Content-Type header, BOM, ``<meta charset>`` (either form) in the first
    4 KB, detection, UTF-8 with replacement characters.
    """
    encoding = _declared_encoding(body, content_type) or _detect_encoding(body)
    if encoding == "utf-8":
        text = body.decode("utf-8-sig", "replace")
    else:
        text = body.decode(encoding, "replace")
        if text.startswith("\ufeff"):
            text = text[1:]
    return text, encoding


def _declared_encoding(body: bytes, content_type: str | None) -> str | None:
    if content_type:
        match = _CHARSET_PARAM_RE.search(content_type)
        if match:
            encoding = codec_for(match.group(1))
            if encoding is not None:
                return encoding
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    meta = _META_CHARSET_RE.search(body, 0, _META_SCAN_BYTES)
    if meta:
        encoding = codec_for(meta.group(1).decode("ascii"))
        if encoding is not None:
            # The page was read as ASCII to find the meta, so it cannot be UTF-16 (WHATWG).
            return "utf-8" if encoding.startswith("utf-16") else encoding
    return None


def _detect_encoding(body: bytes) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        # Valid UTF-8 with non-ASCII bytes is practically never another charset, and pure ASCII
        # decodes the same under every candidate: skip the (slow) detector.
        return "utf-8"
    try:
        best = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
    except Exception:  # a detector bug must not cost the page; UTF-8 with U+FFFD stands in
        return "utf-8"
    if best is None:
        return "utf-8"
    return codec_for(str(best.encoding)) or "utf-8"


# Characters whose str.lower() holds an ASCII letter: "\u0130" -> "i\u0307", Kelvin sign -> "k".
# -- title and links ---------------------------------------------------------------------------
@dataclass(slots=True)
class Parsed:
    """What the crawler keeps from an HTML page."""

    title: str | None
    links: list[str] = field(default_factory=list)


_PARSER = etree.HTMLParser(
    encoding="utf-8",
    recover=True,
    no_network=True,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
    compact=True,
)
_HREF_STRIP = " \t\n\r\f"  # HTML's "ASCII whitespace"
# urlsplit's idea of a scheme: a letter, then letters, digits, "+", "-", "." up to the colon.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LINK_TAGS = ("a", "area", "base", "title")
# A stored title is capped (docs/security.md): a 5 MB <title> is an attack or a broken page, and
# whoever reads the results should not have to hold it. The cut is marked with "…".
MAX_TITLE_CHARS = 1000


def parse_html(body: bytes | str, base_url: str, encoding: str | None = None) -> Parsed:
    """Title and links of an HTML page. Never raises: unusable input gives ``Parsed(None, [])``.

    ``title``: the first ``<title>``'s text, white space collapsed, at most MAX_TITLE_CHARS.
    ``links``: every ``<a href>`` and ``<area href>``, resolved against the first
    ``<base href>`` (itself resolved against ``base_url``) or ``base_url``; fragment dropped,
    http(s) only, de-duplicated, in document order. ``encoding`` is the codec that
    :func:`decode_body` chose for ``body``; without it the charset is found the same way.
    """
    try:
        root = etree.fromstring(_as_utf8(body, encoding), _PARSER)
    except (etree.LxmlError, ValueError, UnicodeError, LookupError, MemoryError):
        return Parsed(None, [])
    if root is None:
        return Parsed(None, [])
    title_element = None
    base_href: str | None = None
    hrefs: list[str] = []
    for element in root.iter(_LINK_TAGS):
        tag = element.tag
        if tag == "a" or tag == "area":
            href = element.get("href")
            if href is not None:
                hrefs.append(href)
        elif tag == "title":
            if title_element is None:
                title_element = element
        elif base_href is None:
            base_href = element.get("href")
    title = None
    if title_element is not None:
        title = " ".join("".join(str(t) for t in title_element.itertext()).split()) or None
        if title is not None and len(title) > MAX_TITLE_CHARS:
            title = title[: MAX_TITLE_CHARS - 1] + "…"
    return Parsed(title, _resolve_links(hrefs, base_url, base_href))


def _as_utf8(body: bytes | str, encoding: str | None) -> bytes:
    """The page as UTF-8 bytes, which the shared parser reads without guessing (it ignores a
    ``<meta charset>`` that no longer applies)."""
    if isinstance(body, str):
        return body.encode("utf-8", "replace")
    codec = codec_for(encoding) if encoding else None
    if codec is None:
        text, codec = decode_body(body, None)
        return text.encode("utf-8", "replace")
    if codec == "utf-8":
        return body  # libxml2 replaces invalid sequences itself; no copy on the hot path
    return body.decode(codec, "replace").encode("utf-8", "replace")


def _resolve_links(hrefs: list[str], base_url: str, base_href: str | None) -> list[str]:
    resolve = LinkResolver(base_url)
    if base_href is not None:
        base = resolve(base_href.strip(_HREF_STRIP))
        # A javascript: or data: base would make every link unusable; browsers ignore it too.
        if base is not None and _is_web_url(base):
            resolve = LinkResolver(base)
    links: list[str] = []
    seen_links: set[str] = set()
    seen_hrefs: set[str] = set()
    for raw in hrefs:
        if raw in seen_hrefs:  # repeated navigation links cost one set lookup
            continue
        seen_hrefs.add(raw)
        href = raw.strip(_HREF_STRIP)
        scheme = _SCHEME_RE.match(href)
        if scheme is not None and scheme.group(1).lower() not in ("http", "https"):
            continue  # mailto:, javascript:, tel: ... urljoin would return them unchanged
        link = resolve(href)
        if link is None or link in seen_links:
            continue
        if not link.startswith(("http://", "https://")) and not _is_web_url(link):
            continue
        seen_links.add(link)
        links.append(link)
    return links


def _is_web_url(url: str) -> bool:
    scheme, _, rest = url.partition("://")
    return bool(rest) and scheme.lower() in ("http", "https")


# -- target_data -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _compiled(selector: str) -> soupsieve.SoupSieve:
    return soupsieve.compile(selector)


def validate_selectors(selectors: Mapping[str, str]) -> None:
    """Raise :class:`ConfigError` for the first selector that is not valid CSS."""
    for name, selector in selectors.items():
        try:
            _compiled(selector)
        # soupsieve raises NotImplementedError for pseudo-elements and at-rules
        except (soupsieve.SelectorSyntaxError, NotImplementedError, TypeError) as exc:
            raise ConfigError(
                f"crawl.target_data.{name}", selector, "a valid CSS selector"
            ) from exc


def select_fields(text: str, selectors: Mapping[str, str]) -> dict[str, str | list[str] | None]:
    """Extract ``target_data`` fields by CSS selector: one match gives its stripped text, several
    a list of texts, none None. Raises :class:`ConfigError` for an invalid selector."""
    validate_selectors(selectors)
    with warnings.catch_warnings():
        # Page text that looks like a URL or like XML is still a page to us.
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", bs4.XMLParsedAsHTMLWarning)
        soup = bs4.BeautifulSoup(text, "lxml")
    fields: dict[str, str | list[str] | None] = {}
    for name, selector in selectors.items():
        texts = [element.get_text().strip() for element in _compiled(selector).select(soup)]
        fields[name] = None if not texts else texts[0] if len(texts) == 1 else texts
    return fields

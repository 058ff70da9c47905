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
from typing import TYPE_CHECKING

from lxml import etree

from crawler.decide.page_features import HTML_PARSER
from crawler.errors import ConfigError
from crawler.web.charsets import codec_for as codec_for  # re-exported: the crawler's one import
from crawler.web.charsets import decode_body as decode_body
from crawler.web.urls import LinkResolver

if TYPE_CHECKING:  # bs4 and soupsieve load only when a job asks for target_data fields
    import soupsieve


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


# Characters whose str.lower() holds an ASCII letter: "\u0130" -> "i\u0307", Kelvin sign -> "k".
# -- title and links ---------------------------------------------------------------------------
@dataclass(slots=True)
class Parsed:
    """What the crawler keeps from an HTML page."""

    title: str | None
    links: list[str] = field(default_factory=list)
    text: bytes | None = None  # the visible text as UTF-8, when asked for (``with_text``)


# One lxml parser configuration for every HTML page the crawler reads (decide/page_features.py).

_HREF_STRIP = " \t\n\r\f"  # HTML's "ASCII whitespace"
# urlsplit's idea of a scheme: a letter, then letters, digits, "+", "-", "." up to the colon.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LINK_TAGS = ("a", "area", "base", "title")
_INVISIBLE = ("script", "style", "template", "noscript")
# A stored title is capped (docs/security.md): a 5 MB <title> is an attack or a broken page, and
# whoever reads the results should not have to hold it. The cut is marked with "…".
MAX_TITLE_CHARS = 1000


def parse_html(
    body: bytes | str, base_url: str, encoding: str | None = None, *, with_text: bool = False
) -> Parsed:
    """Title and links of an HTML page. Never raises: unusable input gives ``Parsed(None, [])``.

    ``title``: the first ``<title>``'s text, white space collapsed, at most MAX_TITLE_CHARS.
    ``links``: every ``<a href>`` and ``<area href>``, resolved against the first
    ``<base href>`` (itself resolved against ``base_url``) or ``base_url``; fragment dropped,
    http(s) only, de-duplicated, in document order. ``encoding`` is the codec that
    :func:`decode_body` chose for ``body``; without it the charset is found the same way.
    ``with_text``: also the visible text (the recrawl digest's input, crawler.web.digest) from
    the same parse: every text node but those of scripts, styles, templates and ``<noscript>``.
    """
    try:
        root = etree.fromstring(_as_utf8(body, encoding), HTML_PARSER)
    except (etree.LxmlError, ValueError, UnicodeError, LookupError, MemoryError):
        return Parsed(None, [], b"" if with_text else None)
    if root is None:
        return Parsed(None, [], b"" if with_text else None)
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
    links = _resolve_links(hrefs, base_url, base_href)
    text = None
    if with_text:  # last: it strips the invisible elements from the tree
        etree.strip_elements(root, *_INVISIBLE, with_tail=False)
        text = etree.tostring(root, method="text", encoding="utf-8")
    return Parsed(title, links, text)


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
    import soupsieve

    return soupsieve.compile(selector)


def validate_selectors(selectors: Mapping[str, str]) -> None:
    """Raise :class:`ConfigError` for the first selector that is not valid CSS."""
    import soupsieve

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
    import bs4

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

"""Sitemaps (sitemaps.org protocol 0.9): bytes → page URLs with their ``<lastmod>``, or the child
sitemaps of an index file. Parsing only; fetching and feeding the frontier is
:mod:`crawler.engine.sitemaps`'s job.

Accepted: ``<urlset>`` and ``<sitemapindex>`` XML (any namespace, or none), gzip-compressed or not
(whatever the Content-Type says: the gzip magic number decides), and plain-text sitemaps (one URL
a line). Hostile input is bounded, never fatal:

* the uncompressed size is capped (``max_bytes``, the protocol's 50 MiB by default); a gzip bomb
  stops there and what was read so far is used, marked ``truncated``;
* at most ``max_urls`` entries are read from one file (the protocol's 50,000);
* the XML parser resolves no entities, loads no DTD and never touches the network (no XXE, no
  billion laughs), recovers from broken markup, and the tree is cleared as it is read, so a
  large file never becomes a large tree in memory;
* a ``<lastmod>`` that is not a W3C datetime, or lies more than a day in the future, is dropped.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

__all__ = ["Sitemap", "SitemapEntry", "parse_lastmod", "parse_sitemap"]

GZIP_MAGIC = b"\x1f\x8b"
MAX_LOC_CHARS = 2048  # the protocol's limit on a URL
FUTURE_SLACK_S = 86_400.0  # a lastmod this far ahead of our clock is a lie or a broken clock
_CLOSED = re.compile(rb"</(?:[\w.-]+:)?(?:urlset|sitemapindex)\s*>\s*$")  # a whole file's end


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    loc: str
    lastmod: float | None = None  # epoch seconds


@dataclass(slots=True)
class Sitemap:
    """One parsed sitemap file: page entries, or child sitemaps of an index."""

    urls: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[SitemapEntry] = field(default_factory=list)
    truncated: bool = False  # a size or entry cap was hit: the file was read only in part
    error: str = ""  # why nothing could be read ("" when something was)


def parse_lastmod(text: str | None, now: float) -> float | None:
    """A W3C datetime (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, with ``Thh:mm[:ss[.s]]TZD``) as
    epoch seconds; None for anything else or a time more than a day after ``now``. A time
    without a zone is taken as UTC."""
    if not text:
        return None
    value = text.strip()
    if len(value) > 64:
        return None
    try:
        if len(value) == 4 and value.isdigit():
            moment = datetime(int(value), 1, 1, tzinfo=UTC)
        elif len(value) == 7 and value[4] == "-":
            moment = datetime(int(value[:4]), int(value[5:]), 1, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        stamp = moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return stamp if stamp <= now + FUTURE_SLACK_S else None


def _gunzip(body: bytes, max_bytes: int) -> tuple[bytes, bool, str]:
    """``(data, truncated, error)``: at most ``max_bytes`` of the decompressed stream."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        return b"", False, f"gzip: {exc}"
    if len(data) > max_bytes:
        return data[:max_bytes], True, ""
    return data, False, ""


def parse_sitemap(body: bytes, *, now: float, max_bytes: int, max_urls: int) -> Sitemap:
    """Parse one sitemap file (see the module docstring). Never raises."""
    truncated = False
    if body.startswith(GZIP_MAGIC):
        body, truncated, error = _gunzip(body, max_bytes)
        if error:
            return Sitemap(error=error)
    elif len(body) > max_bytes:
        body, truncated = body[:max_bytes], True
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        out = _parse_text(body, max_urls)
    else:
        out = _parse_xml(body, now, max_urls)
    out.truncated = out.truncated or truncated
    return out


def _parse_text(body: bytes, max_urls: int) -> Sitemap:
    out = Sitemap()
    for raw in body.decode("utf-8-sig", "replace").splitlines():
        line = raw.strip()
        if not line.startswith(("http://", "https://")) or len(line) > MAX_LOC_CHARS:
            continue
        if len(out.urls) >= max_urls:
            out.truncated = True
            break
        out.urls.append(SitemapEntry(line))
    if not out.urls and not out.truncated:
        out.error = "neither XML nor a list of URLs"
    return out


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _parse_xml(body: bytes, now: float, max_urls: int) -> Sitemap:
    out = Sitemap()
    events = etree.iterparse(
        io.BytesIO(body),
        events=("end",),
        recover=True,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
    )
    loc: str | None = None
    lastmod: float | None = None
    try:
        for _event, element in events:
            name = _local(element.tag)
            if name == "loc":
                loc = (element.text or "").strip()
            elif name == "lastmod":
                lastmod = parse_lastmod(element.text, now)
            elif name in ("url", "sitemap"):
                if loc and len(loc) <= MAX_LOC_CHARS:
                    if len(out.urls) + len(out.sitemaps) >= max_urls:
                        out.truncated = True
                        break
                    target = out.urls if name == "url" else out.sitemaps
                    target.append(SitemapEntry(loc, lastmod))
                loc, lastmod = None, None
                element.clear()  # the tree never grows with the file
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
    except etree.LxmlError as exc:
        if not out.urls and not out.sitemaps:
            out.error = f"XML: {exc}"
    if not _CLOSED.search(body[-256:]):
        # The parser closes what a cut file left open: its last <loc> may be a cut URL.
        out.truncated = True
        for entries in (out.urls, out.sitemaps):
            if entries:
                entries.pop()
    return out

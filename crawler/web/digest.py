"""The content digest of a page: did it change since the last visit? (docs/recrawl.md)

A digest of the raw bytes changes with every rotated CSRF token, "generated at" footer, view
counter and cache-busting script URL, so a recrawl would call most dynamic pages changed every
time. The digest is taken instead of what a reader sees and where the page leads:

* the **visible text** of an HTML page (:func:`crawler.web.parse.parse_html` with
  ``with_text=True``): title included; scripts, styles, templates, ``<noscript>`` and comments
  left out — so tokens in hidden inputs, inline JSON and nonces never count;
* its **links** as the results line has them, so a changed link target is a change;
* after the **normaliser**. Always: white space is ignored entirely. With ``[recrawl]
  digest_builtin`` (default): clock times with seconds, am/pm or a zone (``14:32:07``,
  ``2:32 pm``, ``14:32 UTC``), date-times (ISO 8601, HTTP dates with their weekday),
  "5 minutes ago" / "an hour ago" / "just now", counters ("1,234 views", "Visitors: 42",
  "3 comments"), random-looking words (20+ letters, digits, ``_`` or ``-`` with a digit among
  them: request ids, hashes), and session, CSRF and cache-buster query parameters of links.
  Then ``[recrawl] digest_ignore``: your own regexes, removed from the text and the links.

Kept on purpose: dates without a time (an event's date, a price list's validity are content),
bare times ("opens 9:30"), and every other number (prices, scores). Any type other than HTML is
digested as its bytes. ``tests/test_digest.py`` measures the normaliser on labelled page pairs.

Speed: the patterns all start at a digit, so the text is scanned once, for digits (its digits
mapped to ``0`` first, so the scan is a C-level search for one byte); ~60 µs for a 20 KB page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

__all__ = ["Digester"]

_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_WHITESPACE = b" \t\n\r\x0b\x0c"
_ZONE = rb"(?:utc|gmt|z|[ecmpa][sd]t|bst|cest|cet|jst|ist|aest|aedt|hkt|sgt|kst|msk)\b"
_MONTH = rb"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_UNIT = rb"(?:sec(?:ond)?|min(?:ute)?|hour|hr|day|week|month|year)s?"
_COUNTED = (
    rb"(?:views?|visits?|visitors?|hits?|reads?|likes?|shares?|comments?|followers?"
    rb"|subscribers?|downloads?|plays?|votes?|online)\b"
)
# What follows the first digit of each pattern (the text's digits are all "0" here).
_NUMBERS = re.compile(
    rb"0(?:"
    rb"(?P<iso>000-00-00[t ]00?:00(?::00(?:[.,]0+)?)?(?:z|[+-]00:?00)?)"
    rb"|(?P<http>0?[ -]" + _MONTH + rb"[ -]0{2,4} 00?:00(?::00)?(?: ?(?:gmt|utc|[+-]0000))?)"
    rb"|(?P<clock>0?:00(?::00(?:[.,]0+)?|\s?[ap]\.?m\b\.?|\s*" + _ZONE + rb"))"
    rb"|(?P<ago>[0,.]*\s+" + _UNIT + rb"\s+ago\b)"
    rb"|(?P<counter>[0,.]*\s*[km]?\+?\s*" + _COUNTED + rb")"
    rb"|(?P<number>[0,.]*)"
    rb")",
    re.IGNORECASE,
)
_WEEKDAY_BEFORE = re.compile(rb"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s*$", re.IGNORECASE)
_COUNTER_BEFORE = re.compile(
    rb"(?:views?|visits?|visitors?|hits?|page ?views?|online(?: now)?)\s*[:=]?\s*$", re.IGNORECASE
)
_AGO_BEFORE = re.compile(rb"(?:\ban?|\bone|\bfew)\s+" + _UNIT + rb"$")
_WORD_AFTER = re.compile(rb"[a-z0-9_-]*", re.IGNORECASE)
_WORD_BEFORE = re.compile(rb"[a-z0-9_-]*$", re.IGNORECASE)
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_LETTERS = re.compile(rb"[a-z_-]", re.IGNORECASE)
TOKEN_CHARS = 20  # a word this long with a digit in it is an id, a hash or a token
LOOKBEHIND = 24  # bytes looked at before a number (a weekday, "Visitors:")
# Query parameters that carry sessions, CSRF tokens and cache busters, never content.
_VOLATILE_PARAMS = re.compile(
    r"(?<=[?&])(?:_|t|ts|v|ver|cb|rnd|rand|nonce|token|_token|authenticity_token|csrf[\w-]*"
    r"|xsrf[\w-]*|sid|session[\w-]*|phpsessid|jsessionid|utm_\w+)=[^&#]*&?",
    re.IGNORECASE,
)


def volatile_spans(text: bytes) -> list[tuple[int, int]]:
    """Where the built-in patterns match in ``text`` (UTF-8 visible text), in order."""
    t = text.translate(_DIGITS)
    spans: list[tuple[int, int]] = []
    pos, size = 0, len(t)
    while True:
        m = _NUMBERS.search(t, pos)
        if m is None:
            break
        start, end = m.span()
        kind = m.lastgroup
        pos = end
        if kind == "number":
            before = t[start - 1] if start else 32
            after = t[end] if end < size else 32
            if before in _WORD_BYTES or after in _WORD_BYTES:
                left = _WORD_BEFORE.search(t, max(0, start - 64), start)
                word_start = left.start() if left is not None else start
                right = _WORD_AFTER.match(t, end)  # "*": it always matches, maybe empty
                word_end = right.end() if right is not None else end
                pos = max(end, word_end)
                word = t[word_start:word_end]
                if len(word) >= TOKEN_CHARS and _LETTERS.search(word):
                    spans.append((word_start, word_end))
                continue
            label = _COUNTER_BEFORE.search(t, max(0, start - LOOKBEHIND), start)
            if label is not None:
                spans.append((label.start(), end))
            continue
        if kind == "http":
            day = _WEEKDAY_BEFORE.search(t, max(0, start - LOOKBEHIND), start)
            if day is not None:
                start = day.start()
        spans.append((start, end))
    lower = t.lower()
    for needle, width in ((b" ago", 4), (b"just now", 8)):
        at = lower.find(needle)
        while at >= 0:
            end = at + width
            if end >= size or t[end] not in _WORD_BYTES:
                if needle == b"just now":
                    spans.append((at, end))
                else:
                    words = _AGO_BEFORE.search(lower, max(0, at - LOOKBEHIND), at)
                    if words is not None:
                        spans.append((words.start(), end))
            at = lower.find(needle, end)
    spans.sort()
    return spans


class Digester:
    """Digests pages with one normaliser (built once from ``[recrawl]``)."""

    def __init__(self, *, builtin: bool = True, ignore: Sequence[str] = ()) -> None:
        self._builtin = builtin
        self._own = [re.compile(p) for p in ignore]

    def normalise(self, text: bytes) -> bytes:
        """The visible text (UTF-8) as the digest sees it."""
        if self._own:
            decoded = text.decode("utf-8", "replace")
            for pattern in self._own:
                decoded = pattern.sub(" ", decoded)
            text = decoded.encode("utf-8", "replace")
        if self._builtin:
            kept: list[bytes] = []
            pos = 0
            for start, end in volatile_spans(text):
                if start > pos:
                    kept.append(text[pos:start])
                pos = max(pos, end)
            kept.append(text[pos:])
            text = b" ".join(kept)
        return text.translate(None, _WHITESPACE)

    def normalise_link(self, link: str) -> str:
        if self._builtin and "?" in link:
            link = _VOLATILE_PARAMS.sub("", link).rstrip("?&")
        for pattern in self._own:
            link = pattern.sub("", link)
        return link

    def html(self, text: bytes, links: Sequence[str]) -> str:
        """The digest of an HTML page from its visible text (UTF-8) and its links."""
        h = hashlib.blake2b(self.normalise(text), digest_size=16)
        h.update(b"\x00")
        h.update("\n".join(self.normalise_link(link) for link in links).encode("utf-8", "replace"))
        return h.hexdigest()

    @staticmethod
    def raw(body: bytes) -> str:
        """The digest of anything that is not HTML: its bytes."""
        return hashlib.blake2b(body, digest_size=16).hexdigest()

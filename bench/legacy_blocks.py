"""The first block-page check (English markers, "small page with a marker"), as it was before the
page classifier (crawler/decide/blocks.py): kept here only for the "before" column of
bench/blocks.py and its test, never used by the crawler.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = [
    "BLOCK_SCAN_CHARS",
    "DEFAULT_BLOCK_MARKERS",
    "looks_blocked",
    "may_contain_words",
]

# How much of a page looks_blocked reads: block pages say what they are early.
BLOCK_SCAN_CHARS = 16_384
# A page whose visible text is shorter than this is "almost nothing but the block message".
BLOCK_SMALL_TEXT_CHARS = 2_000
DEFAULT_BLOCK_MARKERS: tuple[str, ...] = (
    # Phrases: matched in the page's visible text.
    "captcha",
    "just a moment...",
    "attention required",
    "access denied",
    "are you a robot",
    "are you a human",
    "verify you are human",
    "unusual traffic",
    "request blocked",
    "request unsuccessful",
    "pardon our interruption",
    "bot detection",
    # Identifiers (with a hyphen): challenge scripts and forms, matched in the markup too.
    "cf-chl",
    "cf-browser-verification",
    "challenge-platform",
)


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
# Linear on any input: a tag cannot contain "<", so an unclosed one stops at the next.
_TAG_RE = re.compile(r"<[^<>]*>")
_INVISIBLE_OPEN_RE = re.compile(r"<(script|style)\b")
_SPACE_RE = re.compile(r"\s+")


def looks_blocked(text: str, markers: Sequence[str], status: int = 200) -> bool:
    """Whether a page looks like a captcha, WAF or "access denied" page.

    ``markers`` are lower-case substrings. A marker in the title is enough. A marker in the
    first ~16 KB is enough when the status already says "no" (anything but 2xx) or when the page
    has almost no visible text besides it — a long article that mentions "captcha" is not a block.
    """
    wanted = [m.lower() for m in markers if m]
    if not wanted or not text:
        return False
    head = text[:BLOCK_SCAN_CHARS].lower()
    title_match = _TITLE_RE.search(head)
    if title_match and any(m in title_match.group(1) for m in wanted):
        return True
    visible = _visible_text(head)
    # A phrase counts in what a reader sees (not in an href such as "/captcha-help"); an
    # identifier such as "cf-chl" only ever shows in the markup of a challenge page.
    in_text = any(m in visible for m in wanted)
    in_markup = any("-" in m and " " not in m and m in head for m in wanted)
    if not (in_text or in_markup):
        return False
    if not 200 <= status < 300:
        return True
    return len(visible) < BLOCK_SMALL_TEXT_CHARS and len(text) <= BLOCK_SCAN_CHARS * 4


def _visible_text(html: str) -> str:
    """Rough visible text of lower-cased HTML: scripts, styles and tags dropped, in one pass."""
    parts: list[str] = []
    pos = 0
    while (match := _INVISIBLE_OPEN_RE.search(html, pos)) is not None:
        parts.append(html[pos : match.start()])
        end = html.find(f"</{match.group(1)}", match.end())
        if end < 0:
            pos = len(html)
            break
        close = html.find(">", end)
        pos = close + 1 if close >= 0 else len(html)
    parts.append(html[pos:])
    return _SPACE_RE.sub(" ", _TAG_RE.sub(" ", " ".join(parts))).strip()


_LOWERS_TO_ASCII = ("\u0130".encode(), "\u212a".encode())


def may_contain_words(
    body: bytes, text: str, encoding: str, phrases: Sequence[str], chars: int
) -> bool:
    """A cheap necessary condition for a case-insensitive search of a decoded page.

    ``text, encoding`` are what :func:`decode_body` made of ``body``. False only when every
    phrase has a (whitespace-separated) word that occurs nowhere in ``text[:chars].lower()``; so
    a phrase that could occur there, even with markup or line breaks between its words, answers
    True, and so does a phrase with a word that is not ASCII, and any page not in UTF-8. It scans
    the raw bytes, once per phrase for its longest word, instead of lower-casing the text, which
    alone costs ~100 µs on a page with any non-ASCII character.
    """
    if encoding != "utf-8":
        return True
    # Every character, a replaced invalid sequence included, takes at least one byte: the first
    # `chars` characters lie within `chars` bytes plus all the bytes the text is short of.
    head = body[: chars + max(0, len(body) - len(text))].lower()
    if any(special in head for special in _LOWERS_TO_ASCII):
        return True
    return any(word is None or word in head for word in _needles(tuple(phrases)))


@functools.lru_cache(maxsize=16)
def _needles(phrases: tuple[str, ...]) -> tuple[bytes | None, ...]:
    """Per phrase, its longest word as lower-case bytes (None: a non-ASCII word, or no word)."""
    needles: list[bytes | None] = []
    for phrase in phrases:
        words = phrase.lower().split()
        ascii_only = bool(words) and all(w.isascii() for w in words)
        needles.append(max(words, key=len).encode() if ascii_only else None)
    return tuple(needles)

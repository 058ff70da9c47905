"""The page classifier's pre-check: one cheap look at a page's head bytes.

One Aho-Corasick pass over the lower-cased first 32 KB finds the needles of every vendor marker
and phrase (:mod:`crawler.decide.blocks_vendors`, :mod:`crawler.decide.blocks_phrases`); the
``<title>`` is cut out of the bytes; a few response headers, the status and the prefix's soft-404
probe answer are looked at. A page with no trigger is content without further work
(:func:`needs_judging` is False); every point of evidence the classifier
(:mod:`crawler.decide.blocks`) can give needs a trigger seen here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass

import ahocorasick_rs

from crawler.decide.blocks_phrases import PHRASES, STEMS, TITLE_WORDS, Phrase
from crawler.decide.blocks_vendors import HEADER_TRIGGERS, MARKERS
from crawler.decide.page_features import head_bytes
from crawler.decide.soft404 import ProbeAnswer
from crawler.decide.verdicts import PageKind

__all__ = [
    "FOLDED",
    "PASSWORD_NEEDLES",
    "PHRASE_NEEDLES",
    "TITLE_RES",
    "Triggers",
    "fold",
    "needs_judging",
    "precheck",
]

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "cannot"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\b(you|we|they)'re\b"), r"\1 are"),
    (re.compile(r"\b(it|that|there)'s\b"), r"\1 is"),
    (re.compile(r"\bi'm\b"), "i am"),
)


def fold(text: str) -> str:
    """Lower-case with apostrophes unified and English contractions spelled out, so "You're"
    and "you are", "can’t" and "cannot" match the same phrase."""
    text = text.lower().translate(_APOSTROPHES)
    if "'" in text:
        for pattern, replacement in _CONTRACTIONS:
            text = pattern.sub(replacement, text)
    return text


# Words too common to be a needle when the phrase has another (the pre-check would send every
# page that says "more" or "page" to the full look).
_COMMON_WORDS = frozenset(
    (
        "more",
        "page",
        "your",
        "this",
        "that",
        "with",
        "have",
        "been",
        "from",
        "please",
        "access",
        "request",
        "requests",
        "check",
        "site",
        "just",
        "sure",
        "making",
        "continue",
        "view",
        "need",
        "must",
        "will",
        "what",
        "when",
        "were",
        "they",
        "them",
        "then",
        "than",
        "sign",
        "login",
        "found",
        "could",
        "error",
        "find",
        "think",
        "many",
        "step",
        "press",
        "plus",
        "nicht",
        "trop",
        "exist",
        "passe",
        "erro",
        "devam",
        "made",
    )
)


def _needle(phrase: Phrase) -> str:
    """The literal the pre-check looks for in the lower-cased bytes for ``phrase``: its longest
    uncommon ASCII run of 5+ letters (bytes.lower() folds ASCII only); else, for an ASCII
    phrase or a script without case, the phrase itself; else its longest word minus the first
    letter (Cyrillic, Greek: the case of the first letter varies)."""
    runs = re.findall(r"(?<!['a-z])[a-z][a-z&-]{4,}(?!['a-z])", phrase.text)
    rare = [run for run in runs if run not in _COMMON_WORDS]
    if rare:
        return str(max(rare, key=len))
    if runs or phrase.text.isascii():  # only common or short words: the phrase itself
        return phrase.text
    if phrase.text == phrase.text.upper():  # no case: CJK, Arabic, kana, Hangul
        return phrase.text
    return max(phrase.text.split(), key=len)[1:]


def _case_forms(needle: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys((needle, needle.upper())))


PHRASE_NEEDLES: Mapping[Phrase, str] = {p: _needle(p) for p in PHRASES}

# Phrases are matched folded (fold) against folded text.
FOLDED: Mapping[Phrase, str] = {p: fold(p.text) for p in (*PHRASES, *STEMS)}
PASSWORD_NEEDLES = ('"password"', "'password'", "=password")
_ALL_NEEDLES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [m.needle for m in MARKERS if m.needle]
        + [form for needle in PHRASE_NEEDLES.values() for form in _case_forms(needle)]
        + list(PASSWORD_NEEDLES)
        + ["g-recaptcha", "h-captcha", "cf-turnstile", "hcaptcha.com", "turnstile/v0"]
    )
)
# The needle a case form stands for (upper-case forms of Cyrillic etc. fold to their needle).
_CANONICAL = {form: form.lower() for form in _ALL_NEEDLES}
_AUTOMATON = ahocorasick_rs.BytesAhoCorasick(
    [n.encode("utf-8") for n in _ALL_NEEDLES],
    implementation=ahocorasick_rs.Implementation.DFA,
)
TITLE_RES: Mapping[PageKind, re.Pattern[str]] = {
    PageKind(kind): re.compile(
        r"(?<![a-z0-9])(" + "|".join(re.escape(w) for w in words) + r")(?![a-z0-9])"
    )
    for kind, words in TITLE_WORDS.items()
}


@dataclass(frozen=True, slots=True)
class Triggers:
    """What the byte pre-check found; every point of evidence in :func:`judge_page` needs one."""

    needles: frozenset[str] = frozenset()
    title_words: frozenset[PageKind] = frozenset()
    headers: bool = False
    status: bool = False
    probe: bool = False
    title: str = ""

    @property
    def any(self) -> bool:
        return bool(self.needles or self.title_words or self.headers or self.status or self.probe)


def _raw_title(lowered: bytes) -> str:
    start = lowered.find(b"<title")
    if start < 0:
        return ""
    start = lowered.find(b">", start)
    end = lowered.find(b"</title", start)
    if start < 0 or end < 0:
        return ""
    raw = lowered[start + 1 : min(end, start + 1 + 1024)].decode("utf-8", "replace")
    return " ".join(html.unescape(raw).lower().split())


def precheck(
    head: bytes,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    probe: ProbeAnswer | None = None,
) -> Triggers:
    """The cheap look at a page's head bytes (UTF-8, :func:`head_bytes`): which needles occur,
    which title words, whether a challenge header is set, whether the status or the prefix's
    probe answer asks for a full look."""
    lowered = head.lower()
    needles = frozenset(
        _CANONICAL[_ALL_NEEDLES[i]]
        for i, _, _ in _AUTOMATON.find_matches_as_indexes(lowered, overlapping=True)
    )
    title = _raw_title(lowered)
    title_words = frozenset(k for k, rx in TITLE_RES.items() if title and rx.search(title))
    header_hit = False
    if headers:
        names = {k.lower() for k in headers}
        header_hit = any(h in names for h in HEADER_TRIGGERS)
    return Triggers(
        needles=needles,
        title_words=title_words,
        headers=header_hit,
        status=not 200 <= status < 300,
        probe=probe is not None and probe.comparable,
        title=title,
    )


def needs_judging(
    body: bytes,
    text: str,
    encoding: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    probe: ProbeAnswer | None = None,
) -> bool:
    """False for a page the classifier would call content without looking further."""
    head = head_bytes(body, text, encoding)
    return precheck(head, status=status, headers=headers, probe=probe).any

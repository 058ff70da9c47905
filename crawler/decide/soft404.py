"""Soft-404 detection by probing (Bar-Yossef, Broder, Kumar, Tomkins, "Sic Transit Gloria
Telae", WWW 2004): the pure half.

A site that answers "page not found" with status 200 answers a URL that cannot exist the same
way. So, per host and path prefix, the crawler fetches one random, certainly-missing URL (the
*probe*) and keeps its answer: its status, where it redirected, and a fingerprint of its visible
text. If the probe got 404 or 410 the host is *honest* under that prefix and its 200 pages need
no comparison. If the probe got a 200, every 200 page under the prefix is compared with it: a
page whose visible text resembles the probe's (or that redirected to the same place) is a soft
404.

The fingerprint is the set of hashed word 3-shingles of the visible text (Broder's resemblance,
the Jaccard index of the two sets); Han, kana and Hangul characters count as one token each, so
unspaced scripts shingle too. Hashes are CRC-32 (stable across processes, unlike ``hash``).

No I/O here: the engine fetches the probe (it counts as a request, obeys robots.txt and the
host's politeness, and is never stored) and hands the answer to :class:`ProbeAnswer`. The
protocol is in docs/blocks.md.
"""

from __future__ import annotations

import random
import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from crawler.decide.page_features import extract

__all__ = [
    "DEFAULT_PREFIX_DEPTH",
    "LIKELY_SIMILARITY",
    "SOFT404_SIMILARITY",
    "ProbeAnswer",
    "ProbeBook",
    "Soft404Match",
    "compare",
    "fingerprint",
    "prefix_of",
    "probe_url",
    "resemblance",
]

# Probe once per host and first path directory (/blog/, /shop/, ...): sites route 404s per
# application, and one directory level catches that without a probe per page.
DEFAULT_PREFIX_DEPTH = 1
# Resemblance at or above this: the page *is* the probe's answer (a confident soft 404).
SOFT404_SIMILARITY = 0.8
# Resemblance at or above this: probably a soft 404 (uncertain band).
LIKELY_SIMILARITY = 0.6
SHINGLE = 3
MAX_TOKENS = 2_000
PROBE_TOKEN_PREFIX = "zz-nonexistent-"

_TOKEN_RE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]|[^\W_]+", re.UNICODE
)


def prefix_of(url: str, depth: int = DEFAULT_PREFIX_DEPTH) -> str:
    """``scheme://host:port/dir/`` — the URL's directory cut to ``depth`` segments (the key the
    probe answer is kept under). ``/a/b/page.html`` at depth 1 → ``/a/``; ``/page`` → ``/``."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/")[:-1] if s]
    path = "/" + "".join(f"{s}/" for s in segments[: max(0, depth)])
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, "", ""))


def probe_url(url: str, rng: random.Random, depth: int = DEFAULT_PREFIX_DEPTH) -> str:
    """A URL under ``url``'s prefix that cannot exist: a random 64-bit token, with the page's
    file extension kept (sites route by it: ``.html`` may go elsewhere than ``.php``)."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    ext = ""
    if "." in last:
        candidate = last.rsplit(".", 1)[1]
        if 0 < len(candidate) <= 5 and candidate.isalnum():
            ext = "." + candidate.lower()
    return f"{prefix_of(url, depth)}{PROBE_TOKEN_PREFIX}{rng.getrandbits(64):016x}{ext}"


def _without_path(text: str, url: str) -> str:
    """``text`` without the URL's path echoed in it ("The page /r/old-bread was not found"):
    the probe and the page asked for different paths, and that must not make them differ."""
    path = urlsplit(url).path if url else ""
    for piece in sorted({path, *path.split("/")}, key=len, reverse=True):
        if len(piece) >= 3:
            text = text.replace(piece, " ")
    return text


def fingerprint(text: str, url: str = "") -> frozenset[int]:
    """The set of CRC-32 hashes of the word 3-shingles of ``text`` (lower-cased, the path of
    ``url`` taken out); a text shorter than a shingle gives its single tokens."""
    tokens = _TOKEN_RE.findall(_without_path(text, url).lower())[:MAX_TOKENS]
    if len(tokens) < SHINGLE:
        return frozenset(zlib.crc32(t.encode()) for t in tokens)
    return frozenset(
        zlib.crc32("\x1f".join(tokens[i : i + SHINGLE]).encode())
        for i in range(len(tokens) - SHINGLE + 1)
    )


def resemblance(a: frozenset[int], b: frozenset[int]) -> float:
    """Broder's resemblance (Jaccard index) of two fingerprints; 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """What one host + prefix answered for a URL that cannot exist."""

    status: int
    final_url: str = ""  # where redirects ended ("" when there were none)
    shingles: frozenset[int] = frozenset()
    title: str = ""

    @property
    def honest(self) -> bool:
        """The host says 404/410 for missing pages under this prefix: its 200s are real."""
        return self.status in (404, 410)

    @property
    def comparable(self) -> bool:
        """The probe got a 2xx: pages under this prefix must be compared with it."""
        return 200 <= self.status < 300

    @classmethod
    def from_response(
        cls, status: int, head: bytes, *, requested_url: str = "", final_url: str = ""
    ) -> ProbeAnswer:
        """The answer to keep from a probe's response (``head``: the body's scanned head as
        UTF-8, :func:`crawler.decide.page_features.head_bytes`)."""
        features, _ = extract(head) if 200 <= status < 300 else (None, None)
        redirected = final_url if final_url and final_url != requested_url else ""
        if features is None:
            return cls(status=status, final_url=redirected)
        return cls(
            status=status,
            final_url=redirected,
            shingles=fingerprint(features.text_head, requested_url),
            title=features.title,
        )


@dataclass(frozen=True, slots=True)
class Soft404Match:
    """How a page compares with its prefix's probe answer."""

    similarity: float  # resemblance of the visible texts, 0..1
    same_redirect: bool  # both redirected to the same URL (e.g. the home page)


def compare(
    probe: ProbeAnswer | None,
    text: str,
    *,
    requested_url: str = "",
    final_url: str = "",
) -> Soft404Match | None:
    """The page against the probe answer of its prefix; None when there is nothing to compare
    (no probe, an honest host, or a probe that got neither 2xx nor 404/410)."""
    if probe is None or not probe.comparable:
        return None
    redirected = final_url if final_url and final_url != requested_url else ""
    same_redirect = bool(probe.final_url) and redirected == probe.final_url
    score = resemblance(fingerprint(text, requested_url), probe.shingles)
    return Soft404Match(similarity=score, same_redirect=same_redirect)


class ProbeBook:
    """Probe answers by prefix key, bounded (least recently used out first). Pure: the engine
    asks :meth:`plan` which URL to fetch, fetches it, and records the answer with :meth:`put`."""

    def __init__(self, depth: int = DEFAULT_PREFIX_DEPTH, max_entries: int = 10_000) -> None:
        self.depth = depth
        self.max_entries = max_entries
        self._answers: OrderedDict[str, ProbeAnswer] = OrderedDict()

    def key(self, url: str) -> str:
        return prefix_of(url, self.depth)

    def get(self, url: str) -> ProbeAnswer | None:
        key = self.key(url)
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def plan(self, url: str, rng: random.Random) -> str | None:
        """The probe URL to fetch for ``url``'s prefix, or None when its answer is known."""
        return None if self.key(url) in self._answers else probe_url(url, rng, self.depth)

    def put(self, url: str, answer: ProbeAnswer) -> None:
        key = self.key(url)
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)

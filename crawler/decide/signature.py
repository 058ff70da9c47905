"""When two failures are the same failure: one normalised message and one signature.

Error analytics group failures by it (``observe/analytics.py``) and the LLM verdict cache keys on
it (``llm/cache.py``), so the two always agree on what "the same failure" is: two messages that
differ only in URLs, UUIDs, hex ids, numbers, case or spacing are one.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["error_signature", "normalise_message"]

_MAX_NORMALISED_CHARS = 500
# Order matters: URLs and UUIDs before the hex and digit runs they contain.
_COLLAPSE = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE), "<url>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.IGNORECASE), "<hex>"),
    # A hex run of 8+ with at least one digit: ids and hashes, not words like "deadbeef".
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
)


def normalise_message(message: str, limit: int = _MAX_NORMALISED_CHARS) -> str:
    """``message`` with URLs, UUIDs, hex ids and numbers collapsed, whitespace squeezed and case
    folded: two failures that differ only in those have the same normalised message."""
    text = message.lower()
    for pattern, token in _COLLAPSE:
        text = pattern.sub(token, text)
    return " ".join(text.split())[:limit]


def error_signature(host: str, category: str, status: int | None, message: str) -> str:
    """The cache key of a failure: sha256 over host, category, status and normalised message."""
    parts = (host.lower(), category.upper(), "" if status is None else str(status))
    raw = "\x1f".join((*parts, normalise_message(message)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()

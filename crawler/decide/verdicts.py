"""What a page verdict is: the kinds, the two bands, the verdict itself and how the LLM may move
it. The classifier that makes verdicts is :mod:`crawler.decide.blocks` (docs/blocks.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from crawler.decide.page_features import PageFeatures
from crawler.records import Category

__all__ = [
    "CONFIDENT_SCORE",
    "DOUBT_SCORE",
    "LEAN_SCORE",
    "PAGE_CATEGORY",
    "Band",
    "PageKind",
    "PageVerdict",
    "settle",
]

CONFIDENT_SCORE = 6.0  # at or above: a confident verdict of that kind
LEAN_SCORE = 3.0  # at or above: uncertain, leaning to that kind
DOUBT_SCORE = 1.5  # at or above: uncertain, leaning to content


class PageKind(StrEnum):
    CONTENT = "content"
    BLOCKED = "blocked"
    LOGIN = "login"
    SOFT_404 = "soft_404"


class Band(StrEnum):
    CONFIDENT = "confident"
    UNCERTAIN = "uncertain"


# Where a page that is not content goes: the DLQ category of each kind.
PAGE_CATEGORY: Mapping[PageKind, Category] = {
    PageKind.BLOCKED: Category.BLOCKED,
    PageKind.LOGIN: Category.AUTH,
    PageKind.SOFT_404: Category.NOT_FOUND,
}

_MESSAGES: Mapping[PageKind, str] = {
    PageKind.BLOCKED: "the page is a captcha, WAF or access-denied page",
    PageKind.LOGIN: "the page is a sign-in form (login wall)",
    PageKind.SOFT_404: "soft-404: the page says 'not found' with status",
}


@dataclass(frozen=True, slots=True)
class PageVerdict:
    """One page's verdict. ``kind`` is what the crawler acts on (for the uncertain band: the
    rules' lean, or the LLM's answer once :func:`settle` applied it)."""

    kind: PageKind
    band: Band
    score: float  # evidence points of the strongest non-content kind
    vendor: str | None = None
    reasons: tuple[str, ...] = ()
    features: PageFeatures = field(default_factory=PageFeatures)
    similarity: float | None = None  # resemblance with the prefix's soft-404 probe answer
    status: int = 200
    source: str = "rules"  # "rules", or "llm" / "llm-cache" when the LLM settled it

    @property
    def category(self) -> Category | None:
        """The DLQ category (None: content, to be stored)."""
        return PAGE_CATEGORY.get(self.kind)

    def message(self) -> str:
        """The DLQ message: what the page is and the evidence, in one line."""
        if self.kind is PageKind.CONTENT:
            return "content"
        text = _MESSAGES[self.kind]
        if self.kind is PageKind.SOFT_404:
            text += f" {self.status}"
            if self.similarity is not None:
                text += f" (resembles the answer to a URL that cannot exist: {self.similarity:.2f})"
        if self.vendor:
            text += f" [{self.vendor}]"
        by = "rules" if self.source == "rules" else "LLM"
        return f"{text}; {self.band.value}, by {by}: {', '.join(self.reasons[:4])}"


def settle(verdict: PageVerdict, llm_kind: PageKind | None, source: str = "llm") -> PageVerdict:
    """``verdict`` with the LLM's answer applied — only in the uncertain band: a confident verdict
    is never overturned, and no answer leaves the rules' lean standing."""
    if llm_kind is None or verdict.band is Band.CONFIDENT:
        return verdict
    return replace(
        verdict,
        kind=llm_kind,
        source=source,
        reasons=(*verdict.reasons, f"LLM: {llm_kind.value}"),
    )

"""The labelled page sets (tests/data/pages, tests/data/pages_holdout) and how a classifier is
scored on them: shared by tests/test_blocks.py and bench/blocks.py.

A set is a directory with ``labels.jsonl`` (one page a line: file, label, status, url,
headers, group, note, final_url) and ``probes.jsonl`` (per host + prefix: the status and the
page a URL that cannot exist got, for soft-404 probing).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.legacy_blocks import DEFAULT_BLOCK_MARKERS, looks_blocked
from crawler.decide.blocks import PageKind, PageVerdict, judge_page
from crawler.decide.page_features import head_bytes
from crawler.decide.soft404 import ProbeAnswer, ProbeBook

DATA = Path(__file__).parent / "data"
MAIN = DATA / "pages"
HOLDOUT = DATA / "pages_holdout"
KINDS = tuple(PageKind)


@dataclass(frozen=True)
class LabelledPage:
    file: str
    label: PageKind
    status: int
    url: str
    final_url: str
    headers: dict[str, str]
    group: str
    note: str
    body: bytes


@dataclass(frozen=True)
class PageSet:
    name: str
    pages: tuple[LabelledPage, ...]
    probes: ProbeBook

    def probe_for(self, page: LabelledPage) -> ProbeAnswer | None:
        return self.probes.get(page.url)


def load(directory: Path) -> PageSet:
    pages = []
    for line in (directory / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        pages.append(
            LabelledPage(
                file=entry["file"],
                label=PageKind(entry["label"]),
                status=entry["status"],
                url=entry["url"],
                final_url=entry.get("final_url", ""),
                headers=entry["headers"],
                group=entry["group"],
                note=entry["note"],
                body=(directory / entry["file"]).read_bytes(),
            )
        )
    book = ProbeBook()
    probes = directory / "probes.jsonl"
    if probes.exists():
        for line in probes.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            body = (directory / entry["file"]).read_bytes()
            answer = ProbeAnswer.from_response(
                entry["status"],
                head_bytes(body, "", "utf-8"),
                requested_url=entry.get("probe_url", entry["url"] + "zz-probe"),
                final_url=entry.get("final_url", ""),
            )
            book.put(entry["url"] + "x", answer)
    return PageSet(directory.name, tuple(pages), book)


def rules_verdict(pages: PageSet, page: LabelledPage) -> PageVerdict:
    """The rule classifier on one labelled page, as the pipeline would call it."""
    return judge_page(
        page.body,
        page.body.decode("utf-8", "replace"),
        "utf-8",
        status=page.status,
        headers=page.headers,
        url=page.url,
        final_url=page.final_url,
        probe=pages.probe_for(page),
    )


def legacy_kind(page: LabelledPage) -> PageKind:
    """What the first block check (looks_blocked, English markers) made of the page."""
    text = page.body.decode("utf-8", "replace")
    blocked = looks_blocked(text, DEFAULT_BLOCK_MARKERS, page.status)
    return PageKind.BLOCKED if blocked else PageKind.CONTENT


@dataclass(frozen=True)
class Scores:
    """Per-class precision and recall, and the share of content pages kept out."""

    precision: dict[PageKind, float]
    recall: dict[PageKind, float]
    support: dict[PageKind, int]
    content_false_out: float  # content pages sent to the DLQ (any non-content verdict)
    errors: tuple[tuple[str, PageKind, PageKind], ...]  # (file, truth, predicted)


def score(pairs: Iterable[tuple[LabelledPage, PageKind]]) -> Scores:
    pairs = list(pairs)
    precision: dict[PageKind, float] = {}
    recall: dict[PageKind, float] = {}
    support: dict[PageKind, int] = {}
    for kind in KINDS:
        truth = [p for p, _ in pairs if p.label is kind]
        predicted = [(p, k) for p, k in pairs if k is kind]
        hits = sum(1 for p, _ in predicted if p.label is kind)
        support[kind] = len(truth)
        recall[kind] = hits / len(truth) if truth else 1.0
        precision[kind] = hits / len(predicted) if predicted else 1.0
    content = [k for p, k in pairs if p.label is PageKind.CONTENT]
    false_out = sum(1 for k in content if k is not PageKind.CONTENT) / max(1, len(content))
    errors = tuple((p.file, p.label, k) for p, k in pairs if p.label is not k)
    return Scores(precision, recall, support, false_out, errors)


def evaluate(pages: PageSet, decide: Callable[[LabelledPage], PageKind]) -> Scores:
    return score((page, decide(page)) for page in pages.pages)

"""Page verdicts against the labelled sets: precision/recall per class, and the cost per page.

Run from the repository root:

    .venv/bin/python bench/blocks.py                 # before / rules / rules + oracle LLM
    .venv/bin/python bench/blocks.py --local         # + rules + the bundled local model
    .venv/bin/python bench/blocks.py --micro [N]     # CPU per page (bench/site, N pages)

"before" is the first block check (looks_blocked with the English markers; it knows no login
walls and no soft 404s). "rules" is judge_page alone. "oracle" sends every uncertain page
through the real LLMManager and openai client to a scripted endpoint (tests/openai_server.py)
that answers the truth: a plumbing check, since only the uncertain band can move. "local" does
the same with SmolLM2-135M served in-process by llama.cpp (the local-llm extra); the LLM is
only ever asked about the uncertain band, so that is all this run sends it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.legacy_blocks import (  # noqa: E402
    BLOCK_SCAN_CHARS,
    DEFAULT_BLOCK_MARKERS,
    looks_blocked,
    may_contain_words,
)
from crawler.config import LLMConfig  # noqa: E402
from crawler.decide.blocks import Band, PageKind, PageVerdict, judge_page  # noqa: E402
from crawler.decide.rules import RuleAnalyser  # noqa: E402
from crawler.llm.cache import MemoryVerdictCache  # noqa: E402
from crawler.llm.manager import LLMManager  # noqa: E402
from crawler.web.parse import decode_body  # noqa: E402
from tests.openai_server import Answer, OpenAIServer  # noqa: E402
from tests.page_set import (  # noqa: E402
    HOLDOUT,
    KINDS,
    MAIN,
    LabelledPage,
    PageSet,
    Scores,
    legacy_kind,
    load,
    rules_verdict,
    score,
)

Settle = Callable[[LabelledPage, PageVerdict], Awaitable[PageVerdict]]


def row(name: str, scores: Scores, uncertain: int | str = "", calls: int | str = "") -> str:
    cells = [name]
    for kind in (PageKind.BLOCKED, PageKind.LOGIN, PageKind.SOFT_404, PageKind.CONTENT):
        cells.append(f"{scores.precision[kind]:.2f} / {scores.recall[kind]:.2f}")
    cells += [f"{100 * scores.content_false_out:.1f} %", str(uncertain), str(calls)]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| | blocked P / R | login P / R | soft-404 P / R | content P / R | content kept out "
    "| uncertain | LLM calls |\n| --- | --- | --- | --- | --- | --- | --- | --- |"
)


async def with_llm(pages: PageSet, verdicts: dict[str, PageVerdict], manager: LLMManager) -> Scores:
    settled: list[tuple[LabelledPage, PageKind]] = []
    for page in pages.pages:
        verdict = verdicts[page.file]
        if verdict.band is Band.UNCERTAIN:
            verdict = await manager.judge_page(page.url, verdict, page.headers)
        settled.append((page, verdict.kind))
    return score(settled)


def llm_config(base_url: str, model: str, timeout_s: float) -> LLMConfig:
    return LLMConfig(
        enabled=True,
        base_url=base_url,
        model=model,
        timeout_s=timeout_s,
        max_retries=0,
        max_calls_per_run=100_000,
        max_excerpt_chars=1500,
    )


async def oracle_run(sets: list[PageSet], verdicts: dict[str, dict[str, PageVerdict]]) -> None:
    truth = {page.url: page.label for pages in sets for page in pages.pages}
    by_length = sorted(truth, key=len, reverse=True)

    def oracle(body: dict[str, Any]) -> Answer:
        user = str(body["messages"][-1]["content"])
        url = next((u for u in by_length if f"\n{u}\n" in user), None)
        label = truth[url] if url else PageKind.CONTENT
        return Answer({"verdict": label.value, "reason": "the labelled truth"})

    async with OpenAIServer() as server:
        server.default = oracle
        for pages in sets:
            cfg = llm_config(server.base_url, "oracle", 10.0)
            async with LLMManager(
                cfg, fallback=RuleAnalyser(), cache=MemoryVerdictCache(), env={}
            ) as manager:
                scores = await with_llm(pages, verdicts[pages.name], manager)
            uncertain = sum(v.band is Band.UNCERTAIN for v in verdicts[pages.name].values())
            print(row(f"{pages.name}: rules + oracle LLM", scores, uncertain, manager.calls))


async def local_run(sets: list[PageSet], verdicts: dict[str, dict[str, PageVerdict]]) -> None:
    from crawler.llm.local import LocalModelServer

    async with LocalModelServer() as (base_url, model):
        for pages in sets:
            cfg = llm_config(base_url, model, 120.0)
            started = time.monotonic()
            async with LLMManager(
                cfg, fallback=RuleAnalyser(), cache=MemoryVerdictCache(), env={}
            ) as manager:
                scores = await with_llm(pages, verdicts[pages.name], manager)
            uncertain = sum(v.band is Band.UNCERTAIN for v in verdicts[pages.name].values())
            print(row(f"{pages.name}: rules + {model}", scores, uncertain, manager.calls))
            stats = manager.stats()
            print(
                f"    ({time.monotonic() - started:.0f} s; rejected {stats['rejected']}, "
                f"failed {stats['failures']}, median {stats['median_latency_s'] or 0:.1f} s)"
            )
            print(f"    errors: {[(f, t.value, k.value) for f, t, k in scores.errors]}")


def quality(local: bool) -> None:
    sets = [load(MAIN), load(HOLDOUT)]
    verdicts = {s.name: {p.file: rules_verdict(s, p) for p in s.pages} for s in sets}
    print(HEADER)
    for pages in sets:
        counts = {k.value: sum(p.label is k for p in pages.pages) for k in KINDS}
        print(f"| **{pages.name}** ({len(pages.pages)} pages: {counts}) | | | | | | | |")
        print(
            row(
                f"{pages.name}: before (looks_blocked)",
                score((p, legacy_kind(p)) for p in pages.pages),
            )
        )
        rules = score((p, verdicts[pages.name][p.file].kind) for p in pages.pages)
        uncertain = sum(v.band is Band.UNCERTAIN for v in verdicts[pages.name].values())
        print(row(f"{pages.name}: rules", rules, uncertain, 0))
        for file, truth, predicted in rules.errors:
            print(f"    rules error: {file}: {truth.value} -> {predicted.value}")
    asyncio.run(oracle_run(sets, verdicts))
    if local:
        asyncio.run(local_run(sets, verdicts))


def per_page(label: str, items: list[Any], work: Callable[[Any], object]) -> None:
    def run() -> None:
        for item in items:
            work(item)

    repeat = max(1, 2000 // len(items))
    best = min(timeit.Timer(run, timer=time.process_time).repeat(number=repeat, repeat=7))
    print(f"{label:<64} {best / (repeat * len(items)) * 1e6:8.1f} us/page")


def micro(n: int) -> None:
    site = sorted((ROOT / "bench" / "site").rglob("*.html"))[:n]
    if not site:
        sys.exit("no pages: run bench/gen_site.py first")
    ordinary = [
        (b, *decode_body(b, "text/html; charset=utf-8")) for b in (p.read_bytes() for p in site)
    ]
    markers = list(DEFAULT_BLOCK_MARKERS)
    size = statistics.mean(len(b) for b, _, _ in ordinary) / 1024
    print(f"{len(ordinary)} ordinary pages of bench/site, {size:.1f} KB each")
    per_page(
        "before: may_contain_words + looks_blocked",
        ordinary,
        lambda p: (
            may_contain_words(p[0], p[1], p[2], markers, BLOCK_SCAN_CHARS)
            and looks_blocked(p[1], markers)
        ),
    )
    per_page(
        "after: judge_page (pre-check clears them)",
        ordinary,
        lambda p: judge_page(p[0], p[1], p[2]),
    )
    labelled = [p for s in (load(MAIN), load(HOLDOUT)) for p in s.pages]
    decoded = [(p.body, p.body.decode("utf-8", "replace"), p) for p in labelled]
    print(f"{len(decoded)} labelled pages (nearly all trigger the full look)")
    per_page(
        "before: may_contain_words + looks_blocked",
        decoded,
        lambda p: (
            may_contain_words(p[0], p[1], "utf-8", markers, BLOCK_SCAN_CHARS)
            and looks_blocked(p[1], markers)
        ),
    )
    per_page(
        "after: judge_page (full look: lxml features + scoring)",
        decoded,
        lambda p: judge_page(p[0], p[1], "utf-8", status=p[2].status, headers=p[2].headers),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="also run the local model")
    parser.add_argument("--micro", nargs="?", type=int, const=200, metavar="N")
    args = parser.parse_args()
    if args.micro:
        micro(args.micro)
    else:
        quality(args.local)


if __name__ == "__main__":
    main()

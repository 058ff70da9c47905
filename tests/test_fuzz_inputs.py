"""Fuzzing the other two inputs from outside: config files and LLM answers.

A config ends as a :class:`Config` or one short :class:`ConfigError` (exit 2) — never another
exception; an LLM answer ends as a valid analysis, a rejection or a counted failure, with the
rules deciding — never an exception, a traceback in the log or an unbounded string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from crawler.config import SECTIONS, Config, load_config
from crawler.errors import ConfigError
from crawler.llm.schema import MAX_DESCRIPTION_CHARS
from tests.fuzzing import fuzz_settings, run_rounds
from tests.openai_server import GOOD_ANALYSIS, Answer, OpenAIServer, Raw, completion
from tests.test_llm import analyse, manager, record

SHIPPED = (Path(__file__).resolve().parents[1] / "config.toml").read_text(encoding="utf-8")
KEYS = [(section, key) for section, model in SECTIONS.items() for key in model.model_fields]


# -- TOML values and documents ------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


_SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["", "x" * 5000, "(", "[a-", "a{2,}", "h1 > p", "::before", "*.example.com"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def toml_documents(draw: st.DrawFn) -> str:
    """A config made of real keys with hostile values, unknown keys, deep nesting, or junk."""
    kind = draw(st.sampled_from(["keys", "keys", "spliced", "deep", "junk"]))
    if kind == "junk":
        return draw(st.text(max_size=300))
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a=", "}")]))
        inner = opener * depth + ("1" if opener.startswith("{") else "") + closer * depth
        return f"[crawl]\ninclude = {inner}\n"
    if kind == "spliced":
        at = draw(st.integers(0, len(SHIPPED)))
        return SHIPPED[:at] + draw(st.text(max_size=40)) + SHIPPED[at:]
    lines: dict[str, list[str]] = {}
    for _ in range(draw(st.integers(1, 6))):
        section, key = draw(st.sampled_from(KEYS))
        if draw(st.integers(0, 9)) == 0:
            key = draw(st.text(min_size=1, max_size=12).map(json.dumps))
        lines.setdefault(section, []).append(f"{key} = {_toml_value(draw(_VALUES))}")
    return "".join(f"[{s}]\n" + "\n".join(body) + "\n" for s, body in lines.items())


def test_fuzz_config_files() -> None:
    @fuzz_settings(200)
    @given(
        toml_documents(),
        st.dictionaries(
            st.sampled_from(
                [
                    "CRAWLER_CRAWL_MAX_PAGES",
                    "CRAWLER_FETCH_BLOCK_MARKERS",
                    "CRAWLER_RETRY_STRATEGIES",
                    "CRAWLER_LLM_BASE_URL",
                ]
            ),
            st.text(max_size=60),
            max_size=2,
        ),
    )
    def check(document: str, env: dict[str, str]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "c.toml"
            path.write_text(document, encoding="utf-8", errors="surrogatepass")
            outcome: Config | ConfigError
            try:
                outcome = load_config(path, env=env)
            except ConfigError as exc:
                outcome = exc
        assert isinstance(outcome, Config) or len(str(outcome)) < 3000, str(outcome)[:300]

    run_rounds(check)


# -- LLM answers -------------------------------------------------------------------------------
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def hostile_answers(draw: st.DrawFn) -> Answer | Raw:
    kind = draw(st.sampled_from(["analysis", "analysis", "json", "text", "deep", "huge", "body"]))
    if kind == "analysis":  # the right shape with some values replaced by anything
        answer = dict(GOOD_ANALYSIS)
        for key in draw(st.lists(st.sampled_from(sorted(GOOD_ANALYSIS)), max_size=3)):
            answer[key] = draw(_JSON)
        text = json.dumps(answer)
        if draw(st.booleans()):
            text = draw(st.text(max_size=20)) + "```json\n" + text + "\n```"
        return Answer(text)
    if kind == "json":
        return Answer(json.dumps(draw(_JSON)))
    if kind == "text":
        return Answer(draw(st.text(max_size=500)))
    if kind == "deep":
        depth = draw(st.integers(10, 5000))
        return Answer(draw(st.sampled_from(["", "ok: ", '{"a": '])) + "[" * depth + "]" * depth)
    if kind == "huge":
        return Answer('{"description": "' + "x" * draw(st.integers(10_000, 3_000_000)) + '"}')
    # A whole response body that is not a chat completion, or a misshapen one.
    body = draw(
        st.one_of(
            st.text(max_size=200),
            _JSON.map(json.dumps),
            st.builds(lambda value: json.dumps({**completion("x"), "choices": value}), _JSON),
        )
    )
    return Raw(body)


class _Traces(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _ask(answer: Answer | Raw) -> None:
    traces = _Traces()
    logger = logging.getLogger("crawler")
    logger.addHandler(traces)
    try:
        async with OpenAIServer(answer) as server, manager(server) as m:
            analysis = await asyncio.wait_for(analyse(m, record()), 10)
            stats = m.stats()
    finally:
        logger.removeHandler(traces)
    accepted = 1 if analysis.source == "llm" else 0
    assert stats["calls"] == 1
    assert accepted + stats["rejected"] + stats["failures"] == 1, stats
    assert len(analysis.description) <= MAX_DESCRIPTION_CHARS
    assert all(c.isprintable() for c in analysis.description)
    with_trace = [r.getMessage()[:200] for r in traces.records if r.exc_info or r.exc_text]
    assert with_trace == []
    assert all(len(r.getMessage()) < 5000 for r in traces.records)


def test_fuzz_llm_answers() -> None:
    @fuzz_settings(40)
    @given(hostile_answers())
    def check(answer: Answer | Raw) -> None:
        asyncio.run(_ask(answer))

    run_rounds(check)

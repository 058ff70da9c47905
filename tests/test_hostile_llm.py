"""A misbehaving LLM endpoint (the real openai client against tests/openai_server.py): every
hostile answer is rejected or counted as a failure — no traceback, the rules decide — and no
credential from a URL reaches the prompt."""

from __future__ import annotations

import json
import logging

import pytest

from crawler.llm.schema import validate_analysis
from crawler.records import Category
from tests.openai_server import GOOD_ANALYSIS, Answer, OpenAIServer, Raw, completion
from tests.test_llm import RULES, analyse, manager, record

DEEP = "[" * 3000 + "]" * 3000
DEEP_OBJECT = '{"a":' * 3000 + "1" + "}" * 3000


def _completion_with(**fields: object) -> str:
    body = completion(json.dumps(GOOD_ANALYSIS))
    body.update(fields)
    return json.dumps(body)


HOSTILE_ANSWERS: dict[str, Answer | Raw] = {
    "content-nested-3000": Answer(DEEP),
    "content-object-nested-3000": Answer(DEEP_OBJECT),
    "content-nested-in-prose": Answer("Here you go: " + DEEP_OBJECT),
    "content-nested-inside-analysis": Answer(
        json.dumps({**GOOD_ANALYSIS})[:-1] + ', "extra": ' + DEEP + "}"
    ),
    "content-megabytes": Answer('{"error_type": "' + "x" * 5_000_000 + '"}'),
    "content-not-a-string": Raw(
        json.dumps(
            {**completion(None), "choices": [{"index": 0, "message": {"content": {"a": 1}}}]}
        )
    ),
    "choices-none-string": Raw(_completion_with(choices="none")),
    "choices-list-of-strings": Raw(_completion_with(choices=["none"])),
    "choices-null": Raw(_completion_with(choices=None)),
    "message-null": Raw(_completion_with(choices=[{"index": 0, "message": None}])),
    "body-nested-3000": Raw(DEEP),
    "body-megabytes": Raw(json.dumps({"x": "y" * 8_000_000})),
    "body-not-json": Raw("<html>bad gateway</html>", content_type="text/html"),
    "body-empty": Raw(""),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ANSWERS))
async def test_hostile_answers_are_rejected_without_a_traceback(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAIServer(HOSTILE_ANSWERS[name]) as server:
        rec = record()
        async with manager(server) as m:
            analysis = await analyse(m, rec)
            stats = m.stats()
    assert analysis == RULES.analyse(rec)  # the rules decide
    assert stats["rejected"] + stats["failures"] == 1, stats
    tracebacks = [r for r in caplog.records if r.exc_info or r.exc_text]
    assert tracebacks == [], [r.getMessage()[:200] for r in tracebacks]
    for r in caplog.records:
        assert len(r.getMessage()) < 2000


@pytest.mark.parametrize("text", [DEEP, DEEP_OBJECT, "x" + DEEP_OBJECT, '{"a": ' + DEEP + "}"])
def test_validation_refuses_deep_json_cleanly(text: str) -> None:
    from crawler.errors import LLMError

    with pytest.raises(LLMError):
        validate_analysis(text)


async def test_prompt_carries_no_url_credentials() -> None:
    async with OpenAIServer() as server:
        rec = record(
            url="http://alice:hunter2@example.test/a?token=s3cr3t&page=2",
            message="HTTP 403 at http://alice:hunter2@example.test/a?token=s3cr3t&page=2",
            excerpt="see https://bob:pw@example.test/?api_key=k-123 and \x1b[2J",
            category=Category.AUTH,
        )
        async with manager(server) as m:
            await analyse(m, rec)
        prompt = "\n".join(server.prompts())
    assert "hunter2" not in prompt
    assert "s3cr3t" not in prompt
    assert "k-123" not in prompt
    assert ":pw@" not in prompt
    assert "http://alice:***@example.test/a?token=***&page=2" in prompt
    assert "\x1b" not in prompt

"""The analysis schema (docs/failure-path.md) and the one validator every LLM answer goes through.

The JSON schema sent as ``response_format`` and the checks made on the answer come from the same
constants here, so the prompt, the structured-output request and the validation cannot drift
apart. A free-text ``suggested_action`` never becomes an action: it must be one of
:class:`~crawler.records.Action` or the answer is rejected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from crawler.decide.blocks import PageKind
from crawler.errors import LLMError
from crawler.records import Action, Analysis, FailureRecord, Severity

__all__ = [
    "ACTION_HELP",
    "ANALYSIS_SCHEMA",
    "MAX_DESCRIPTION_CHARS",
    "MAX_ERROR_TYPE_CHARS",
    "MAX_STEPS",
    "MAX_STEP_CHARS",
    "PAGE_SCHEMA",
    "extract_json",
    "response_format",
    "validate_analysis",
    "validate_page_verdict",
]

MAX_ERROR_TYPE_CHARS = 64
MAX_DESCRIPTION_CHARS = 500
MAX_STEP_CHARS = 200
MAX_STEPS = 8
_MAX_ANSWER_CHARS = 20_000  # an answer longer than this is not worth parsing
MAX_JSON_DEPTH = 16  # an analysis is 2 levels deep; json.loads recurses once per level

# What each action makes the crawler do; shown to the model next to the schema.
ACTION_HELP: Mapping[Action, str] = {
    Action.RETRY_LATER: "retry this URL later with the crawler's normal backoff",
    Action.SLOW_DOWN_HOST: "lower the request rate to this host, then retry later",
    Action.WAIT: "wait wait_s seconds before the next attempt at this URL",
    Action.GIVE_UP_URL: "stop trying this URL; it goes to the dead-letter queue",
    Action.GIVE_UP_HOST: "stop trying every URL of this host",
}

# The JSON schema of an analysis. Every property is required (OpenAI's strict mode demands it);
# wait_s is nullable instead of optional.
ANALYSIS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error_type": {"type": "string"},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "description": {"type": "string"},
        "should_retry": {"type": "boolean"},
        "suggested_action": {"type": "string", "enum": [a.value for a in Action]},
        "recovery_steps": {"type": "array", "items": {"type": "string"}},
        "wait_s": {"type": ["number", "null"]},
    },
    "required": [
        "error_type",
        "severity",
        "description",
        "should_retry",
        "suggested_action",
        "recovery_steps",
        "wait_s",
    ],
    "additionalProperties": False,
}

# The verdict on a 200 page the heuristics suspect is a block, captcha or soft 404.
# The verdict on a page the rules are unsure about: one kind from a closed set, and a short reason
# that is only logged. Nothing else in an answer is read: no link, no instruction, no action.
PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": [k.value for k in PageKind]},
        "reason": {"type": "string"},
    },
    "required": ["verdict", "reason"],
    "additionalProperties": False,
}
# The six contract keys must be present; wait_s may be absent (or null).
_REQUIRED = tuple(key for key in ANALYSIS_SCHEMA["required"] if key != "wait_s")
_FENCED_JSON = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def response_format(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The ``response_format`` argument asking for structured output of ``schema``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "strict": True, "schema": dict(schema)},
    }


def extract_json(raw: str) -> dict[str, Any]:
    """The JSON object in an answer: the whole text, a fenced ```json block, or the first
    ``{...}`` in it. Raises :class:`LLMError` when there is none."""
    text = raw.strip()
    if len(text) > _MAX_ANSWER_CHARS:
        raise LLMError(f"answer too long ({len(text)} characters)")
    depth = _nesting(text)
    if depth > MAX_JSON_DEPTH:
        # Checked before parsing: json.loads recurses per level and 3,000 levels raise
        # RecursionError, which is no answer but also no reason for a traceback.
        raise LLMError(f"answer nested {depth} levels deep (at most {MAX_JSON_DEPTH})")
    try:
        return _first_object(text)
    except RecursionError as exc:  # not reachable after the depth check; kept as a backstop
        raise LLMError("answer nested too deep") from exc


def _nesting(text: str) -> int:
    """The deepest nesting of ``[`` / ``{`` in ``text`` outside JSON strings (one linear scan)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _first_object(text: str) -> dict[str, Any]:
    candidates = [text, *(m.group(1).strip() for m in _FENCED_JSON.finditer(text))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    # Small models wrap the object in prose: decode from each "{" until one parses.
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise LLMError(f"answer holds no JSON object: {text[:80]!r}")


def _clean(value: object, key: str, limit: int, *, allow_empty: bool = False) -> str:
    """A string with whitespace and control characters collapsed (the text ends up in logs and
    DLQ entries), truncated to ``limit``."""
    if not isinstance(value, str):
        raise LLMError(f"{key}: expected a string, got {type(value).__name__}")
    text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    if not text and not allow_empty:
        raise LLMError(f"{key}: empty")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _enum_value(value: object, key: str, allowed: list[str]) -> str:
    if not isinstance(value, str):
        raise LLMError(f"{key}: expected a string, got {type(value).__name__}")
    normalised = value.strip().lower()
    if normalised not in allowed:
        raise LLMError(f"{key}: {value[:40]!r} is not one of {', '.join(allowed)}")
    return normalised


def _as_mapping(raw: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(raw, str):
        return extract_json(raw)
    if not isinstance(raw, Mapping):
        raise LLMError(f"answer: expected a JSON object, got {type(raw).__name__}")
    return raw


def validate_analysis(raw: Mapping[str, Any] | str) -> Analysis:
    """Parse and validate one LLM answer into an :class:`Analysis` with ``source="llm"``.

    Raises :class:`LLMError` on a missing key, a wrong type, an unknown severity, an action
    outside :class:`Action`, or recovery steps that are not a list of strings. Extra keys are
    ignored; over-long strings are truncated; ``wait_s`` (a number ≥ 0) is kept only with
    ``Action.WAIT``.
    """
    data = _as_mapping(raw)
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise LLMError(f"answer misses {', '.join(missing)}")
    should_retry = data["should_retry"]
    if not isinstance(should_retry, bool):
        raise LLMError(f"should_retry: expected a boolean, got {type(should_retry).__name__}")
    severity = Severity(_enum_value(data["severity"], "severity", [s.value for s in Severity]))
    action = Action(
        _enum_value(data["suggested_action"], "suggested_action", [a.value for a in Action])
    )
    steps_raw = data["recovery_steps"]
    if not isinstance(steps_raw, list):
        raise LLMError(f"recovery_steps: expected a list, got {type(steps_raw).__name__}")
    if any(not isinstance(step, str) for step in steps_raw):
        raise LLMError("recovery_steps: expected a list of strings")
    steps = tuple(
        _clean(step, "recovery_steps[]", MAX_STEP_CHARS, allow_empty=True)
        for step in steps_raw[:MAX_STEPS]
    )
    wait_raw = data.get("wait_s")
    wait_s: float | None = None
    if wait_raw is not None:
        if isinstance(wait_raw, bool) or not isinstance(wait_raw, int | float):
            raise LLMError(f"wait_s: expected a number, got {type(wait_raw).__name__}")
        if not math.isfinite(wait_raw) or wait_raw < 0:
            raise LLMError(f"wait_s: expected a finite number >= 0, got {wait_raw}")
        wait_s = float(wait_raw) if action is Action.WAIT else None
    return Analysis(
        error_type=_clean(data["error_type"], "error_type", MAX_ERROR_TYPE_CHARS),
        severity=severity,
        description=_clean(data["description"], "description", MAX_DESCRIPTION_CHARS),
        should_retry=should_retry,
        suggested_action=action,
        recovery_steps=tuple(step for step in steps if step),
        source="llm",
        wait_s=wait_s,
    )


def validate_page_verdict(raw: Mapping[str, Any] | str) -> PageKind:
    """The ``verdict`` of a page-verdict answer as a :class:`PageKind`; :class:`LLMError` if it
    is missing or not one of the four kinds. The reason and any other key are ignored."""
    data = _as_mapping(raw)
    verdict = data.get("verdict")
    if isinstance(verdict, str):  # small models write "soft-404" or "Soft 404"
        verdict = "_".join(verdict.replace("-", " ").split())
    return PageKind(_enum_value(verdict, "verdict", [k.value for k in PageKind]))


def clamp(advice: Analysis, record: FailureRecord, *, max_wait_s: float | None = None) -> Analysis:
    """The LLM's analysis made safe to act on: it may make the crawler do less or wait longer,
    never more.

    - a record the rules call certain and non-retryable is never retried;
    - giving up means no retry, and no retry means no "retry later" or "wait";
    - ``wait_s`` is at least the server's Retry-After and at most ``max_wait_s``.

    Max retries, the retry budget, robots.txt and the breakers are enforced by the crawler after
    this, whatever the analysis says.
    """
    should_retry = advice.should_retry
    action = advice.suggested_action
    if record.certain and not record.retryable:
        should_retry = False
    if action in (Action.GIVE_UP_URL, Action.GIVE_UP_HOST):
        should_retry = False
    if not should_retry and action in (Action.RETRY_LATER, Action.WAIT):
        action = Action.GIVE_UP_URL
    wait_s = advice.wait_s if action is Action.WAIT else None
    if wait_s is not None:
        wait_s = max(wait_s, record.retry_after_s or 0.0)
        if max_wait_s is not None:
            wait_s = min(wait_s, max_wait_s)
    return replace(advice, should_retry=should_retry, suggested_action=action, wait_s=wait_s)

"""Prompt files → the two messages of one LLM request.

The prompts are files in the repository's top-level ``prompts/``, shipped inside the wheel as
``crawler/prompts/`` (``pyproject.toml`` force-includes them). They are ``string.Template``
texts; the analysis schema and the allowed actions are inserted from :mod:`crawler.llm.schema`,
so they have one source. Text that came from the web (error messages, page excerpts, headers, the
URL) is untrusted: it is truncated and fenced between markers it cannot forge, since every copy
of the markers is removed from it first. Credentials in URLs (``user:pass@``, ``?token=``) are
redacted before they enter a prompt: the endpoint is another party (``crawler.redact``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import Any

from crawler.decide.blocks import PageVerdict
from crawler.errors import LLMError
from crawler.llm.schema import ACTION_HELP, ANALYSIS_SCHEMA, PAGE_SCHEMA
from crawler.records import FailureRecord, Severity
from crawler.redact import redact_text, redact_url

__all__ = [
    "FENCE_CLOSE",
    "FENCE_OPEN",
    "PROMPT_FILES",
    "Prompt",
    "error_prompt",
    "fence",
    "load_prompt",
    "page_headers",
    "page_prompt",
    "prompts_dir",
]

PROMPT_FILES = ("system.md", "user_error.md", "system_page.md", "user_page.md")
FENCE_OPEN = "<<<UNTRUSTED"
FENCE_CLOSE = "UNTRUSTED>>>"
# Spacing and case variants too, so the data cannot close the fence early in any spelling.
_FENCE_MARKERS = re.compile(r"<<<\s*UNTRUSTED|UNTRUSTED\s*>>>", re.IGNORECASE)
_MAX_URL_CHARS = 500
_MAX_HOST_CHARS = 260  # a DNS name (253) and a port; parsed from a URL, so no newlines


@dataclass(frozen=True, slots=True)
class Prompt:
    """The system and user messages of one request."""

    system: str
    user: str


def prompts_dir() -> Traversable:
    """Where the prompt files are: ``crawler/prompts`` in an installed wheel, else the
    repository's ``prompts/`` (editable installs and a source checkout)."""
    packaged = resources.files("crawler") / "prompts"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    if checkout.is_dir():
        return checkout
    raise LLMError(f"prompt files not found in {packaged} nor in {checkout}")


@functools.cache
def load_prompt(name: str) -> Template:
    """One prompt file as a template (read once per process)."""
    if name not in PROMPT_FILES:
        raise LLMError(f"unknown prompt file {name!r}; expected one of {PROMPT_FILES}")
    try:
        return Template((prompts_dir() / name).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LLMError(f"cannot read prompt file {name}: {exc}") from exc


def fence(text: str, limit: int) -> str:
    """``text`` truncated to ``limit`` characters and fenced as untrusted data."""
    previous = None
    while previous != text:  # removing one marker can join the pieces of another
        previous, text = text, _FENCE_MARKERS.sub("", text)
    text = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text).strip()
    if len(text) > limit:
        text = f"{text[:limit]}\n[... {len(text) - limit} more characters cut]"
    return f"{FENCE_OPEN}\n{text}\n{FENCE_CLOSE}"


def _render(name: str, **values: object) -> str:
    try:
        return load_prompt(name).substitute({k: str(v) for k, v in values.items()})
    except (KeyError, ValueError) as exc:
        raise LLMError(f"prompt file {name}: bad or unknown placeholder {exc}") from exc


def _system() -> str:
    return _render("system.md", fence_open=FENCE_OPEN, fence_close=FENCE_CLOSE)


def _template_line() -> str:
    """A one-line example of the answer's shape, built from the schema's enums."""
    props = ANALYSIS_SCHEMA["properties"]
    example = {
        "error_type": "short_snake_case_name",
        "severity": "|".join(props["severity"]["enum"]),
        "description": "one or two sentences",
        "should_retry": False,
        "suggested_action": "|".join(props["suggested_action"]["enum"]),
        "recovery_steps": ["what a person can do", "..."],
        "wait_s": None,
    }
    return json.dumps(example)


def _headers_text(headers: object) -> str:
    if isinstance(headers, Mapping):
        return "\n".join(f"{k}: {v}" for k, v in headers.items())
    return "" if headers is None else str(headers)


def error_prompt(
    error_message: str,
    record: FailureRecord,
    context: Mapping[str, Any],
    *,
    max_chars: int,
) -> Prompt:
    """The prompt asking for the analysis of one failure."""
    excerpt = context.get("response_excerpt") or record.response_excerpt
    user = _render(
        "user_error.md",
        category=record.category.value,
        status_code=record.status_code if record.status_code is not None else "none",
        host=" ".join(record.host.split())[:_MAX_HOST_CHARS] or "unknown",
        attempt=record.attempt,
        rules_retryable=str(record.retryable).lower(),
        rules_severity=record.severity.value,
        url=fence(
            redact_url(record.url or str(context.get("url", ""))), min(max_chars, _MAX_URL_CHARS)
        ),
        error_message=fence(redact_text(error_message or record.message), max_chars),
        response_excerpt=fence(redact_text(str(excerpt or "")), max_chars),
        request_headers=fence(
            redact_text(_headers_text(context.get("request_headers"))), max_chars
        ),
        actions="\n".join(f'- "{a.value}": {help_}' for a, help_ in ACTION_HELP.items()),
        severities=", ".join(s.value for s in Severity),
        template=_template_line(),
        schema=json.dumps(ANALYSIS_SCHEMA),
    )
    return Prompt(system=_system(), user=user)


# Response headers that say something about what a page is; others are left out of the prompt.
_PAGE_HEADERS = (
    "content-type",
    "server",
    "cf-mitigated",
    "x-datadome",
    "x-dd-b",
    "x-amzn-waf-action",
    "x-sucuri-block",
    "x-kpsdk-ct",
    "x-vercel-mitigated",
    "retry-after",
    "www-authenticate",
)


def page_headers(headers: Mapping[str, str] | None) -> str:
    """The few telling response headers as ``name: value`` lines (``set-cookie``: cookie names
    only, never their values), sorted, each cut to 100 characters."""
    if not headers:
        return ""
    lines: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key in _PAGE_HEADERS:
            lines.append(f"{key}: {' '.join(str(value).split())[:100]}")
        elif key == "set-cookie":
            names = [c.split("=", 1)[0].strip() for c in str(value).split("\n") if "=" in c]
            lines.append(f"set-cookie (names): {', '.join(names)[:100]}")
    return "\n".join(sorted(lines))


def page_prompt(url: str, verdict: PageVerdict, headers: str, *, max_chars: int) -> Prompt:
    """The prompt asking what an uncertain page is: its title and visible text (never its
    markup), the measured features, the status and a few headers — the web's parts fenced."""
    features = verdict.features
    excerpt = features.text_head
    if features.noscript_text:
        excerpt += f"\n[noscript] {features.noscript_text}"
    system = _render("system_page.md", fence_open=FENCE_OPEN, fence_close=FENCE_CLOSE)
    user = _render(
        "user_page.md",
        status=verdict.status,
        features=json.dumps(features.summary(), ensure_ascii=False, sort_keys=True),
        url=fence(url, min(max_chars, _MAX_URL_CHARS)),
        title=fence(features.title, min(max_chars, _MAX_URL_CHARS)),
        headers=fence(headers, max_chars),
        excerpt=fence(excerpt, max_chars),
        schema=json.dumps(PAGE_SCHEMA),
    )
    return Prompt(system=system, user=user)

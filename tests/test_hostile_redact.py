"""Secrets in URLs and control characters in untrusted text: redacted and escaped before display."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler import AdaptiveCrawler, load_config
from crawler.redact import (
    RedactingFilter,
    is_secret_param,
    one_line,
    redact_text,
    redact_url,
    safe_for_terminal,
)
from crawler.testing import Status, TestSite


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@host/", "http://user:***@host/"),
        ("https://ghp_abc123@github.example/x", "https://***@github.example/x"),
        ("http://h/p?token=abc&q=1", "http://h/p?token=***&q=1"),
        (
            "http://h/p?q=1&api_key=k&Signature=s;sid=9",
            "http://h/p?q=1&api_key=***&Signature=***;sid=***",
        ),
        (
            "http://h/?X-Amz-Signature=aa&X-Amz-Credential=bb",
            "http://h/?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        (
            "http://h/?access_token=a&refresh_token=b&password=c",
            "http://h/?access_token=***&refresh_token=***&password=***",
        ),
        ("http://h/cb#access_token=xyz&state=1", "http://h/cb#access_token=***&state=1"),
        ("http://h/?api%5Fkey=z", "http://h/?api%5Fkey=***"),
        ("http://u:p@h:8080/a@b?monkey=1&sort=key", "http://u:***@h:8080/a@b?monkey=1&sort=key"),
        ("http://h/plain?q=1&page=2", "http://h/plain?q=1&page=2"),
        ("not a url", "not a url"),
        ("http://h/?token=", "http://h/?token="),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "name", ["token", "api_key", "apiKey", "X-Api-Key", "session_id", "auth", "client_secret"]
)
def test_secret_names(name: str) -> None:
    assert is_secret_param(name)


@pytest.mark.parametrize("name", ["q", "page", "monkey", "keyboard", "sort", "lang", "id"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_param(name)


def test_redact_text_finds_urls_in_messages() -> None:
    text = "redirect loop: http://a:b@h/x?token=1 -> 'https://h/y?key=2' (Location: /z)"
    assert redact_text(text) == (
        "redirect loop: http://a:***@h/x?token=*** -> 'https://h/y?key=***' (Location: /z)"
    )


def test_safe_for_terminal_escapes_controls() -> None:
    hostile = "a\x1b[2Jb\rc\nd\x07e\x9bf\u202eg\u2028h\x00"
    shown = safe_for_terminal(hostile)
    assert shown == "a\\x1b[2Jb\\x0dc\\x0ad\\x07e\\x9bf\\u202eg\\u2028h\\x00"
    assert safe_for_terminal("x\ny\x1b", keep_newlines=True) == "x\ny\\x1b"
    assert safe_for_terminal("日本語 ok") == "日本語 ok"


def test_one_line_caps_length() -> None:
    assert len(one_line("x" * 10_000_000, 2000)) == 2000
    assert one_line("http://u:p@h/\n") == "http://u:***@h/\\x0a"


@given(st.text())
def test_safe_for_terminal_leaves_no_control_character(text: str) -> None:
    shown = safe_for_terminal(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in shown)


@given(st.text(max_size=200))
def test_redaction_is_total_and_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once
    assert redact_url(redact_url(text)) == redact_url(text)


def test_logging_filter_redacts_and_escapes() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(max_chars=200))
    log = logging.getLogger("test.hostile.redact")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("Error crawling %s: %s", "http://u:pw@h/?token=t", "Location: /\x1b[2J")
        try:
            raise ValueError("boom \x1b]0;title\x07 http://u:pw@h/")
        except ValueError:
            log.exception("failed %s", "x" * 500)
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "pw" not in out
    assert "token=t" not in out
    assert "http://u:***@h/?token=***" in out
    assert "Location: /\\x1b[2J" in out
    assert "Traceback (most recent call last):" in out  # the traceback keeps its lines
    first_exception_line = next(
        line for line in out.splitlines() if line.startswith("ERROR failed")
    )
    assert len(first_exception_line) <= len("ERROR ") + 200


async def test_url_secrets_never_reach_a_dlq_entry_shown_to_people(tmp_path: Path) -> None:
    """The DLQ keeps the URL as it must be requested again, but everything a person (or the
    LLM) reads — message, context, history, the URL as shown — has its secrets masked."""
    async with TestSite("127.0.0.1") as site:
        site.add("/x", Status(410))
        url = f"http://user:hunter2@{site.netloc}/x?token=s3cret&page=2"
        cfg = load_config(
            None,
            {"crawl.state_dir": str(tmp_path / "s"), "llm.enabled": False},
            env={},
        )
        async with AdaptiveCrawler(cfg) as crawler:
            await crawler.run([url])
            (entry,) = await crawler.storage.dlq_list()
            shown = (await crawler.status_snapshot()).dlq_tail
    public = json.dumps(entry.public_dict())
    assert "hunter2" not in public
    assert "s3cret" not in public
    assert "user:***@" in entry.public_dict()["url"]
    assert "page=2" in entry.public_dict()["url"]
    assert "hunter2" not in json.dumps(list(shown))
    assert "user:hunter2@" in entry.url  # kept as requested: `dlq retry` requests it again

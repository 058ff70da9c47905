"""Shared fixtures: the fault-injecting test site and crawler configs on temporary state dirs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Config, load_config
from crawler.testing import TestSite

FAST = {
    # Small waits keep the tests fast; the mechanisms are the same as with the defaults.
    "retry.base_delay_s": 0.01,
    "retry.network_base_delay_s": 0.01,
    "retry.max_delay_s": 0.05,
    "retry.budget_min_retries": 1000,
    "circuit_breaker.reset_timeout_s": 0.2,
    "circuit_breaker.max_reset_timeout_s": 0.4,
    "fetch.connect_timeout_s": 2.0,
    "fetch.read_timeout_s": 2.0,
    "fetch.total_timeout_s": 5.0,
    "llm.enabled": False,
    "storage.batch_interval_s": 0.02,
}


@pytest.fixture
async def site() -> AsyncIterator[TestSite]:
    async with TestSite("127.0.0.1") as s:
        yield s


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def make(**overrides: Any) -> Config:
        values: dict[str, Any] = {"crawl.state_dir": str(tmp_path / "state"), **FAST}
        values.update({k.replace("__", "."): v for k, v in overrides.items()})
        return load_config(None, values, env={})

    return make


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), "torn last line"
    return [json.loads(line) for line in text.splitlines()]

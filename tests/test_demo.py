"""``crawler demo`` end to end: the fault site crawled as the README promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_llm_local import _missing_extra

ROOT = Path(__file__).resolve().parents[1]


def _demo(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _dlq_rows(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 6 and cells[2] in ("NOT_FOUND", "BLOCKED", "AUTH", "ROBOTS"):
            rows[cells[1]] = (cells[2], cells[4])
    return rows


@pytest.mark.slow
def test_demo_on_rules_alone() -> None:
    out = _demo("--no-llm")
    rows = _dlq_rows(out)
    assert rows["/blocked"][0] == "BLOCKED"
    assert rows["/members"][0] == "AUTH"
    assert rows["/account"][0] == "AUTH"
    assert rows["/missing"][0] == "NOT_FOUND"
    assert rows["/private/report"][0] == "ROBOTS"
    soft = rows["/shop/discontinued-kettle"]
    assert soft[0] == "NOT_FOUND"
    assert soft[1].startswith("soft-404")
    assert re.search(r"pages_ok=9, pages_failed=6", out)
    assert "'/private/report'" not in out.split("Requests the site received")[1]
    assert "elsewhere" not in out.split("Requests the site received")[1]


@pytest.mark.slow
@pytest.mark.local_llm
@pytest.mark.timeout(300)
@pytest.mark.skipif(bool(_missing_extra()), reason=_missing_extra() or "local model present")
def test_demo_with_the_local_model_keeps_the_block_page_out() -> None:
    out = _demo()
    assert "the bundled local model" in out
    rows = _dlq_rows(out)
    assert rows["/blocked"][0] == "BLOCKED"  # a confident verdict: the LLM is never asked
    assert rows["/shop/discontinued-kettle"][0] == "NOT_FOUND"
    assert "pages_ok=9" in out

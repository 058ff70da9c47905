"""The command line as scripts and cron jobs use it: exit codes, messages, kill and resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.storage.lock import StateLock
from crawler.testing import Page, Stall, Status, TestSite
from tests.conftest import read_jsonl

FAST_TOML = """
[retry]
base_delay_s = 0.01
max_delay_s = 0.05
[llm]
enabled = false
[storage]
batch_interval_s = 0.02
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "needles"),
    [
        ("[crawl]\nmax_pagez = 5\n", ["crawl.max_pagez", "max_pages"]),
        ("[nope]\nx = 1\n", ["nope"]),
        ('[crawl]\nmax_pages = "many"\n', ["crawl.max_pages", "many"]),
        ("[fetch]\nconnect_timeout_s = -1\n", ["fetch.connect_timeout_s", "-1"]),
        ("[fetch\nconnect_timeout_s = 1\n", ["valid TOML"]),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, needles: list[str]
) -> None:
    cfg = write(tmp_path / "c.toml", toml)
    code = main(
        ["run", "http://127.0.0.1:9/", "--config", str(cfg), "--state-dir", str(tmp_path / "s")]
    )
    err = capsys.readouterr().err
    assert code == 2
    for needle in needles:
        assert needle in err


def test_bad_flags_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "http://127.0.0.1:9/", "--max-pages", "lots"]) == 2
    assert "--max-pages" in capsys.readouterr().err
    assert main(["run", "ftp://example.com/", "--state-dir", str(tmp_path / "s")]) == 2
    assert "ftp://example.com/" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "http://127.0.0.1:9/", "--config", str(tmp_path / "missing.toml")])
    assert code == 2
    assert "missing.toml" in capsys.readouterr().err


def test_lock_held_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "s"
    with StateLock(state):
        code = main(["run", "http://127.0.0.1:9/", "--state-dir", str(state), "--no-llm"])
    assert code == 3
    assert "lock" in capsys.readouterr().err


async def _run_cli(
    *args: str,
    kill_after_lines: int | None = None,
    out: Path | None = None,
    sig: int = signal.SIGKILL,
) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if kill_after_lines is not None:
        assert out is not None
        while proc.returncode is None:
            lines = out.read_bytes().count(b"\n") if out.exists() else 0
            if lines >= kill_after_lines:
                proc.send_signal(sig)
                break
            await asyncio.sleep(0.01)
    _, err = await proc.communicate()
    assert proc.returncode is not None
    if proc.returncode not in (0, -signal.SIGKILL):
        print(err.decode(errors="replace"))
    return proc.returncode


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_sigkill_mid_run_then_resume_stores_every_page_once(
    site: TestSite, tmp_path: Path
) -> None:
    n = 60
    site.add("/", Page(title="root", links=[f"/p{i}" for i in range(n)]))
    for i in range(n):
        site.add(f"/p{i}", Stall(0.02, Page(title=f"p{i}", links=["/", f"/p{(i + 1) % n}"])))
    cfg = write(tmp_path / "c.toml", FAST_TOML)
    out = tmp_path / "out.jsonl"
    args = [
        "run",
        site.url("/"),
        "--config",
        str(cfg),
        "--state-dir",
        str(tmp_path / "s"),
        "--out",
        str(out),
        "--concurrency",
        "4",
        "--summary-json",
        str(tmp_path / "sum.json"),
    ]
    kills = 0
    for threshold in (5, 20, 40):
        code = await _run_cli(*args, kill_after_lines=threshold, out=out)
        if code == -signal.SIGKILL:
            kills += 1
    assert kills >= 2, "the crawl finished before it could be killed"
    assert await _run_cli(*args) == 0
    records = read_jsonl(out)
    urls = [r["url"] for r in records]
    assert sorted(urls) == sorted({site.url("/"), *(site.url(f"/p{i}") for i in range(n))})
    summary = json.loads((tmp_path / "sum.json").read_text())
    assert summary["pages_ok"] == n + 1
    assert summary["dlq_items"] == 0


@pytest.mark.slow
async def test_sigterm_finishes_in_flight_and_exits_0(site: TestSite, tmp_path: Path) -> None:
    n = 40
    site.add("/", Page(title="root", links=[f"/p{i}" for i in range(n)]))
    for i in range(n):
        site.add(f"/p{i}", Stall(0.05, Page(title=f"p{i}")))
    cfg = write(tmp_path / "c.toml", FAST_TOML)
    out = tmp_path / "out.jsonl"
    args = [
        "run",
        site.url("/"),
        "--config",
        str(cfg),
        "--state-dir",
        str(tmp_path / "s"),
        "--out",
        str(out),
        "--concurrency",
        "2",
    ]
    code = await _run_cli(*args, kill_after_lines=3, out=out, sig=signal.SIGTERM)
    assert code == 0
    stored = len(read_jsonl(out))
    assert stored < n + 1
    assert await _run_cli(*args) == 0
    assert len(read_jsonl(out)) == n + 1


@pytest.mark.slow
async def test_cli_run_writes_summary_and_dlq_list_json(site: TestSite, tmp_path: Path) -> None:
    site.add("/", Page(title="root", links=["/gone"]))
    cfg = write(tmp_path / "c.toml", FAST_TOML)
    state = str(tmp_path / "s")
    code = await _run_cli(
        "run",
        site.url("/"),
        "--config",
        str(cfg),
        "--state-dir",
        state,
        "--out",
        str(tmp_path / "o.jsonl"),
        "--summary-json",
        str(tmp_path / "sum.json"),
    )
    assert code == 0
    summary = json.loads((tmp_path / "sum.json").read_text())
    assert {
        "pages_ok",
        "pages_failed",
        "requests",
        "retries",
        "llm_calls",
        "dlq_items",
        "breakers",
        "duration_s",
    } <= set(summary)
    assert summary["pages_ok"] == 1
    assert summary["dlq_items"] == 1
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        "dlq",
        "list",
        "--state-dir",
        state,
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await proc.communicate()
    assert proc.returncode == 0
    entries = json.loads(stdout)
    assert [(e["url"], e["error"]["category"], e["error"]["status_code"]) for e in entries] == [
        (site.url("/gone"), "NOT_FOUND", 404)
    ]
    assert set(entries[0]["analysis"]) >= {
        "error_type",
        "severity",
        "description",
        "should_retry",
        "suggested_action",
        "recovery_steps",
    }


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_dlq_commands_end_to_end(site: TestSite, tmp_path: Path) -> None:
    site.add("/", Page(title="root", links=["/flaky", "/gone"]))
    site.add("/flaky", Status(500))
    site.add("/gone", Status(404))
    cfg = write(tmp_path / "c.toml", FAST_TOML + "\n[circuit_breaker]\nfailure_threshold = 50\n")
    state = str(tmp_path / "s")
    out = tmp_path / "o.jsonl"
    common = ["--config", str(cfg), "--state-dir", state]
    code, _, _ = await _cli("run", site.url("/"), *common, "--out", str(out))
    assert code == 0

    code, text, _ = await _cli("dlq", "list", *common, "--category", "SERVER", "--json")
    assert code == 0
    (server_entry,) = json.loads(text)
    assert server_entry["url"] == site.url("/flaky")
    assert server_entry["attempts"] == 4

    code, text, _ = await _cli("dlq", "show", str(server_entry["id"]), *common)
    assert code == 0
    assert json.loads(text)["history"][0]["status_code"] == 500

    export = tmp_path / "dlq.jsonl"
    code, _, _ = await _cli("dlq", "export", *common, "--out", str(export))
    assert code == 0
    assert len(read_jsonl(export)) == 2

    code, _, err = await _cli("dlq", "retry", *common)
    assert code == 2, "retry needs --all or IDs"
    assert "--all" in err

    # The server recovers: a retry of that entry stores the page and removes the entry.
    site.add("/flaky", Page(title="recovered"))
    code, _, _ = await _cli("dlq", "retry", str(server_entry["id"]), *common)
    assert code == 0
    code, text, _ = await _cli("dlq", "list", *common, "--json")
    assert [e["url"] for e in json.loads(text)] == [site.url("/gone")]
    records = read_jsonl(out)
    flaky = next(r for r in records if r["url"] == site.url("/flaky"))
    assert flaky["title"] == "recovered"
    assert flaky["attempts"] == 5  # every request counts, across the DLQ retry

    code, _, _ = await _cli("dlq", "purge", "--all", *common)
    assert code == 0
    code, text, _ = await _cli("stats", *common, "--json")
    assert code == 0
    assert json.loads(text)["dlq_items"] == 0

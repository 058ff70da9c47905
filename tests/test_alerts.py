"""Run-over-run alerts: the checks, the kept history, the webhook, and a cron-like series."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.cli import main
from crawler.config import AlertsConfig, load_config
from crawler.errors import ConfigError
from crawler.observe.alerts import (
    HISTORY_KEY,
    RunRecord,
    check_run,
    evaluate,
    exit_code,
    load_history,
)
from crawler.storage import SQLiteStorage
from crawler.testing import Page, Status, TestSite
from crawler.web.serving import ServedApp
from tests.observe_helpers import dead_port
from tests.test_recrawl import crawler_command

NOW = 1_800_000_000.0


def run(
    pages: int = 100,
    failed: int = 2,
    *,
    duration: float = 100.0,
    dlq: int = 2,
    requests: int | None = None,
    stopped: bool = False,
) -> RunRecord:
    return RunRecord(
        finished_at="2027-01-15T02:30:00Z",
        duration_s=duration,
        pages_stored=pages,
        pages_failed=failed,
        requests=pages + failed if requests is None else requests,
        retries=0,
        pages_ok=pages,
        dlq_items=dlq,
        stopped=stopped,
    )


def kinds(alerts: list[Any]) -> list[str]:
    return [a.kind for a in alerts]


CFG = AlertsConfig(min_runs=3, dlq_growth=10)
NORMAL = [run(100), run(96), run(104)]


def test_a_run_like_the_others_raises_nothing() -> None:
    assert evaluate(run(90, 3, duration=130.0), NORMAL, CFG) == []


def test_pages_drop() -> None:
    (alert,) = evaluate(run(60, 0), NORMAL, CFG)
    assert alert.kind == "pages_drop"
    assert (alert.value, alert.baseline, alert.threshold) == (60, 100, 70)
    assert "40% below the median 100 of the last 3 runs" in alert.message
    assert evaluate(run(71, 0), NORMAL, CFG) == []


def test_failure_rate_up() -> None:
    # Median 2/102 = 1.96 %: 3x is 5.9 %.
    assert evaluate(run(100, 6), NORMAL, CFG) == []  # 5.7 %
    (alert,) = evaluate(run(100, 7), NORMAL, CFG)  # 6.5 %
    assert alert.kind == "failure_rate"
    assert alert.threshold == round(3 * 2 / 102, 4)
    # From no failures at all, error_rate_min (5 %) is the limit.
    clean = [run(100, 0)] * 3
    assert evaluate(run(100, 5), clean, CFG) == []  # 4.8 %
    (alert,) = evaluate(run(100, 6), clean, CFG)  # 5.7 %
    assert alert.threshold == 0.05
    assert alert.baseline == 0
    noisy = [run(100, 20), run(100, 20), run(100, 20)]  # 16.7 %: 3x is 50 %
    assert evaluate(run(100, 60), noisy, CFG) == []
    assert kinds(evaluate(run(90, 110), noisy, CFG)) == ["failure_rate"]


def test_dlq_growth_and_duration() -> None:
    assert kinds(evaluate(run(dlq=13), NORMAL, CFG)) == ["dlq_growth"]
    assert evaluate(run(dlq=12), NORMAL, CFG) == []
    assert kinds(evaluate(run(duration=301.0), NORMAL, CFG)) == ["duration"]
    quick = [run(duration=5.0)] * 3
    assert evaluate(run(duration=60.0), quick, CFG) == []  # 12x, but under a minute longer


def test_what_is_not_compared() -> None:
    assert evaluate(run(10), NORMAL[:2], CFG) == []  # fewer than min_runs earlier runs
    assert evaluate(run(0, 0, requests=0), NORMAL, CFG) == []  # nothing to do: idle
    assert kinds(evaluate(run(10, 0, stopped=True), NORMAL, CFG)) == []  # a stopped run
    idle_and_stopped = [*NORMAL[:2], run(0, 0, requests=0), run(5, stopped=True)]
    assert evaluate(run(10), idle_and_stopped, CFG) == []  # not a baseline either
    assert evaluate(run(10), NORMAL, AlertsConfig(enabled=False)) == []
    off = AlertsConfig(pages_drop_pct=0, error_rate_factor=0, duration_factor=0, min_runs=1)
    assert evaluate(run(1, 50, duration=1e6), NORMAL, off) == []


def test_exit_code() -> None:
    assert exit_code(AlertsConfig(), ["x"]) == 0
    assert exit_code(AlertsConfig(exit_code=4), []) == 0
    assert exit_code(AlertsConfig(exit_code=4), ["x"]) == 4
    for taken in (1, 2, 3):
        with pytest.raises(ConfigError, match=r"alerts\.exit_code"):
            load_config(overrides={"alerts.exit_code": taken}, env={})
    with pytest.raises(ConfigError, match=r"alerts\.webhook_url"):
        load_config(overrides={"alerts.webhook_url": "ftp://x/"}, env={})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    storage = SQLiteStorage(tmp_path / "state.sqlite3")
    await storage.open()
    yield storage
    await storage.close()


def summary(pages: int, failed: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "pages_stored": pages,
        "pages_ok": pages,
        "pages_failed": failed,
        "requests": pages + failed,
        "dlq_items": failed,
        "duration_s": 10.0,
        **extra,
    }


async def test_history_is_kept_trimmed_and_logged(
    store: SQLiteStorage, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = AlertsConfig(keep_runs=3, min_runs=2)
    for i in range(4):
        assert await check_run(store, summary(100 + i), cfg, now=NOW + i) == []
    alerts = await check_run(store, summary(10), cfg, now=NOW + 9)
    assert kinds(alerts) == ["pages_drop"]
    assert any(
        r.levelname == "WARNING" and "Run-over-run alert (pages_drop)" in r.message
        for r in caplog.records
    )
    await store.commit()
    runs = await load_history(store)
    assert [r.pages_stored for r in runs] == [102, 103, 10]  # the last keep_runs
    assert runs[-1].alerts == 1
    assert runs[-1].finished_at.startswith("2027-01-15")
    await store.set_meta(HISTORY_KEY, [{"bogus": True}, "x", runs[-1].to_dict()])
    assert [r.pages_stored for r in await load_history(store)] == [10]  # unreadable: skipped


async def test_webhook_posts_the_alerts(store: SQLiteStorage) -> None:
    received: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with ServedApp(app) as served:
        cfg = AlertsConfig(min_runs=1, webhook_url=served.url("/hook"))
        await check_run(store, summary(100), cfg, now=NOW)
        assert received == []  # no alert, no POST
        alerts = await check_run(store, summary(20, 30), cfg, now=NOW + 1)
    assert kinds(alerts) == ["pages_drop", "failure_rate"]
    (body,) = received
    assert [a["kind"] for a in body["alerts"]] == ["pages_drop", "failure_rate"]
    assert body["summary"]["pages_stored"] == 20


async def test_a_dead_webhook_is_a_warning_not_a_crash(
    store: SQLiteStorage, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{dead_port('127.0.0.1')}/hook"
    cfg = AlertsConfig(min_runs=1, webhook_url=url, webhook_timeout_s=2.0)
    await check_run(store, summary(100), cfg, now=NOW)
    alerts = await check_run(store, summary(1), cfg, now=NOW + 1)
    assert kinds(alerts) == ["pages_drop"]
    assert any("Alert webhook" in r.message and r.levelname == "WARNING" for r in caplog.records)
    assert len(await load_history(store)) == 2  # the run is kept all the same


def nightly_site(site: TestSite, *, degraded: bool) -> None:
    """The same site each night; on a bad night a third of its pages fail."""
    pages = [f"/article/{i}" for i in range(30)]
    site.add("/", Page(title="front", links=pages))
    for i, path in enumerate(pages):
        if degraded and i % 3 == 0:
            site.add(path, Status(500 if i % 2 else 404))
        else:
            site.add(path, Page(title=f"article {i}"))


@pytest.mark.slow
async def test_cron_like_series_alerts_on_the_degraded_night(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same command three nights running on one state dir, with recrawl on (every page is
    due each night); the site degrades on the third. The third run's summary JSON carries the
    alerts, and its exit code is [alerts] exit_code."""
    config = tmp_path / "crawl.toml"
    config.write_text(
        """
[retry]
max_retries = 1
base_delay_s = 0.01
network_base_delay_s = 0.01
max_delay_s = 0.05
[llm]
enabled = false
[alerts]
min_runs = 2
exit_code = 4
[recrawl]
min_interval_s = 0.0
initial_interval_s = 0.0
""",
        encoding="utf-8",
    )
    state, summary_path = tmp_path / "state", tmp_path / "summary.json"
    summaries: list[dict[str, Any]] = []
    async with TestSite("127.0.0.1") as site:
        for night in range(3):
            nightly_site(site, degraded=night == 2)
            code = await crawler_command(
                "run", site.url("/"), "--recrawl", "--config", str(config),
                "--state-dir", str(state), "--summary-json", str(summary_path),
            )  # fmt: skip
            assert code == (4 if night == 2 else 0)
            summaries.append(json.loads(summary_path.read_text()))
    assert [kinds_of(s) for s in summaries] == [[], [], ["pages_drop", "failure_rate"]]
    assert [s["pages_stored"] for s in summaries] == [31, 31, 21]
    assert [s["pages_unchanged"] for s in summaries] == [0, 31, 21]
    assert summaries[2]["pages_gone"] == 5  # the 404s; the 500s stay stored, in the DLQ
    assert [s["pages_ok"] for s in summaries] == [31, 31, 31]

    args = ["stats", "--history", "--state-dir", str(state)]
    capsys.readouterr()  # what the crawls printed
    assert await asyncio.to_thread(main, [*args, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["pages_stored"] for r in runs] == [31, 31, 21]
    assert [r["alerts"] for r in runs] == [0, 0, 2]
    assert await asyncio.to_thread(main, args) == 0
    table = capsys.readouterr().out
    assert all(r["finished_at"] in table for r in runs)


def kinds_of(summary: dict[str, Any]) -> list[str]:
    return [a["kind"] for a in summary["alerts"]]


def test_history_of_a_state_without_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "s"
    state.mkdir()
    (state / "lock").touch()
    assert main(["stats", "--history", "--state-dir", str(state)]) == 1  # no database yet
    assert "no state database" in capsys.readouterr().err
    logging.getLogger("crawler").handlers.clear()

"""The live dashboard in a real headless browser (Debian's chromium) during a real crawl."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.observe.dashboard import RateSeries, dashboard_html
from crawler.testing import Page, Stall, Status, TestSite
from tests.observe_helpers import dead_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_BROWSER = Path(CHROMIUM).is_file() and importlib.util.find_spec("playwright") is not None
needs_browser = pytest.mark.skipif(
    not HAVE_BROWSER,
    reason="needs Debian's chromium (apt-get install chromium; scripts/test installs it as root)"
    " and the playwright package (the test extra); `playwright install` is never used",
)
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_page_is_self_contained() -> None:
    html = dashboard_html()
    assert "/api/dashboard" in html
    for remote in ("http://", "https://", "//cdn", "@import", "<link"):
        assert remote not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), remote
    assert "innerHTML" not in html  # crawled text is inserted as text only


def test_rate_series() -> None:
    rates = RateSeries(history_s=10.0, interval_s=2.0)
    for t, pages, errors in ((0, 0, 0), (2, 10, 1), (2, 99, 9), (4, 30, 1), (6, 30, 5)):
        rates.add(t, pages, errors, pages)
    points = rates.points(now=6.0)
    assert [p["t"] for p in points] == [-4.0, -2.0, 0.0]
    assert [p["pages_per_s"] for p in points] == [5.0, 10.0, 0.0]
    assert [p["errors_per_s"] for p in points] == [0.5, 0.0, 2.0]  # never negative
    for t in range(8, 30, 2):
        rates.add(t, 30, 5, 30)
    assert len(rates.points(now=28.0)) == 5  # history_s / interval_s


@needs_browser
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_dashboard_during_a_real_crawl(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    pages = [f"/p{i}" for i in range(40)]
    site.add("/", Page(title="root", links=["/missing", *pages]))
    for path in pages:
        site.add(path, Stall(0.1, Page(title=path)))
    site.add("/missing", Status(404))
    dead = f"127.0.0.3:{dead_port()}"
    cfg = make_config(
        status__enabled=True,
        status__port=0,
        status__sample_interval_s=0.25,
        crawl__per_host_concurrency=2,
        # The dead host's breaker opens after two failures and stays open while we look.
        circuit_breaker__failure_threshold=2,
        circuit_breaker__reset_timeout_s=60.0,
        circuit_breaker__max_reset_timeout_s=60.0,
    )
    async with AdaptiveCrawler(cfg) as crawler:
        task = asyncio.create_task(crawler.run([site.url("/"), f"http://{dead}/"]))
        base = crawler.status_url
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    requested: list[str] = []
                    page.on("request", lambda r: requested.append(r.url))
                    await page.goto(base + "/?refresh=250")
                    await _look(page, dead, base)
                    await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
                finally:
                    await browser.close()
            assert all(url.startswith(base + "/") for url in requested), requested
            assert (tmp_path / "dashboard.png").stat().st_size > 10_000
        finally:
            crawler.request_stop()
            await task


async def _look(page: Any, dead: str, base: str) -> None:
    wait = {"timeout": 30_000}
    # The page loads and renders the crawl's data.
    await page.wait_for_selector("#status.badge.running", **wait)
    # The chart updates: it gains points and redraws with new data.
    await page.wait_for_function(
        "Number(document.getElementById('rate-chart').dataset.points) >= 3", **wait
    )
    before = await page.get_attribute("#line-pages", "points")
    await page.wait_for_function(
        "(b) => document.getElementById('line-pages').getAttribute('points') !== b",
        arg=before,
        **wait,
    )
    async with aiohttp.ClientSession() as http, http.get(base + "/api/dashboard") as resp:
        board = await resp.json()
    assert max(p["pages_per_s"] for p in board["rates"]["points"]) > 0
    # The dead host's breaker opening shows in its row.
    row = f'tr[data-host="{dead}"] td.breaker[data-state="open"]'
    await page.wait_for_selector(row, **wait)
    assert "open" in (await page.text_content(row) or "")
    # Frontier states, error categories, the DLQ entry with its analysis, the LLM.
    await page.wait_for_selector('#categories tr[data-category="NETWORK"]', **wait)
    await page.wait_for_selector('#dlq tr[data-dlq-id] >> text="NOT_FOUND"', **wait)
    dlq_text = await page.text_content("#dlq") or ""
    assert "/missing" in dlq_text
    assert "not_found" in dlq_text.lower()
    done = await page.text_content('#frontier tr[data-state="done"] td')
    assert done is not None
    assert int(done.replace(",", "")) > 0
    assert "off" in (await page.text_content("#llm") or "")
    assert await page.text_content("#health") in ("degraded", "critical")  # an open circuit


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None, reason="hatchling is needed to build the wheel"
)
def test_dashboard_ships_in_the_wheel(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(repo),
        ],
        check=True,
        timeout=240,
    )
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("crawler/observe/dashboard.html").decode() == dashboard_html()

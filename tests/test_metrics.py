"""/metrics scraped with prometheus-client's own parser during a real crawl of the fault site."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import prometheus_client
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.observe.metrics import OTHER, CrawlMetrics, write_textfile
from crawler.observe.snapshot import FrontierView, HostView, StatusSnapshot
from crawler.observe.status import StatusServer
from crawler.testing import Page, Stall, Status, TestSite
from tests.observe_helpers import dead_port
from tests.openai_server import Answer, OpenAIServer
from tests.openai_server import openai_server as openai_server  # the fixture

Families = dict[str, list[Sample]]


def parse(text: str) -> Families:
    """Family name → samples, with prometheus-client's parser (it rejects malformed text)."""
    return {f.name: list(f.samples) for f in text_string_to_metric_families(text)}


def value(families: Families, sample: str, **labels: str) -> float:
    """The one sample named ``sample`` whose labels include ``labels``."""
    name = sample
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        name = name.removesuffix(suffix)
    found = [
        s
        for s in families.get(name, families.get(sample, []))
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, f"{sample}{labels}: {found}"
    return float(found[0].value)


async def scrape(http: aiohttp.ClientSession, url: str) -> Families:
    async with http.get(url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        return parse(await resp.text())


def build_site(site: TestSite) -> None:
    pages = [f"/p{i}" for i in range(12)]
    site.add(
        "/",
        Page(
            title="root",
            links=[*pages, "/missing", "/flaky", "/limited", "/login1", "/login2", "/no1", "/no2"],
        ),
    )
    for path in pages:
        site.add(path, Stall(0.05, Page(title=path, body_text="x" * 2000)))
    site.add("/flaky", Status(500), Page(title="flaky"))
    site.add("/limited", Status(429, headers={"Retry-After": "1"}), Page(title="limited"))
    for path in ("/login1", "/login2"):
        site.add(path, Status(401, body="login required"))
    for path in ("/no1", "/no2"):
        site.add(path, Status(403, body="forbidden"))


async def test_every_family_during_a_real_crawl(
    site: TestSite, make_config: Callable[..., Config], openai_server: OpenAIServer
) -> None:
    build_site(site)
    dead = f"127.0.0.3:{dead_port()}"
    # The first LLM answer is not valid JSON (a rejected answer); the rest are good.
    openai_server.script(Answer("Sure! Retry it."))
    cfg = make_config(
        retry__max_retries=2,
        crawl__concurrency=4,
        llm__enabled=True,
        llm__base_url=openai_server.base_url,
        llm__model="scripted",
        llm__api_key="sk-test",
        llm__max_retries=0,
    )
    async with AdaptiveCrawler(cfg) as crawler:
        metrics = crawler.metrics
        async with (
            StatusServer(crawler.status_snapshot, "127.0.0.1", 0, metrics=metrics) as server,
            aiohttp.ClientSession() as http,
        ):
            task = asyncio.create_task(crawler.run([site.url("/"), f"http://{dead}/"]))
            mid: Families | None = None
            while not task.done():
                families = await scrape(http, server.url)
                pending = value(families, "crawler_frontier_urls", state="pending")
                if mid is None and pending > 0:
                    mid = families
                await asyncio.sleep(0.05)
            summary = await task
            dlq = await crawler.storage.dlq_list()
            end = await scrape(http, server.url)

    # Mid-crawl: the live families answer while URLs are still pending.
    assert mid is not None, "no scrape happened while URLs were pending"
    assert value(mid, "crawler_frontier_urls", state="done") < summary.pages_ok

    site_host = site.netloc
    # Fetch latency by status class: a real histogram whose count is the requests made.
    assert value(end, "crawler_fetch_duration_seconds_count", status_class="2xx") >= 15
    for cls in ("4xx", "5xx", "error"):
        assert value(end, "crawler_fetch_duration_seconds_count", status_class=cls) >= 1, cls
    buckets = [
        s.value
        for s in end["crawler_fetch_duration_seconds"]
        if s.name.endswith("_bucket") and s.labels["status_class"] == "2xx"
    ]
    assert buckets == sorted(buckets)
    assert buckets[-1] >= 15
    assert value(end, "crawler_fetch_duration_seconds_sum", status_class="2xx") >= 12 * 0.05
    # Responses by status code and by category; bytes.
    # /missing, and the site's soft-404 probe (one URL that cannot exist, for the "/" prefix)
    assert value(end, "crawler_responses_total", code="404") == 2
    assert value(end, "crawler_responses_total", code="500") == 1
    assert value(end, "crawler_responses_total", code="429") == 1
    assert value(end, "crawler_responses_total", code="none") >= 1  # the dead host
    assert value(end, "crawler_responses_by_category_total", category="OK") >= 15
    assert value(end, "crawler_responses_by_category_total", category="AUTH") == 4
    assert value(end, "crawler_responses_by_category_total", category="NETWORK") >= 1
    assert value(end, "crawler_downloaded_bytes_total") >= 12 * 2000
    # Frontier and DLQ gauges agree with the storage.
    assert value(end, "crawler_frontier_urls", state="done") == summary.pages_ok
    assert value(end, "crawler_frontier_urls", state="pending") == 0
    assert value(end, "crawler_dlq_entries") == len(dlq) == summary.dlq_items
    # Breakers: the dead host is open (given up), the site's is closed.
    assert value(end, "crawler_host_breaker_state", host=dead) == 2
    assert value(end, "crawler_host_breaker_state", host=site_host) == 0
    assert value(end, "crawler_hosts", breaker="given_up") == 1
    assert value(end, "crawler_host_throttle_concurrency", host=site_host) >= 1
    assert value(end, "crawler_host_throttle_delay_seconds", host=site_host) >= 0
    assert value(end, "crawler_host_retry_after_remaining_seconds", host=site_host) >= 0
    # Retries and the Retry-After pause.
    assert value(end, "crawler_retries_total", host=site_host) >= 2  # /flaky and /limited
    assert value(end, "crawler_retry_after_pauses_total", host=site_host) == 1
    assert value(end, "crawler_retry_after_pause_seconds_total", host=site_host) == 1.0
    # The LLM: two error signatures asked (one answer rejected), the repeats from the cache.
    assert value(end, "crawler_llm_calls_total", outcome="ok") == openai_server.count == 2
    assert value(end, "crawler_llm_duration_seconds_count") == 2
    assert value(end, "crawler_llm_rejected_total") == 1
    assert value(end, "crawler_llm_cache_hits_total") == 1
    # Errors as the analytics counted them, the mode, the last successful run.
    assert value(end, "crawler_errors_total", category="NOT_FOUND") == 1
    assert value(end, "crawler_degraded") == 0
    assert value(end, "crawler_last_run_success_timestamp_seconds") > 1.7e9
    assert value(end, "crawler_last_run_pages_stored") == summary.pages_stored


def test_registries_are_per_crawler() -> None:
    a, b = CrawlMetrics(), CrawlMetrics()
    a.on_response("h:80", 200, None, 0.1, 10)
    assert "crawler_responses_total" in a.render().decode()
    assert 'crawler_responses_total{code="200"}' not in b.render().decode()
    assert prometheus_client.REGISTRY.get_sample_value("crawler_downloaded_bytes_total") is None


def test_host_labels_are_capped_and_stable() -> None:
    m = CrawlMetrics(max_host_labels=2)
    for host in ("a:80", "b:80", "c:80", "d:80"):
        m.on_response(host, 503, "SERVER", 0.01, 0)
        m.on_retry(host)
    m.on_retry("a:80")
    families = parse(m.render().decode())
    assert value(families, "crawler_retries_total", host="a:80") == 2
    assert value(families, "crawler_retries_total", host="b:80") == 1
    assert value(families, "crawler_retries_total", host=OTHER) == 2
    # Gauges: the busiest hosts only; every host is counted by breaker state.
    hosts = [
        HostView(f"{h}:80", {"state": "open"}, {"concurrency": 1}, requests=n)
        for h, n in (("a", 1), ("b", 1), ("c", 9), ("d", 5))
    ]
    m.update(StatusSnapshot(hosts=hosts, frontier=FrontierView(pending=3, waiting=1)))
    families = parse(m.render().decode())
    shown = {s.labels["host"] for s in families["crawler_host_breaker_state"]}
    assert shown == {"c:80", "d:80"}  # most requests first (the snapshot's count is higher)
    assert value(families, "crawler_hosts", breaker="open") == 4
    assert value(families, "crawler_frontier_urls", state="waiting") == 1


def test_status_class_covers_every_outcome() -> None:
    m = CrawlMetrics()
    for status in (200, 301, 404, 503, None, 999):
        m.on_response("h:80", status, None, 0.2, 0)
    families = parse(m.render().decode())
    for cls in ("2xx", "3xx", "4xx", "5xx"):
        assert value(families, "crawler_fetch_duration_seconds_count", status_class=cls) == 1
    assert value(families, "crawler_fetch_duration_seconds_count", status_class="error") == 2


def test_textfile_for_node_exporter(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "crawler.prom"
    clock = iter([1_800_000_000.0, 1_800_000_100.0])
    ok = CrawlMetrics(clock=lambda: next(clock))
    summary: dict[str, Any] = {"duration_s": 12.5, "pages_stored": 40}
    ok.on_run_finished(summary, success=True, alerts=1)
    write_textfile(path, ok)
    families = parse(path.read_text())
    assert value(families, "crawler_last_run_success_timestamp_seconds") == 1_800_000_000.0
    assert value(families, "crawler_last_run_pages_stored") == 40
    assert value(families, "crawler_last_run_alerts") == 1
    assert "crawler_responses" not in families  # only the last-run gauges
    # A later run that fails keeps the last success time the file had.
    failed = CrawlMetrics()
    failed.on_run_finished({"duration_s": 3.0, "pages_stored": 0}, success=False)
    write_textfile(path, failed)
    families = parse(path.read_text())
    assert value(families, "crawler_last_run_success_timestamp_seconds") == 1_800_000_000.0
    assert value(families, "crawler_last_run_duration_seconds") == 3.0
    assert [p.name for p in path.parent.iterdir()] == ["crawler.prom"]  # no temp file left

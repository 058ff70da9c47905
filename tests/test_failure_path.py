"""The failure path end to end: real crawls of fault-injecting sites on several loopback hosts."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.testing import Huge, Page, Partial, Redirect, Reset, Status, TestSite
from tests.conftest import read_jsonl


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def test_transient_failures_all_end_stored(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add("/", Page(title="root", links=["/500", "/502", "/503", "/reset", "/partial"]))
    site.add("/500", Status(500), Status(500), Page(title="500 ok"))
    site.add("/502", Status(502), Page(title="502 ok"))
    site.add("/503", Status(503), Page(title="503 ok"))
    site.add("/reset", Reset(), Page(title="reset ok"))
    site.add("/partial", Partial(), Page(title="partial ok"))
    cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"))
    async with AdaptiveCrawler(cfg) as crawler:
        summary = await crawler.run([site.url("/")])
    records = {r["url"]: r for r in read_jsonl(tmp_path / "o.jsonl")}
    assert len(records) == 6
    assert records[site.url("/500")]["attempts"] == 3
    assert records[site.url("/502")]["attempts"] == 2
    assert records[site.url("/reset")]["title"] == "reset ok"
    assert summary.dlq_items == 0
    # aiohttp re-sends an idempotent request once by itself when a *reused* keep-alive connection
    # turns out dead (RFC 9112 §9.3.1.1), so the reset may be absorbed below our retry layer.
    assert summary.retries in (5, 6)


async def test_permanent_failures_land_in_dlq_with_their_category(
    site: TestSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    site.add(
        "/",
        Page(title="root", links=["/404", "/410", "/loop1", "/big", "/captcha", "/400"]),
    )
    site.add("/404", Status(404))
    site.add("/410", Status(410))
    site.add("/400", Status(400))
    site.add("/loop1", Redirect("/loop2"))
    site.add("/loop2", Redirect("/loop1"))
    site.add("/big", Huge(5_000_000))
    site.add(
        "/captcha",
        Page(title="Just a moment...", body_text="Please complete the CAPTCHA to continue"),
    )
    cfg = make_config(crawl__out=str(tmp_path / "o.jsonl"), fetch__max_response_bytes=100_000)
    async with AdaptiveCrawler(cfg) as crawler:
        summary = await crawler.run([site.url("/")])
        dlq = {e.url: e for e in await crawler.storage.dlq_list()}
    categories = {url.rsplit("/", 1)[1]: e.error["category"] for url, e in dlq.items()}
    assert categories == {
        "404": "NOT_FOUND",
        "410": "NOT_FOUND",
        "400": "CLIENT",
        "loop1": "REDIRECT",
        "big": "CONTENT",
        "captcha": "BLOCKED",
    }
    for path in ("/404", "/410", "/400", "/loop1", "/big"):
        assert site.hits[path] == 1, f"{path} was retried"
    assert all(e.attempts == 1 for e in dlq.values() if not e.url.endswith("captcha"))
    stored = {r["url"] for r in read_jsonl(tmp_path / "o.jsonl")}
    assert stored == {site.url("/")}
    assert not stored & set(dlq), "a URL is both stored and in the DLQ"
    entry = dlq[site.url("/404")]
    assert entry.error["status_code"] == 404
    assert set(entry.analysis) == {
        "error_type",
        "severity",
        "description",
        "should_retry",
        "suggested_action",
        "recovery_steps",
    }
    assert entry.analysis["should_retry"] is False
    assert summary.pages_failed == 6


async def test_attempts_never_exceed_max_retries_plus_one(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/", Page(title="root", links=["/always500"]))
    site.add("/always500", Status(500))
    async with AdaptiveCrawler(make_config(retry__max_retries=2)) as crawler:
        await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    assert site.hits["/always500"] == 3
    assert entry.attempts == 3
    assert entry.error["category"] == "SERVER"
    assert [h["attempt"] for h in entry.history] == [1, 2, 3]


async def test_retry_after_pauses_the_whole_host(
    make_config: Callable[..., Config],
) -> None:
    async with TestSite("127.0.0.2") as site:
        site.add("/", Page(title="root", links=["/limited", *[f"/p{i}" for i in range(6)]]))
        site.add("/limited", Status(429, {"Retry-After": "2"}), Page(title="ok now"))
        for i in range(6):
            site.add(f"/p{i}", Page(title=str(i)))
        cfg = make_config(crawl__concurrency=1)
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
        (t429,) = site.times("/limited")[:1]
        after = [t for t, p in site.log if t > t429]
        assert after, "nothing was requested after the 429"
        assert min(after) - t429 >= 2.0, "a request reached the host before Retry-After"
        assert summary.pages_ok == 8
        assert site.hits["/limited"] == 2


async def test_retry_after_beyond_max_goes_to_dlq_as_rate_limit(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/", Page(title="root", links=["/limited"]))
    site.add("/limited", Status(429, {"Retry-After": "3600"}))
    async with AdaptiveCrawler(make_config(retry__max_retry_after_s=5)) as crawler:
        await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    assert entry.error["category"] == "RATE_LIMIT"
    assert "3600" in entry.error["message"]
    assert site.hits["/limited"] == 1


async def test_dead_host_is_cut_off_then_recovered_by_dlq_retry(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    dead_port = free_port("127.0.0.3")
    dead = f"http://127.0.0.3:{dead_port}"
    async with TestSite("127.0.0.2") as site:
        site.add("/", Page(title="root", links=[f"{dead}/d{i}" for i in range(10)] + ["/ok"]))
        site.add("/ok", Page(title="ok"))
        cfg = make_config(
            crawl__allowed_domains=[f"127.0.0.3:{dead_port}"],
            crawl__per_host_concurrency=1,
            crawl__out=str(tmp_path / "o.jsonl"),
            crawl__respect_robots_txt=False,
        )
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
            dlq = await crawler.storage.dlq_list()
            by_host = (await crawler.status_snapshot()).errors["by_host"]
        dead_key = f"127.0.0.3:{dead_port}"
        threshold = cfg.circuit_breaker.failure_threshold
        probes = cfg.circuit_breaker.max_open_cycles
        assert by_host[dead_key] <= threshold + probes
        assert sorted(e.url for e in dlq) == sorted(f"{dead}/d{i}" for i in range(10))
        assert {e.error["category"] for e in dlq} == {"NETWORK"}
        assert all(e.analysis["recovery_steps"] for e in dlq)
        assert summary.breakers[dead_key] == "open"
        assert summary.pages_ok == 2
        assert site.hits["/ok"] == 1

        # The host comes back: `dlq retry --all` stores its pages and empties the DLQ.
        async with TestSite("127.0.0.3", dead_port) as revived:
            for i in range(10):
                revived.add(f"/d{i}", Page(title=f"d{i}"))
            async with AdaptiveCrawler(cfg) as crawler:
                assert await crawler.storage.dlq_requeue(None) == 10
                summary = await crawler.run([])
                assert await crawler.storage.dlq_list() == []
            assert summary.pages_ok == 12
            assert summary.dlq_items == 0
        urls = [r["url"] for r in read_jsonl(tmp_path / "o.jsonl")]
        assert len(urls) == len(set(urls)) == 12


async def test_robots_unreachable_sends_host_to_dlq_with_its_category(
    make_config: Callable[..., Config],
) -> None:
    async with TestSite("127.0.0.2") as site:
        site.robots = Status(503)
        site.add("/", Page(title="root"))
        async with AdaptiveCrawler(make_config(retry__max_retries=2)) as crawler:
            summary = await crawler.run([site.url("/")])
            (entry,) = await crawler.storage.dlq_list()
        assert site.hits["/"] == 0, "a URL was requested while robots.txt was unavailable"
        assert site.hits["/robots.txt"] == 3
        assert entry.error["category"] == "SERVER"
        assert summary.pages_ok == 0


async def test_robots_404_allows_everything(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.robots = None  # 404
    site.add("/", Page(title="root"))
    async with AdaptiveCrawler(make_config()) as crawler:
        summary = await crawler.run([site.url("/")])
    assert summary.pages_ok == 1


async def test_handle_error_shape_and_log_lines(
    site: TestSite, make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="crawler")
    async with AdaptiveCrawler(make_config()) as crawler:
        result = await crawler._handle_error(
            ConnectionResetError("boom"),
            {"url": site.url("/x"), "retry_count": 1, "target_data": {}},
        )
    assert set(result) == {"error", "context", "analysis", "should_retry", "retry_count"}
    assert result["error"] == "boom"
    assert result["retry_count"] == 1
    assert set(result["analysis"]) >= {"error_type", "severity", "should_retry"}
    levels = {(r.levelname, r.getMessage().split(" ")[0]) for r in caplog.records}
    assert ("ERROR", "Error") in levels
    assert ("DEBUG", "Error") in levels
    assert any(r.levelname == "INFO" and "analysis" in r.getMessage() for r in caplog.records)


async def test_handle_error_never_raises(make_config: Callable[..., Config]) -> None:
    class Broken(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            if key == "host":
                raise RuntimeError("context exploded")
            return super().get(key, default)

    async with AdaptiveCrawler(make_config()) as crawler:
        result = await crawler._handle_error("weird", Broken(url="http://127.0.0.1:9/"))
    assert result["analysis"] == {"error": "error analysis failed"}
    assert result["should_retry"] is False


async def test_error_callbacks_receive_records(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    seen: list[str] = []
    site.add("/", Page(title="root", links=["/missing"]))
    async with AdaptiveCrawler(make_config()) as crawler:
        crawler.on_error(lambda record, analysis: seen.append(record.category.value))
        await crawler.run([site.url("/")])
    assert seen == ["NOT_FOUND"]


async def test_an_unforeseen_exception_is_a_dlq_entry_not_a_crash(
    site: TestSite, make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    import crawler.engine.pipeline as crawler_module
    from crawler.web.parse import parse_html as real_parse

    def parse_or_explode(
        body: bytes | str, base_url: str, encoding: str | None = None, **kw: Any
    ) -> Any:
        if base_url.endswith("/bomb"):
            raise RecursionError("a parser bug nobody foresaw")
        return real_parse(body, base_url, encoding, **kw)

    monkeypatch.setattr(crawler_module, "parse_html", parse_or_explode)
    site.add("/", Page(title="root", links=["/bomb", "/fine"]))
    site.add("/bomb", Page(title="bomb"))
    site.add("/fine", Page(title="fine"))
    async with AdaptiveCrawler(make_config()) as crawler:
        summary = await crawler.run([site.url("/")])
        (entry,) = await crawler.storage.dlq_list()
    assert summary.pages_ok == 2
    assert entry.url == site.url("/bomb")
    assert entry.error["category"] == "UNKNOWN"
    assert "RecursionError" in entry.error["message"]

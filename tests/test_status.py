"""The status server and the error API over a real crawl; reading a state while a crawl runs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crawler import AdaptiveCrawler
from crawler.config import Config, load_config
from crawler.errors import ConfigError
from crawler.observe.reports import ACK_KEY, MAX_REPORT_BYTES
from crawler.observe.status import StatusServer
from crawler.testing import Behaviour, Page, Status, TestSite

ERROR_ENDPOINTS = (
    "summary",
    "circuit-breakers",
    "rate-limit-status",
    "notifications",
    "degradation-mode",
    "system-health",
)


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as resp:
        assert resp.status == 200, url
        return await resp.json()


async def test_status_endpoints(site: TestSite, make_config: Callable[..., Config]) -> None:
    """The server the crawler starts itself with ``[status] enabled``."""
    site.add("/", Page(title="root", links=["/missing", "/boom"]))
    site.add("/boom", Status(500))
    cfg = make_config(status__enabled=True, status__port=0, retry__max_retries=1)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
        base = crawler.status_url
        assert base.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            health = await get_json(http, base + "/health")
            assert health["pages_ok"] == 1
            assert health["dlq_items"] == 2
            assert health["degraded"] is False
            for name in ERROR_ENDPOINTS:  # the /api paths and the first ones answer alike
                assert await get_json(http, f"{base}/api/errors/{name}") == await get_json(
                    http, f"{base}/errors/{name}"
                ), name
            summary = await get_json(http, base + "/api/errors/summary")
            assert summary["by_category"] == {"NOT_FOUND": 1, "SERVER": 2}
            breakers = await get_json(http, base + "/api/errors/circuit-breakers")
            assert breakers[site.netloc]["state"] == "closed"
            limits = await get_json(http, base + "/api/errors/rate-limit-status")
            assert site.netloc in limits
            assert isinstance(await get_json(http, base + "/api/errors/notifications"), list)
            mode = await get_json(http, base + "/api/errors/degradation-mode")
            assert mode["is_degraded"] is False
            assert mode["llm"] == "off"
            assert set(mode) >= {"is_degraded", "reason", "since", "open_circuits", "features"}
            health = await get_json(http, base + "/api/errors/system-health")
            assert health["health"] == "healthy"
            assert health["total_errors"] == 3
            assert health["critical_errors"] == 0
            assert health["open_circuits"] == []
            assert health["breakers"][site.netloc] == "closed"
            dlq = await get_json(http, base + "/dlq")
            assert sorted(e["error"]["category"] for e in dlq) == ["NOT_FOUND", "SERVER"]
            async with http.get(base + "/metrics") as resp:
                metrics = await resp.text()
            assert 'crawler_errors_total{category="SERVER"} 2.0' in metrics
            assert "# TYPE crawler_host_breaker_state gauge" in metrics
            async with http.get(base + "/") as resp:
                assert resp.status == 200
                assert resp.content_type == "text/html"
                assert "/api/dashboard" in await resp.text()
            board = await get_json(http, base + "/api/dashboard")
            assert board["frontier"]["done"] == 1
            assert board["run"]["dlq_items"] == 2


@asynccontextmanager
async def served(
    crawler: AdaptiveCrawler, *, token: str = "", host: str = "127.0.0.1"
) -> AsyncIterator[StatusServer]:
    """A server with the engine's wiring (analytics for reports, the storage for acks)."""
    async with StatusServer(
        crawler.status_snapshot,
        host,
        0,
        token=token,
        analytics=crawler._analytics,  # what the crawler's own server is given
        store=crawler.storage,
    ) as server:
        yield server


async def test_report_acknowledge_and_notifications(
    site: TestSite, make_config: Callable[..., Config]
) -> None:
    site.add("/", Page(title="root"))
    async with AdaptiveCrawler(make_config()) as crawler:
        await crawler.run([site.url("/")])
        async with served(crawler) as server, aiohttp.ClientSession() as http:
            report = server.url + "/api/errors/report"
            for severity in ("high", "critical", "low"):
                body = {"message": f"disk {severity}", "severity": severity, "source": "cron"}
                async with http.post(report, json=body) as resp:
                    assert resp.status == 201, await resp.text()
            summary = await get_json(http, server.url + "/api/errors/summary")
            assert summary["errors_total"] == 3
            assert summary["by_category"] == {"UNKNOWN": 3}
            url = server.url + "/api/errors/notifications"
            listed = await get_json(http, url)
            assert [n["message"] for n in listed] == [
                "[reported by cron] disk critical",
                "[reported by cron] disk high",
            ]  # newest first; a LOW error is no notification
            high = await get_json(http, url + "?severity=high&limit=10")
            assert [n["severity"] for n in high] == ["high"]
            assert len(await get_json(http, url + "?limit=1")) == 1
            for bad in ("?severity=apocalyptic", "?limit=0", "?limit=x", "?limit=101"):
                async with http.get(url + bad) as resp:
                    assert resp.status == 400, bad
            health = await get_json(http, server.url + "/api/errors/system-health")
            assert health["health"] == "critical"
            assert health["critical_errors"] == 1

            ack = server.url + "/api/errors/acknowledge/"
            async with http.post(ack + high[0]["id"]) as resp:
                assert resp.status == 200
            async with http.post(ack + "no-such-id") as resp:
                assert resp.status == 404
            assert await get_json(http, url + "?severity=high") == []
            assert len(await get_json(http, url)) == 1
        await crawler.storage.commit()
        assert await crawler.storage.get_meta(ACK_KEY) == [high[0]["id"]]
        # A new server on the same state (a restart) still hides it.
        async with served(crawler) as server, aiohttp.ClientSession() as http:
            assert (
                await get_json(http, server.url + "/api/errors/notifications?severity=high") == []
            )


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"severity": "high"}', "application/json", 400),  # no message
        (b'{"message": "x", "category": "SPACE"}', "application/json", 400),
        (b'{"message": "x", "severity": "apocalyptic"}', "application/json", 400),
        (b'{"message": "x", "extra": 1}', "application/json", 400),
        (b'{"message": "x", "url": "ftp://x/"}', "application/json", 400),
        (b'{"message": "x", "status_code": 42}', "application/json", 400),
        (b'{"message": 5}', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"not json", "application/json", 400),
        (b'{"message": "' + b"x" * 2001 + b'"}', "application/json", 400),
        (b'{"message": "' + b"x" * MAX_REPORT_BYTES + b'"}', "application/json", 413),
        (b'{"message": "x"}', "text/plain", 415),
        (
            b'{"message": "ok", "url": "http://a.test/x", "category": "server"}',
            "application/json",
            201,
        ),
    ],
)
async def test_report_is_validated_and_capped(
    site: TestSite,
    make_config: Callable[..., Config],
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    async with (
        AdaptiveCrawler(make_config()) as crawler,
        served(crawler) as server,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            server.url + "/api/errors/report", data=body, headers={"Content-Type": content_type}
        ) as resp:
            assert resp.status == status, await resp.text()
            assert "error" in await resp.json() or status == 201
        errors = (await crawler.status_snapshot()).errors
        assert errors["errors_total"] == (1 if status == 201 else 0)
        if status == 201:
            assert errors["by_category"] == {"SERVER": 1}
            assert errors["by_host"] == {"a.test:80": 1}


async def test_token_guards_posts(make_config: Callable[..., Config]) -> None:
    async with (
        AdaptiveCrawler(make_config()) as crawler,
        served(crawler, token="s3cret") as server,
        aiohttp.ClientSession() as http,
    ):
        report = server.url + "/api/errors/report"
        body = {"message": "x"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            async with http.post(report, json=body, headers=headers) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(report, json=body, headers={"Authorization": "Bearer s3cret"}) as resp:
            assert resp.status == 201
        assert (await get_json(http, server.url + "/health"))["status"] == "idle"  # GETs: open


async def test_server_from_config(make_config: Callable[..., Config]) -> None:
    cfg = make_config(status__port=0, status__token="tok-1", status__sample_interval_s=0.5)
    async with AdaptiveCrawler(cfg) as crawler:
        server = StatusServer.from_config(cfg.status, crawler.status_snapshot)
        assert server.rates.interval_s == 0.5
        async with server, aiohttp.ClientSession() as http:
            ack = server.url + "/api/errors/acknowledge/x"
            async with http.post(ack) as resp:
                assert resp.status == 401
            async with http.post(ack, headers={"Authorization": "Bearer tok-1"}) as resp:
                assert resp.status == 404  # past the token: no such notification


async def test_cross_site_requests_are_refused(make_config: Callable[..., Config]) -> None:
    async with (
        AdaptiveCrawler(make_config()) as crawler,
        served(crawler) as server,
        aiohttp.ClientSession() as http,
    ):
        report = server.url + "/api/errors/report"
        headers = {"Origin": "http://evil.example"}
        async with http.post(report, json={"message": "x"}, headers=headers) as resp:
            assert resp.status == 403
        own = {"Origin": server.url}
        async with http.post(report, json={"message": "x"}, headers=own) as resp:
            assert resp.status == 201
        # DNS rebinding: a loopback server answers loopback names only.
        async with http.get(server.url + "/health", headers={"Host": "evil.example"}) as resp:
            assert resp.status == 403
        async with http.get(server.url + "/health", headers={"Host": "localhost:1"}) as resp:
            assert resp.status == 200


async def test_posts_without_the_engine_wiring_are_refused(
    make_config: Callable[..., Config],
) -> None:
    async with (
        AdaptiveCrawler(make_config()) as crawler,
        StatusServer(crawler.status_snapshot, "127.0.0.1", 0) as server,
        aiohttp.ClientSession() as http,
        http.post(server.url + "/api/errors/report", json={"message": "x"}) as resp,
    ):
        assert resp.status == 503


def test_binding_off_loopback_needs_a_token() -> None:
    for host in ("127.0.0.1", "127.0.0.9", "::1", "localhost"):
        assert load_config(overrides={"status.host": host}, env={}).status.host == host
    with pytest.raises(ConfigError) as caught:
        load_config(overrides={"status.host": "0.0.0.0"}, env={})
    assert "status.token" in str(caught.value)
    assert "0.0.0.0" in str(caught.value)
    env = {"CRAWLER_STATUS_TOKEN": "tok-3f9a"}
    cfg = load_config(overrides={"status.host": "0.0.0.0"}, env=env)
    assert cfg.status.token.get_secret_value() == "tok-3f9a"
    assert "tok-3f9a" not in repr(cfg.status)


# -- reading a state dir while a crawl runs ------------------------------------------------------
async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class GatedSite(TestSite):
    """A fault site whose ``/gate`` answers only once ``gate`` is set: the crawl cannot end
    before the test lets it."""

    def __init__(self) -> None:
        super().__init__("127.0.0.1")
        self.gate = asyncio.Event()

    async def _serve(self, request: web.Request, b: Behaviour) -> web.StreamResponse:
        if request.path == "/gate":
            await self.gate.wait()
        return await super()._serve(request, b)


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_stats_and_dlq_read_while_a_crawl_runs(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    async with GatedSite() as site:
        await _read_while_running(site, make_config, tmp_path)


async def _read_while_running(
    site: GatedSite, make_config: Callable[..., Config], tmp_path: Path
) -> None:
    n = 10
    site.add("/", Page(title="root", links=["/gone", "/gate"] + [f"/p{i}" for i in range(n)]))
    for i in range(n):
        site.add(f"/p{i}", Page(title=f"p{i}"))
    site.add("/gone", Status(404))
    site.add("/gate", Page(title="gate"))
    state = tmp_path / "state"
    cfg = make_config(fetch__read_timeout_s=60.0, fetch__total_timeout_s=60.0)
    common = ("--state-dir", str(state))
    async with AdaptiveCrawler(cfg) as crawler:
        task = asyncio.create_task(crawler.run([site.url("/")]))
        while (await crawler.storage.counts()).done < n + 1 or not (
            await crawler.storage.dlq_list()
        ):
            await asyncio.sleep(0.05)  # every page but the gated one is settled
        await crawler.storage.commit()  # as the crawl's own commit loop does
        # The crawl holds the lock: reads work, a change is refused with exit code 3.
        code, out, err = await _cli("stats", *common, "--json")
        assert code == 0, err
        stats = json.loads(out)
        assert stats["dlq_items"] == 1
        assert stats["done"] == n + 1
        assert stats["leased"] == 1  # /gate, in flight
        code, out, err = await _cli("dlq", "list", *common, "--json")
        assert code == 0, err
        (entry,) = json.loads(out)
        assert entry["url"] == site.url("/gone")
        code, out, err = await _cli("dlq", "show", str(entry["id"]), *common)
        assert code == 0
        assert json.loads(out)["error"]["category"] == "NOT_FOUND"
        code, out, err = await _cli("dlq", "export", *common)
        assert code == 0
        assert len(out.splitlines()) == 1
        code, out, err = await _cli("stats", *common, "--history")
        assert code == 0, err
        code, _, err = await _cli("dlq", "purge", "--all", *common)
        assert code == 3
        assert "lock" in err
        assert not task.done()
        site.gate.set()
        summary = await task
    assert summary.pages_ok == n + 2
    assert summary.dlq_items == 1  # the refused purge changed nothing
    # Read-only opens left the leases alone: the crawl stored every page once.
    code, out, _ = await _cli("stats", *common, "--json")
    assert json.loads(out) == {
        "pending": 0,
        "leased": 0,
        "done": n + 2,
        "dead": 1,
        "dlq_items": 1,
        "dlq_by_category": {"NOT_FOUND": 1},
    }

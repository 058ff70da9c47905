"""The status server answers every SPEC endpoint from the crawler's live snapshot."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.testing import Page, Status, TestSite


async def test_status_endpoints(site: TestSite, make_config: Callable[..., Config]) -> None:
    site.add("/", Page(title="root", links=["/missing", "/boom"]))
    site.add("/boom", Status(500))
    cfg = make_config(status__enabled=True, status__port=0, retry__max_retries=1)
    async with AdaptiveCrawler(cfg) as crawler:
        await crawler.run([site.url("/")])
        base = crawler.status_url
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> aiohttp.ClientResponse:
                resp = await http.get(base + path)
                assert resp.status == 200, path
                return resp

            health = await (await get("/health")).json()
            assert health["pages_ok"] == 1
            assert health["dlq_items"] == 2
            summary = await (await get("/errors/summary")).json()
            assert summary["by_category"] == {"NOT_FOUND": 1, "SERVER": 2}
            breakers = await (await get("/errors/circuit-breakers")).json()
            assert breakers[site.netloc]["state"] == "closed"
            limits = await (await get("/errors/rate-limit-status")).json()
            assert site.netloc in limits
            assert isinstance(await (await get("/errors/notifications")).json(), list)
            mode = await (await get("/errors/degradation-mode")).json()
            assert mode["llm"] == "rules-only"
            dlq = await (await get("/dlq")).json()
            assert sorted(e["error"]["category"] for e in dlq) == ["NOT_FOUND", "SERVER"]
            metrics = await (await get("/metrics")).text()
            assert 'crawler_errors_total{category="SERVER"} 2' in metrics
            assert "# TYPE crawler_breaker_state gauge" in metrics

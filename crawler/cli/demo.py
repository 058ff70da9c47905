"""``crawler demo``: a small local site with injected faults, crawled into a temp dir.

Needs no network: the site is served in-process by aiohttp.web on 127.0.0.1. It has English and
Japanese pages (one in Shift_JIS declared only in ``<meta>``, one in EUC-JP), a page that fails
with 500 once, one rate-limited once with ``Retry-After``, a 404, a captcha served with 200, a
redirect, a page robots.txt forbids and a link off-site — so every part of the failure path shows.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from rich.console import Console
from rich.table import Table

from crawler.config import load_config
from crawler.crawler import AdaptiveCrawler
from crawler.records import CrawlSummary
from crawler.redact import RedactingFilter

PAGE = """<!doctype html><html><head>{meta}<title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p><ul>{links}</ul></body></html>"""


def _label(href: str) -> str:
    return href.rstrip("/").rsplit("/", 1)[-1].replace("-", " ") or "home"


def _page(title: str, text: str, links: list[str], meta: str = "") -> str:
    anchors = "".join(f'<li><a href="{href}">{_label(href)}</a></li>' for href in links)
    return PAGE.format(title=title, text=text, links=anchors, meta=meta)


class DemoSite:
    """The demo's site; ``hits`` counts requests per path (the faults are per first request)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.app = web.Application()
        self.app.router.add_get("/{tail:.*}", self._handle)
        self._runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits[path] += 1
        first = self.hits[path] == 1
        html = "text/html; charset=utf-8"
        if path == "/robots.txt":
            return web.Response(
                text="User-agent: *\nDisallow: /private\n", content_type="text/plain"
            )
        if path == "/":
            body = _page(
                "Adaptive crawler demo",
                "A small site that misbehaves on purpose.",
                [
                    "/about",
                    "/ja/",
                    "/ja/euc",
                    "/flaky",
                    "/busy",
                    "/missing",
                    "/members",
                    "/old-about",
                    "/private/report",
                    "https://example.com/elsewhere",
                ],
            )
            return web.Response(body=body.encode(), headers={"Content-Type": html})
        if path == "/about":
            body = _page("About this demo", "Every URL ends stored or in the DLQ.", ["/"])
            return web.Response(body=body.encode(), headers={"Content-Type": html})
        if path == "/ja/":
            # Shift_JIS with the charset only in <meta>: "表" and "ソ" have 0x5C trail bytes.
            body = _page(
                "日本語のページ：表示テスト",
                "ソフトウェアの表示を確かめます。",
                ["/", "/ja/euc"],
                meta='<meta charset="shift_jis">',
            )
            return web.Response(
                body=body.encode("shift_jis"), headers={"Content-Type": "text/html"}
            )
        if path == "/ja/euc":
            body = _page(
                "EUC-JPのページ",
                "文字コードの判定。",
                ["/ja/"],
                meta='<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">',
            )
            return web.Response(body=body.encode("euc_jp"), headers={"Content-Type": "text/html"})
        if path == "/flaky":
            if first:
                return web.Response(status=500, text="internal error, try again")
            body = _page("Flaky page", "This page failed once with a 500.", ["/"])
            return web.Response(body=body.encode(), headers={"Content-Type": html})
        if path == "/busy":
            if first:
                return web.Response(status=429, text="slow down", headers={"Retry-After": "1"})
            body = _page("Busy page", "This page answered 429 with Retry-After: 1 once.", ["/"])
            return web.Response(body=body.encode(), headers={"Content-Type": html})
        if path == "/members":
            body = _page(
                "Attention Required",
                "Please complete the CAPTCHA to prove you are not a robot.",
                [],
            )
            return web.Response(body=body.encode(), headers={"Content-Type": html})
        if path == "/old-about":
            raise web.HTTPMovedPermanently("/about")
        if path.startswith("/private"):
            return web.Response(text="secret", content_type="text/plain")
        return web.Response(status=404, text="not found")


async def run_demo(*, no_llm: bool = False, keep: str | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s"
    )
    for handler in logging.getLogger().handlers:  # the same log hygiene as `crawler run`
        handler.addFilter(RedactingFilter())
    console = Console()
    site = DemoSite()
    base = await site.start()
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="crawler-demo-")
    state_dir = Path(keep) if keep else Path(tmp.name) / "state"  # type: ignore[union-attr]
    try:
        llm_note, llm_overrides, llm_ctx = await _demo_llm(no_llm)
        cfg = load_config(
            None,
            {
                "crawl.state_dir": str(state_dir),
                "crawl.max_depth": 3,
                "crawl.concurrency": 4,
                "retry.base_delay_s": 0.1,
                "retry.max_delay_s": 1.0,
                "retry.max_retry_after_s": 5.0,
                "circuit_breaker.reset_timeout_s": 1.0,
                "circuit_breaker.max_reset_timeout_s": 2.0,
                **llm_overrides,
            },
        )
        console.print(f"[bold]Demo site[/bold] at {base} — crawling into {state_dir}")
        console.print(f"LLM: {llm_note}")
        try:
            async with AdaptiveCrawler(cfg) as crawler:
                summary = await crawler.run([base + "/"])
                entries = await crawler.storage.dlq_list()
                out_path = crawler.config.crawl.out_path
        finally:
            if llm_ctx is not None:
                await llm_ctx.__aexit__(None, None, None)
        _report(console, base, out_path, entries, summary, site)
        return 0
    finally:
        await site.stop()
        if tmp is not None:
            tmp.cleanup()


async def _demo_llm(no_llm: bool) -> tuple[str, dict[str, Any], Any]:
    """Start the local model when the ``local-llm`` extra is installed; rules alone otherwise."""
    if no_llm:
        return "off (--no-llm): rules alone", {"llm.enabled": False}, None
    try:
        from crawler.llm.local import LocalModelServer
    except ImportError:
        return "off (crawler.llm.local unavailable): rules alone", {"llm.enabled": False}, None
    server = LocalModelServer()
    try:
        base_url, model = await server.__aenter__()
    except Exception as exc:  # the extra is optional: say why and go on with rules
        return f"off ({exc}): rules alone", {"llm.enabled": False}, None
    overrides = {"llm.enabled": True, "llm.base_url": base_url, "llm.model": model}
    return f"local model {model} at {base_url}", overrides, server


def _report(
    console: Console,
    base: str,
    out_path: Path,
    entries: list[Any],
    summary: CrawlSummary,
    site: DemoSite,
) -> None:
    pages = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines() if line]
    table = Table(title=f"Stored pages ({len(pages)})")
    for col in ("url", "status", "title", "links", "attempts"):
        table.add_column(col)
    for p in pages:
        table.add_row(
            p["url"].removeprefix(base),
            str(p["status"]),
            str(p["title"]),
            str(len(p["links"])),
            str(p["attempts"]),
        )
    console.print(table)
    dlq = Table(title=f"Dead-letter queue ({len(entries)})")
    for col in ("url", "category", "attempts", "message", "suggested action", "analysis by"):
        dlq.add_column(col)
    for e in entries:
        dlq.add_row(
            e.url.removeprefix(base),
            e.error["category"],
            str(e.attempts),
            str(e.error["message"])[:60],
            e.analysis["suggested_action"],
            str(e.context.get("analysis_source", "rules")),
        )
    console.print(dlq)
    console.print(f"Summary: {summary.headline()}")
    console.print(f"Requests the site received per path: {dict(sorted(site.hits.items()))}")
    sys.stdout.flush()

"""``crawler demo``: the fault-injecting test site (crawler.testing) crawled into a temp dir.

Needs no network: the site runs in-process on 127.0.0.1. It has English and Japanese pages (one
in Shift_JIS declared only in ``<meta>``, one in EUC-JP), a page that fails with 500 once, one
rate-limited once with ``Retry-After``, a 404, a Cloudflare-style block page and a sign-in wall
served with 200, a shop section that answers "not found" pages with 200 (a soft-404, caught by
probing), a redirect, a page robots.txt forbids and a link off-site — so every part of the
failure path shows. With the local model installed (``./scripts/demo`` installs it when it can)
the LLM analyses the failures the rules cannot settle; it can never store the block page.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crawler.config import load_config
from crawler.crawler import AdaptiveCrawler
from crawler.records import CrawlSummary, DLQEntry
from crawler.redact import RedactingFilter
from crawler.testing import Page, Redirect, Status, TestSite

BLOCK_PAGE = (
    "<html><head><title>Attention Required! | Cloudflare</title></head><body>"
    '<div id="cf-wrapper"><h1>Sorry, you have been blocked</h1>'
    "<p>This website is using a security service to protect itself from online attacks.</p>"
    "<p>Cloudflare Ray ID: 8a1b2c3d4e5f6a7b</p></div></body></html>"
)
SIGN_IN = (
    "<html><head><title>Sign in - Members</title></head><body><h1>Sign in</h1>"
    '<form method="post"><input type="email" name="user"><input type="password" name="pw">'
    "<button>Sign in</button></form></body></html>"
)
NOT_FOUND_PAGE = (
    "<html><head><title>Demo shop</title></head><body><h1>Sorry!</h1>"
    "<p>We could not find the product you were looking for. It may have been discontinued.</p>"
    '<p><a href="/shop/">Back to the shop</a></p></body></html>'
)


def _html(body: str) -> Status:
    return Status(200, {"Content-Type": "text/html; charset=utf-8"}, body)


def build_site(site: TestSite) -> None:
    """Script the demo's pages on ``site`` (each fault on the first request only)."""
    site.robots = "User-agent: *\nDisallow: /private\n"
    site.add(
        "/",
        Page(
            title="Adaptive crawler demo",
            body_text="A small site that misbehaves on purpose.",
            links=[
                "/about",
                "/ja/",
                "/ja/euc",
                "/flaky",
                "/busy",
                "/missing",
                "/blocked",
                "/members",
                "/account",
                "/shop/",
                "/old-about",
                "/private/report",
                "https://example.com/elsewhere",
            ],
        ),
    )
    site.add(
        "/about", Page(title="About this demo", body_text="Every URL ends stored or in the DLQ.")
    )
    # Shift_JIS with the charset only in <meta>: "表" and "ソ" have 0x5C trail bytes.
    site.add(
        "/ja/",
        Page(
            title="日本語のページ：表示テスト",
            body_text="ソフトウェアの表示を確かめます。",
            links=["/", "/ja/euc"],
            charset="shift_jis",
            header_charset=False,
        ),
    )
    site.add(
        "/ja/euc",
        Page(
            title="EUC-JPのページ",
            body_text="文字コードの判定。",
            links=["/ja/"],
            charset="euc_jp",
            header_charset=False,
            extra_head='<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">',
        ),
    )
    site.add(
        "/flaky",
        Status(500, body="internal error, try again"),
        Page(title="Flaky page", body_text="This page failed once with a 500."),
    )
    site.add(
        "/busy",
        Status(429, {"Retry-After": "1"}, "slow down"),
        Page(title="Busy page", body_text="This page answered 429 with Retry-After: 1 once."),
    )
    site.add("/blocked", _html(BLOCK_PAGE))
    site.add("/members", _html(SIGN_IN))
    site.add("/account", Status(401, {"WWW-Authenticate": "Basic"}, "login required"))
    site.add("/shop/", Page(title="Demo shop", links=["/shop/teapot", "/shop/discontinued-kettle"]))
    site.add(
        "/shop/teapot",
        Page(title="Teapot", body_text="A cast-iron teapot, 0.8 litres, in stock. " * 8),
    )
    site.otherwise("/shop/", _html(NOT_FOUND_PAGE))  # unknown products: "not found" with a 200
    site.add("/old-about", Redirect("/about", code=301))
    site.add("/private/report", Page(title="Secret report"))


async def run_demo(*, no_llm: bool = False, keep: str | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s - %(name)s - %(levelname)s - %(message)s"
    )
    for handler in logging.getLogger().handlers:  # the same log hygiene as `crawler run`
        handler.addFilter(RedactingFilter())
    console = Console()
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="crawler-demo-")
    state_dir = Path(keep) if keep else Path(tmp.name) / "state"  # type: ignore[union-attr]
    llm_note, llm_overrides = _demo_llm(no_llm)
    try:
        async with TestSite("127.0.0.1") as site:
            build_site(site)
            base = site.url("")
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
            console.print(f"[bold]Demo site[/bold] at {base}/ — crawling into {state_dir}")
            console.print(f"LLM: {llm_note}")
            async with AdaptiveCrawler(cfg) as crawler:
                summary = await crawler.run([base + "/"])
                entries = await crawler.storage.dlq_list()
                llm_mode = (await crawler.status_snapshot()).llm.mode
            if not no_llm and llm_mode != "on":
                console.print("LLM: the local model did not start — the rules decided alone")
            _report(console, base, cfg.crawl.out_path, entries, summary, site)
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


def _demo_llm(no_llm: bool) -> tuple[str, dict[str, Any]]:
    """The bundled local model when the ``local-llm`` extra is installed; rules alone otherwise
    (the crawler starts and stops the model itself: ``[llm] provider = "local"``)."""
    if no_llm:
        return "off (--no-llm): rules alone", {"llm.enabled": False}
    try:
        from crawler.llm.local import find_model_path

        find_model_path()
    except Exception as exc:  # the extra is optional: say why and go on with rules
        return f"off ({exc}): rules alone", {"llm.enabled": False}
    return "the bundled local model (SmolLM2-135M), started by the crawler", {
        "llm.enabled": True,
        "llm.provider": "local",
    }


def _report(
    console: Console,
    base: str,
    out_path: Path,
    entries: list[DLQEntry],
    summary: CrawlSummary,
    site: TestSite,
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
            _headline(str(e.error["message"])),
            e.analysis["suggested_action"],
            str(e.context.get("analysis_source", "rules")),
        )
    console.print(dlq)
    console.print(f"Summary: {summary.headline()}")
    console.print(f"Requests the site received per path: {dict(sorted(site.hits.items()))}")
    sys.stdout.flush()


def _headline(message: str) -> str:
    """A DLQ message for the table: the verdict before its reasons, cut at a word."""
    return textwrap.shorten(message.split("; ")[0], width=70, placeholder=" …")

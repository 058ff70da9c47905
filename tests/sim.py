"""A whole crawl in virtual time: scripted hosts behind a fake transport, no sockets.

The real crawler runs — scheduler, host admission, failure path, SQLite frontier, results file —
but every exchange goes through :class:`ScriptedTransport` and the event loop's clock is
looptime's virtual one, so a crawl that would take minutes of backoff and breaker pauses runs in
milliseconds and the same seed gives the same run. The crawler's clock is the loop's clock.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import looptime

from crawler import AdaptiveCrawler, load_config
from crawler.errors import FetchTimeout, NetworkError
from crawler.records import CrawlSummary, DLQEntry
from crawler.web.fetch import RawResponse

# Failure kinds a flaky host answers with before it serves a page (all retryable).
FLAKY_KINDS = ("500", "502", "503", "reset", "partial", "timeout")
START = 1_800_000_000.0  # virtual epoch seconds: 2027-01-15


@dataclass
class SimResult:
    summary: CrawlSummary
    pages: dict[str, dict[str, Any]]  # url -> results line (the last, when repeated)
    lines: int  # lines in the results file
    dlq: dict[str, DLQEntry]
    requests: Counter[str]  # url -> requests the "server" received
    started: float
    finished: float

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    def host_requests(self, host: str) -> int:
        return sum(n for url, n in self.requests.items() if urlsplit(url).netloc == host)


@dataclass
class ScriptedTransport:
    """The site's pages (``failures``: per URL, its scripted failures — kinds from FLAKY_KINDS —
    before it serves the page); any other URL answers 404, as an honest site does (so a soft-404
    probe finds nothing). Hosts in ``dead`` refuse every connection; robots.txt answers 404."""

    failures: Mapping[str, Sequence[str]]
    dead: frozenset[str] = frozenset()
    latency_s: float = 0.02
    dies_after: Mapping[str, int] = field(default_factory=dict)  # host -> pages it serves first
    requests: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)  # host -> pages served
    after_death: Counter[str] = field(default_factory=Counter)  # host -> requests once dead

    async def exchange(self, url: str, headers: Mapping[str, str] | None) -> RawResponse:
        self.requests[url] += 1
        await asyncio.sleep(self.latency_s)
        host = urlsplit(url).netloc
        limit = self.dies_after.get(host)
        if limit is not None and self.served[host] >= limit:
            self.after_death[host] += 1
            raise NetworkError(f"connection failed: {host} refused", url=url)
        if host in self.dead:
            raise NetworkError(f"connection failed: {host} refused", url=url)
        if url.endswith("/robots.txt"):
            return 404, {}, b"not found", "text/plain"
        if url not in self.failures:
            return (
                404,
                {"Content-Type": "text/html"},
                b"<html><title>Not found</title></html>",
                None,
            )
        scripted = self.failures[url]
        n = self.requests[url]
        if n <= len(scripted):
            return _fail(scripted[n - 1], url)
        self.served[host] += 1
        body = f"<html><head><title>{url}</title></head><body><p>ok</p></body></html>"
        return 200, {"Content-Type": "text/html"}, body.encode(), "text/html"


def _fail(kind: str, url: str) -> RawResponse:
    if kind in ("500", "502", "503"):
        return int(kind), {"Content-Type": "text/plain"}, b"error", "text/plain"
    if kind == "reset":
        raise NetworkError("server disconnected: ServerDisconnectedError", url=url)
    if kind == "partial":
        raise NetworkError("response body broken off: ClientPayloadError", url=url)
    if kind == "timeout":
        raise FetchTimeout("read timeout (silence between bytes)", phase="read", url=url)
    raise AssertionError(kind)


def run_sim(
    transport: ScriptedTransport,
    seeds: Sequence[str],
    overrides: Mapping[str, Any],
    *,
    seed: int = 0,
) -> SimResult:
    """Crawl ``seeds`` through ``transport`` in virtual time with config ``overrides``."""
    # The loop's own time starts at 0 (looptime's integer steps lose precision near epoch
    # values); the crawler's clock adds START to it.
    loop = looptime.new_event_loop(start=0.0)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.jsonl"
            values = {
                "crawl.state_dir": str(Path(tmp) / "state"),
                "crawl.out": str(out),
                "llm.enabled": False,
                "log.level": "ERROR",
                **overrides,
            }
            cfg = load_config(None, values, env={})
            return loop.run_until_complete(_crawl(cfg, transport, seeds, seed, loop, out))
    finally:
        loop.close()


async def _crawl(
    cfg: Any,
    transport: ScriptedTransport,
    seeds: Sequence[str],
    seed: int,
    loop: asyncio.AbstractEventLoop,
    out: Path,
) -> SimResult:
    def clock() -> float:
        return START + loop.time()

    started = clock()
    crawler = AdaptiveCrawler(cfg, clock=clock, rng=random.Random(seed), transport=transport)
    async with crawler:
        summary = await crawler.run(seeds)
        dlq = {e.url: e for e in await crawler.storage.dlq_list()}
    finished = clock()
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    records = [json.loads(line) for line in text.splitlines()]
    return SimResult(
        summary=summary,
        pages={r["url"]: r for r in records},
        lines=len(records),
        dlq=dlq,
        requests=Counter(transport.requests),
        started=started,
        finished=finished,
    )

"""Progress while a crawl runs: a ``rich`` live line on a terminal, a log line otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.console import Console
from rich.live import Live
from rich.text import Text

if TYPE_CHECKING:
    from crawler.crawler import AdaptiveCrawler

log = logging.getLogger("crawler.observe.progress")


class Progress:
    """``async with Progress(crawler, enabled=isatty):`` around ``crawler.run``."""

    def __init__(
        self, crawler: AdaptiveCrawler, *, enabled: bool, log_every_s: float = 10.0
    ) -> None:
        self._crawler = crawler
        self._enabled = enabled
        self._log_every_s = log_every_s
        self._task: asyncio.Task[None] | None = None
        self._live: Live | None = None
        self._started = time.monotonic()

    async def __aenter__(self) -> Self:
        self._started = time.monotonic()
        if self._enabled:
            self._live = Live(Text("starting…"), console=Console(stderr=True), refresh_per_second=4)
            self._live.__enter__()
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._live is not None:
            self._live.update(await self._line())
            self._live.__exit__(exc_type, exc, tb)

    async def _line(self) -> Text:
        s = self._crawler.progress()
        counts = await self._crawler.storage.counts()
        elapsed = max(1e-6, time.monotonic() - self._started)
        rate = s.pages_stored / elapsed
        return Text.assemble(
            ("pages ", "bold"),
            (f"{counts.done}", "green"),
            "  queued ",
            (f"{counts.pending + counts.leased}", "cyan"),
            "  failed ",
            (f"{s.pages_failed}", "red"),
            "  retries ",
            f"{s.retries}",
            f"  {rate:,.1f} pages/s",
        )

    async def _loop(self) -> None:
        last_log = time.monotonic()
        while True:
            await asyncio.sleep(0.25 if self._live else 1.0)
            if self._live is not None:
                self._live.update(await self._line())
            elif time.monotonic() - last_log >= self._log_every_s:
                last_log = time.monotonic()
                log.info("progress: %s", (await self._line()).plain)

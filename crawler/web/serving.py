"""One small aiohttp.web server's lifetime: the one start-up and clean-up of every server in the
project (the status server, the fault site the tests and the demo crawl, the tests' endpoints).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = ["ServedApp"]


class ServedApp:
    """``async with ServedApp(app, host, port) as served:`` — ``app`` answers on ``host:port``
    (``port`` 0: any free port, ``served.port`` says which) until the block ends."""

    def __init__(
        self, app: web.Application, host: str = "127.0.0.1", port: int = 0, **runner: Any
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner_options = runner
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    async def __aenter__(self) -> Self:
        runner = web.AppRunner(self.app, **self._runner_options)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

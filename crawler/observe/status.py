"""The optional status server (``[status] enabled``): loopback HTTP over the crawler's snapshot.

Endpoints (SPEC §7): ``/health``, ``/errors/summary``, ``/errors/circuit-breakers``,
``/errors/rate-limit-status``, ``/errors/notifications``, ``/errors/degradation-mode``, ``/dlq``
and ``/metrics`` (Prometheus text format). It only reads: every answer is built from
``AdaptiveCrawler.status_snapshot()``, plain data taken at the moment of the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from aiohttp import web

Snapshot = Callable[[], Awaitable[dict[str, Any]]]


class StatusServer:
    """``async with StatusServer(snapshot, host, port) as server: server.url``."""

    def __init__(self, snapshot: Snapshot, host: str = "127.0.0.1", port: int = 8765) -> None:
        self._snapshot = snapshot
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        routes = {
            "/health": self._health,
            "/errors/summary": self._section("errors"),
            "/errors/circuit-breakers": self._section("breakers"),
            "/errors/rate-limit-status": self._section("rate_limits"),
            "/errors/notifications": self._notifications,
            "/errors/degradation-mode": self._section("degradation"),
            "/dlq": self._section("dlq"),
            "/metrics": self._metrics,
        }
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        port = server.sockets[0].getsockname()[1] if server is not None else self._port  # type: ignore[attr-defined]
        self.url = f"http://{self._host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _section(self, key: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response((await self._snapshot())[key])

        return handler

    async def _health(self, request: web.Request) -> web.Response:
        snap = await self._snapshot()
        return web.json_response(snap["health"])

    async def _notifications(self, request: web.Request) -> web.Response:
        snap = await self._snapshot()
        return web.json_response(snap["errors"].get("notifications", []))

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=render_metrics(await self._snapshot()), content_type="text/plain")


def render_metrics(snap: dict[str, Any]) -> str:
    """Prometheus text exposition of the counters, error breakdowns and breaker states."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP crawler_{name} {help_text}")
        lines.append(f"# TYPE crawler_{name} {kind}")
        for labels, value in samples:
            lines.append(f"crawler_{name}{labels} {value}")

    health = snap["health"]
    metric("pages_ok", "gauge", "Pages stored in the state dir.", [("", health["pages_ok"])])
    metric("pending", "gauge", "URLs waiting in the frontier.", [("", health["pending"])])
    metric("dlq_items", "gauge", "Entries in the dead-letter queue.", [("", health["dlq_items"])])
    counters = snap["errors"].get("counters", {})
    metric(
        "events_total",
        "counter",
        "Crawler events (requests, retries, llm_calls, ...).",
        [(f'{{event="{_esc(k)}"}}', v) for k, v in sorted(counters.items())],
    )
    metric(
        "errors_total",
        "counter",
        "Failures by category.",
        [
            (f'{{category="{_esc(k)}"}}', v)
            for k, v in sorted(snap["errors"]["by_category"].items())
        ],
    )
    states = {"closed": 0, "half_open": 1, "open": 2}
    metric(
        "breaker_state",
        "gauge",
        "Circuit breaker per host: 0 closed, 1 half-open, 2 open.",
        [
            (f'{{host="{_esc(h)}"}}', states.get(str(b.get("state")), 2))
            for h, b in sorted(snap["breakers"].items())
        ],
    )
    metric(
        "errors_per_minute",
        "gauge",
        "Failures per minute over the analytics window.",
        [("", snap["errors"].get("errors_per_minute", 0.0))],
    )
    return "\n".join(lines) + "\n"


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

"""The optional status server (``[status] enabled``): dashboard, error API, DLQ and metrics.

Endpoints (docs/operations.md): ``/`` the live dashboard, ``/api/dashboard`` its JSON,
``/health``, ``/api/errors/{summary, circuit-breakers, rate-limit-status, notifications,
degradation-mode, system-health}`` (the ``/errors/*`` paths stay as aliases), ``/dlq``,
``/metrics`` (Prometheus), and two POSTs: ``/api/errors/acknowledge/{id}`` and
``/api/errors/report``. Every GET answer is built from the crawler's snapshot taken at the
moment of the request.

Safety: the server binds 127.0.0.1 by default (config refuses another address without a token).
With a token, POSTs need ``Authorization: Bearer <token>``. A POST whose ``Origin`` is another
site is refused, and on a loopback bind a request whose ``Host`` is not a loopback name is
refused too (DNS rebinding), so a web page in the operator's browser cannot reach the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

from aiohttp import web

from crawler.config import StatusConfig, is_loopback
from crawler.observe.analytics import MAX_NOTIFICATIONS, ErrorAnalytics, filter_notifications
from crawler.observe.dashboard import (
    DASHBOARD_HOSTS,
    RateSeries,
    dashboard_html,
    dashboard_view,
)
from crawler.observe.metrics import CONTENT_TYPE_LATEST, CrawlMetrics
from crawler.observe.reports import (
    MAX_REPORT_BYTES,
    AckStore,
    MetaStore,
    ReportError,
    parse_report,
)
from crawler.observe.snapshot import StatusSnapshot, rank_hosts
from crawler.web.serving import ServedApp

__all__ = ["Snapshot", "StatusServer"]

log = logging.getLogger("crawler.status")

# The engine's snapshot: a StatusSnapshot, or the older plain dict (StatusSnapshot.from_legacy).
Snapshot = Callable[[], Awaitable[StatusSnapshot | Mapping[str, Any]]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SEVERITIES = ("low", "medium", "high", "critical")


class _Endpoint(Protocol):
    def __call__(self, snap: StatusSnapshot, request: web.Request) -> Awaitable[Any]: ...


class StatusServer:
    """``async with StatusServer(snapshot, host, port) as server: server.url``.

    ``metrics`` (the crawler's :class:`CrawlMetrics`, else a private one with the live families
    only), ``analytics`` (needed by ``POST /api/errors/report``) and ``store`` (the state's
    metadata, where acknowledgements persist; without it they last as long as the server)."""

    def __init__(
        self,
        snapshot: Snapshot,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        token: str = "",
        metrics: CrawlMetrics | None = None,
        analytics: ErrorAnalytics | None = None,
        store: MetaStore | None = None,
        sample_interval_s: float = 2.0,
        history_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._snapshot = snapshot
        self._host = host
        self._port = port
        self._token = token
        self.metrics = metrics or CrawlMetrics()
        self._analytics = analytics
        self._acks = AckStore(store)
        self._interval = sample_interval_s
        self._clock = clock
        self.rates = RateSeries(history_s, sample_interval_s)
        self._served: ServedApp | None = None
        self._sampler: asyncio.Task[None] | None = None
        self.url = ""

    @classmethod
    def from_config(cls, cfg: StatusConfig, snapshot: Snapshot, **kwargs: Any) -> StatusServer:
        """The server as ``[status]`` says (host, port, token, sampling)."""
        return cls(
            snapshot,
            cfg.host,
            cfg.port,
            token=cfg.token.get_secret_value(),
            sample_interval_s=cfg.sample_interval_s,
            history_s=cfg.history_s,
            **kwargs,
        )

    # -- lifetime ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_REPORT_BYTES)
        app.router.add_get("/", self._dashboard)
        app.router.add_get("/health", self._json(lambda s, r: _ready(s.health())))
        app.router.add_get("/api/dashboard", self._json(self._dashboard_data))
        app.router.add_get("/metrics", self._metrics)
        dlq = self._json(lambda s, r: _ready([dict(e) for e in s.dlq_tail]))
        app.router.add_get("/dlq", dlq)
        app.router.add_get("/api/dlq", dlq)
        errors: dict[str, _Endpoint] = {
            "summary": lambda s, r: _ready(dict(s.errors)),
            "circuit-breakers": lambda s, r: _ready(s.breakers()),
            "rate-limit-status": lambda s, r: _ready(s.rate_limits()),
            "notifications": self._notifications,
            "degradation-mode": lambda s, r: _ready(s.degradation_mode()),
            "system-health": lambda s, r: _ready(s.system_health()),
        }
        for name, endpoint in errors.items():
            handler = self._json(endpoint)
            app.router.add_get(f"/api/errors/{name}", handler)
            app.router.add_get(f"/errors/{name}", handler)  # the first paths, kept as aliases
        app.router.add_post("/api/errors/acknowledge/{id}", self._acknowledge)
        app.router.add_post("/api/errors/report", self._report)
        served = ServedApp(app, self._host, self._port, access_log=None)
        self._served = await served.__aenter__()
        self.url = served.url()
        self._sampler = asyncio.create_task(self._sample_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        served, self._served = self._served, None
        if served is not None:
            await served.__aexit__(None, None, None)

    # -- the snapshot and its samples ----------------------------------------------------------
    async def snapshot(self) -> StatusSnapshot:
        """A fresh snapshot; the metrics' live families read it until the next one."""
        data = await self._snapshot()
        snap = data if isinstance(data, StatusSnapshot) else StatusSnapshot.from_legacy(data)
        self.metrics.update(snap)
        return snap

    async def sample(self) -> StatusSnapshot:
        """Take a snapshot and add it to the rate series (the sampler does this every
        ``sample_interval_s``)."""
        snap = await self.snapshot()
        self.rates.add(self._clock(), snap.pages_ok, snap.errors_total, snap.requests)
        return snap

    async def _sample_loop(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception:  # a failed sample is a gap in the chart, never a crash
                log.debug("status sample failed", exc_info=True)
            await asyncio.sleep(self._interval)

    # -- plumbing ------------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_loopback(self._host) and not is_loopback(_host_name(request.host)):
            return _error(403, "requests to this server must name a loopback host")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and urlsplit(origin).netloc != request.host:
                return _error(403, "cross-site requests are refused")
            if self._token and not _bearer_ok(request, self._token):
                return web.json_response(
                    {"error": "missing or wrong bearer token"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="crawler"'},
                )
        return await handler(request)

    def _json(self, endpoint: _Endpoint) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            snap = await self.snapshot()
            body = await endpoint(snap, request)
            if isinstance(body, web.StreamResponse):
                return body
            return web.json_response(body, headers={"Cache-Control": "no-store"})

        return handler

    # -- GET -----------------------------------------------------------------------------------
    async def _dashboard(self, request: web.Request) -> web.Response:
        return web.Response(
            text=dashboard_html(),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def _dashboard_data(self, snap: StatusSnapshot, request: web.Request) -> Any:
        hosts = rank_hosts(snap.hosts, DASHBOARD_HOSTS, self.metrics.traffic())
        return dashboard_view(snap, self.rates, hosts=hosts, now=self._clock())

    async def _notifications(self, snap: StatusSnapshot, request: web.Request) -> Any:
        severity = request.query.get("severity")
        if severity is not None and severity.lower() not in SEVERITIES:
            return _error(400, f"severity must be one of {', '.join(SEVERITIES)}")
        try:
            limit = int(request.query.get("limit", MAX_NOTIFICATIONS))
        except ValueError:
            return _error(400, "limit must be an integer")
        if not 1 <= limit <= MAX_NOTIFICATIONS:
            return _error(400, f"limit must be between 1 and {MAX_NOTIFICATIONS}")
        return filter_notifications(
            snap.errors.get("notifications", []),
            severity=severity.lower() if severity else None,
            limit=limit,
            exclude=await self._acks.ids(),
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        await self.snapshot()
        resp = web.Response(body=self.metrics.render())
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    # -- POST ----------------------------------------------------------------------------------
    async def _acknowledge(self, request: web.Request) -> web.Response:
        notification = request.match_info["id"]
        snap = await self.snapshot()
        known = {n.get("id") for n in snap.errors.get("notifications", [])}
        if notification not in known and notification not in await self._acks.ids():
            return _error(404, f"no notification {notification!r}")
        await self._acks.add(notification)
        return web.json_response({"acknowledged": notification})

    async def _report(self, request: web.Request) -> web.Response:
        if self._analytics is None:
            return _error(503, "this crawler's server takes no reports (no analytics wired)")
        if request.content_type != "application/json":
            return _error(415, "send the report as application/json")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"a report is at most {MAX_REPORT_BYTES} bytes")
        try:
            record = parse_report(raw)
        except ReportError as exc:
            return _error(400, str(exc))
        self._analytics.record(record, None)
        log.warning("Error reported through the API: %s %s", record.category.value, record.message)
        return web.json_response({"recorded": True, "category": record.category.value}, status=201)


async def _ready(value: Any) -> Any:
    return value


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _host_name(host_header: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``, ``[::1]:8765`` → ``::1``."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _bearer_ok(request: web.Request, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)

"""A real, fault-injecting test site on loopback (aiohttp.web), used by the integration tests.

Each path has a script: a list of behaviours served in turn (the last one repeats). Behaviours:
``Page`` (HTML with title/links, any charset), ``Status`` (code, headers, body), ``Reset`` (close
the connection without an answer), ``Partial`` (promise more bytes than sent, then drop), ``Stall``
(wait before answering), ``Huge`` (N bytes), ``Redirect``. Every request is logged
with its server-side monotonic time, so tests can assert what reached the server and when;
``max_in_flight`` is the most requests it was answering at once (several crawler processes
sharing one host's limits: docs/shared-politeness.md).
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Self, Union

from aiohttp import web

from crawler.web.serving import ServedApp


@dataclass
class Page:
    title: str | None = "page"
    links: list[str] = field(default_factory=list)
    charset: str = "utf-8"
    header_charset: bool = True  # False: charset only in <meta>
    body_text: str = ""
    base_href: str | None = None
    extra_head: str = ""
    content_type: str = "text/html"


@dataclass
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Reset:
    """Close the connection without answering."""


@dataclass
class Partial:
    """Send headers promising ``promised`` bytes, send a few, then drop the connection."""

    promised: int = 10_000


@dataclass
class Stall:
    seconds: float
    then: Behaviour | None = None


@dataclass
class Huge:
    size: int
    gzip_bomb: bool = False


@dataclass
class Redirect:
    to: str
    code: int = 302


Behaviour = Union[Page, Status, Reset, Partial, Stall, Huge, Redirect]  # noqa: UP007


def render(page: Page) -> bytes:
    head = ""
    if not page.header_charset:
        head += f'<meta charset="{page.charset}">'
    if page.base_href:
        head += f'<base href="{page.base_href}">'
    head += page.extra_head
    title = f"<title>{page.title}</title>" if page.title is not None else ""
    links = "".join(f'<a href="{href}">link</a> ' for href in page.links)
    body = f"<body><p>{page.body_text}</p>{links}</body>"
    html = f"<!doctype html><html><head>{head}{title}</head>{body}</html>"
    return html.encode(page.charset)


class TestSite:
    """``async with TestSite(host) as site:`` then ``site.url("/path")``."""

    __test__ = False  # not a pytest class

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.scripts: dict[str, list[Behaviour]] = {}
        self.fallbacks: dict[str, Behaviour] = {}  # path prefix -> answer for unknown paths
        self.hits: Counter[str] = Counter()
        self.log: list[tuple[float, str]] = []
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0
        self.robots: str | Behaviour | None = "User-agent: *\nAllow: /\n"
        self._served: ServedApp | None = None

    # -- scripting ---------------------------------------------------------------------------
    def add(self, path: str, *behaviours: Behaviour) -> None:
        self.scripts[path] = list(behaviours)

    def otherwise(self, prefix: str, behaviour: Behaviour) -> None:
        """Answer every unknown path under ``prefix`` with ``behaviour`` (instead of 404): a
        site section that serves "not found" pages with a 200, a soft-404."""
        self.fallbacks[prefix] = behaviour

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def times(self, path: str) -> list[float]:
        return [t for t, p in self.log if p == path]

    # -- lifetime ----------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        served = ServedApp(app, self.host, self.port, access_log=None, handler_cancellation=True)
        self._served = await served.__aenter__()
        self.port = served.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        served, self._served = self._served, None
        if served is not None:
            await served.__aexit__(None, None, None)

    # -- serving -----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        self.hits[path] += 1
        self.log.append((time.monotonic(), path))
        if request.path == "/robots.txt" and "/robots.txt" not in self.scripts:
            if self.robots is None:
                return web.Response(status=404, text="no robots")
            if isinstance(self.robots, str):
                return web.Response(text=self.robots, content_type="text/plain")
            return await self._serve(request, self.robots)
        script = self.scripts.get(path) or self.scripts.get(request.path)
        if not script:
            for prefix, behaviour in self.fallbacks.items():
                if request.path.startswith(prefix):
                    return await self._serve(request, behaviour)
            return web.Response(status=404, text="not found")
        n = self.hits[path] - 1
        behaviour = script[min(n, len(script) - 1)]
        return await self._serve(request, behaviour)

    async def _serve(self, request: web.Request, b: Behaviour) -> web.StreamResponse:
        if isinstance(b, Page):
            ctype = b.content_type
            if b.header_charset:
                ctype += f"; charset={b.charset}"
            return web.Response(body=render(b), headers={"Content-Type": ctype})
        if isinstance(b, Status):
            return web.Response(status=b.code, text=b.body, headers=b.headers)
        if isinstance(b, Redirect):
            return web.Response(status=b.code, headers={"Location": b.to})
        if isinstance(b, Stall):
            await asyncio.sleep(b.seconds)
            return await self._serve(request, b.then or Page(title="late"))
        if isinstance(b, Reset):
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never sent
        if isinstance(b, Partial):
            resp = web.StreamResponse(
                headers={"Content-Type": "text/html", "Content-Length": str(b.promised)}
            )
            await resp.prepare(request)
            await resp.write(b"<html><head><title>cut")
            assert request.transport is not None
            request.transport.abort()
            return resp
        if isinstance(b, Huge):
            if b.gzip_bomb:
                data = gzip.compress(b"<html>" + b" " * b.size, compresslevel=9)
                return web.Response(
                    body=data, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
                )
            resp = web.StreamResponse(headers={"Content-Type": "text/html"})
            await resp.prepare(request)
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < b.size:
                    await resp.write(chunk)
                    sent += len(chunk)
            except (ConnectionError, asyncio.CancelledError):
                return resp
            return resp
        raise AssertionError(f"unknown behaviour {b!r}")

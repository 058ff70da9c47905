"""A raw-socket HTTP "server" on loopback that answers with whatever bytes a test gives it.

``crawler.testing.TestSite`` is a well-behaved aiohttp server that misbehaves on purpose in a few
ways; this one has no HTTP library at all, so a test can send a malformed status line, duplicate
or broken headers, lies about lengths, broken chunking or compression, and then close, stall or
drip::

    async with RawServer() as server:
        server.route("/", response(200, [("Content-Type", "text/html")], b"<title>x</title>"))
        server.route("/drop", Reply(b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nabc"))
        ... crawl server.url("/") ...
        assert server.hits["/drop"] == 1

Every request's path is counted in ``hits`` (in the order received in ``paths``, its headers in
``headers``); an unknown path
answers ``404``. ``/robots.txt`` is an ordinary route (404 unless one is set).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

__all__ = ["RawServer", "Reply", "response"]

_HEAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """Bytes to send for one request: ``data`` in pieces of ``chunk`` bytes, ``delay_s`` apart
    (a drip), then close the connection unless ``keep_open_s`` says to hold it silent first."""

    data: bytes
    chunk: int = 0  # 0: all at once
    delay_s: float = 0.0
    keep_open_s: float = 0.0


Handler = Callable[[str, dict[str, str]], Reply | Awaitable[Reply]]


def response(
    status: int | bytes,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> Reply:
    """A well-formed HTTP/1.1 response (status line given as bytes to malform it)."""
    line = status if isinstance(status, bytes) else f"HTTP/1.1 {status} X".encode()
    head = [line]
    names = set()
    for name, value in headers:
        names.add(name.lower())
        head.append(f"{name}: {value}".encode("latin-1", "replace"))
    if content_length and "content-length" not in names and "transfer-encoding" not in names:
        head.append(f"Content-Length: {len(body)}".encode())
    head.append(b"Connection: close")
    return Reply(b"\r\n".join(head) + b"\r\n\r\n" + body)


class RawServer:
    """``async with RawServer() as s``: listens on 127.0.0.1 (any free port)."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.hits: Counter[str] = Counter()
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []  # each request's headers, names lower-cased
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def route(self, path: str, reply: Reply | Handler) -> None:
        self.routes[path] = reply

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _HEAD_LIMIT:
            return
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        path = parts[1] if len(parts) >= 2 else "/"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        self.hits[path] += 1
        self.paths.append(path)
        self.headers.append(headers)
        handler = self.routes.get(path)
        if handler is None:
            reply = response(404, [("Content-Type", "text/plain")], b"not here")
        elif isinstance(handler, Reply):
            reply = handler
        else:
            produced = handler(path, headers)
            reply = await produced if not isinstance(produced, Reply) else produced
        await self._send(writer, reply)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        data = reply.data
        step = reply.chunk or len(data) or 1
        for start in range(0, len(data), step):
            writer.write(data[start : start + step])
            await writer.drain()
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
        if reply.keep_open_s:
            await asyncio.sleep(reply.keep_open_s)

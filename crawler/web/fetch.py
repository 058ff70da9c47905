"""One HTTP exchange: request → :class:`Response` or one of our :mod:`crawler.errors`.

This is the only module that sees aiohttp's and asyncio's exceptions; ``translate``
(:mod:`crawler.web.fetch_errors`) maps each of them once into our tree. Limits are enforced while
streaming: the body is read chunk by chunk and the read stops as soon as the *decoded* size passes
``max_response_bytes`` (aiohttp decompresses before we count, so a decompression bomb stops at the
cap too). Redirects are followed here, hop by hop, so that loops and hop counts are ours to judge
and each hop can be checked (scope, robots.txt) before it is requested.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urljoin, urlsplit

import aiohttp

from crawler.config import FetchConfig
from crawler.errors import (
    ContentError,
    HTTPStatusError,
    RedirectError,
)
from crawler.records import header
from crawler.web.coding import ACCEPT_ENCODING, CodingError, decoder_for
from crawler.web.fetch_errors import translate
from crawler.web.urls import normalize

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
EXCERPT_BYTES = 4096  # how much of an error response we keep for classification and the DLQ
CHUNK = 64 * 1024
# Request headers that make a GET conditional: its 304 is an answer, not an error (RFC 9110).
CONDITIONAL_HEADERS = frozenset({"if-none-match", "if-modified-since"})

HopCheck = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class Response:
    """A successful (2xx) response with its whole, size-checked body, or a 304 (empty body) to a
    conditional request."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str | None
    elapsed_s: float
    redirects: list[str] = field(default_factory=list)


def _headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    # Later duplicates win except for Set-Cookie, which we never need.
    return {k: v for k, v in resp.headers.items()}


# One exchange as the transport saw it: status, headers, body (an excerpt for errors), type.
RawResponse = tuple[int, dict[str, str], bytes, str | None]


class Transport(Protocol):
    """One HTTP exchange without redirects (httpx's transport seam): the pipeline, scheduler and
    host registry are tested over a fake one with a fake clock, no sockets. It raises our
    :class:`FetchError` subclasses (or foreign exceptions, which ``translate`` maps)."""

    async def exchange(self, url: str, headers: Mapping[str, str] | None) -> RawResponse: ...


class Fetcher:
    """Owns the aiohttp session: ``async with Fetcher(cfg.fetch, user_agent=...) as f: await
    f.fetch(url)``.

    With ``transport`` given, exchanges go through it instead and no session is opened."""

    def __init__(
        self,
        limits: FetchConfig,
        *,
        user_agent: str,
        limit: int = 100,
        limit_per_host: int = 0,
        clock: Callable[[], float] = time.monotonic,
        transport: Transport | None = None,
    ) -> None:
        self.limits = limits  # [fetch]: timeouts, size cap, redirects, content types
        self.user_agent = user_agent
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._clock = clock
        self._transport = transport
        self._session: aiohttp.ClientSession | None = None
        # Body bytes received (decoded; error and redirect excerpts included), all exchanges:
        # the recrawl's summary.bytes_downloaded is the difference over a run.
        self.bytes_received = 0

    async def __aenter__(self) -> Self:
        if self._transport is not None:
            return self
        lim = self.limits
        timeout = aiohttp.ClientTimeout(
            total=lim.total_timeout_s,
            sock_connect=lim.connect_timeout_s,
            sock_read=lim.read_timeout_s,
        )
        connector = aiohttp.TCPConnector(
            limit=self._limit, limit_per_host=self._limit_per_host, ttl_dns_cache=300
        )
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            connector=connector,
            headers={"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            auto_decompress=True,
            raise_for_status=False,
            trust_env=False,
        )
        # aiohttp re-sends an idempotent request once by itself when a reused keep-alive
        # connection turns out dead (RFC 9112 §9.3.1.1). That hidden request would break the
        # exact `attempts` count and politeness (docs/failure-path.md): our retry layer retries
        # it instead, as an attempt of its own. tests/test_fetch.py checks the attribute exists.
        self._session._retry_connection = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside its 'async with' block")
        return self._session

    async def fetch(
        self,
        url: str,
        *,
        hop_check: HopCheck | None = None,
        headers: Mapping[str, str] | None = None,
        max_redirects: int | None = None,
    ) -> Response:
        """GET ``url``, following redirects. Raises a :class:`FetchError` subclass on failure;
        a non-2xx final status raises :class:`HTTPStatusError` with headers and a body excerpt.
        ``hop_check(next_url)`` may raise to refuse a redirect target before it is requested.
        With ``If-None-Match`` or ``If-Modified-Since`` in ``headers``, a 304 is returned as a
        :class:`Response` with an empty body, not raised."""
        started = self._clock()
        conditional = headers is not None and any(k.lower() in CONDITIONAL_HEADERS for k in headers)
        limit = self.limits.max_redirects if max_redirects is None else max_redirects
        seen = {normalize(url) or url}
        chain: list[str] = []
        current = url
        while True:
            try:
                if self._transport is not None:
                    resp = await self._transport.exchange(current, headers)
                else:
                    resp = await self._exchange(current, headers)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except BaseException as exc:  # translated once, here
                raise translate(exc, current) from exc
            status, hdrs, body, ctype = resp
            self.bytes_received += len(body)
            location = header(hdrs, "location")
            if status in REDIRECT_STATUSES and location is not None:
                target = _resolve_location(current, location)
                if target is None:
                    raise RedirectError(
                        f"redirect to an unusable Location {location!r}",
                        url=url,
                        status=status,
                        headers=hdrs,
                    )
                key = normalize(target) or target
                if key in seen:
                    raise RedirectError(
                        f"redirect loop: {' -> '.join([url, *chain, target])}",
                        url=url,
                        status=status,
                        headers=hdrs,
                    )
                if len(chain) >= limit:
                    raise RedirectError(
                        f"too many redirects (more than {limit}) from {url}",
                        url=url,
                        status=status,
                        headers=hdrs,
                    )
                if hop_check is not None:
                    await hop_check(target)
                seen.add(key)
                chain.append(target)
                current = target
                continue
            if status == 304 and conditional:
                body = b""
            elif not 200 <= status < 300:
                excerpt = body.decode("utf-8", "replace")
                raise HTTPStatusError(
                    f"HTTP {status}", url=current, status=status, headers=hdrs, excerpt=excerpt
                )
            return Response(
                url=url,
                final_url=current,
                status=status,
                headers=hdrs,
                body=body,
                content_type=ctype,
                elapsed_s=self._clock() - started,
                redirects=chain,
            )

    async def _exchange(
        self, url: str, headers: Mapping[str, str] | None
    ) -> tuple[int, dict[str, str], bytes, str | None]:
        lim = self.limits
        # auto_decompress=False: the body is decoded below (coding.py), where a truncated or
        # undecodable stream is an error and the size cap applies to the decoded bytes.
        async with self.session.get(
            url, allow_redirects=False, headers=headers, auto_decompress=False
        ) as resp:
            hdrs = _headers(resp)
            ctype = resp.headers.get("Content-Type")
            status = resp.status
            if status in REDIRECT_STATUSES or not 200 <= status < 300:
                # Keep a bounded excerpt only; an error page is never read to its end.
                return status, hdrs, await _excerpt(resp), ctype
            if lim.allowed_content_types:
                media = (ctype or "").split(";", 1)[0].strip().lower()
                if not any(media.startswith(p) for p in lim.allowed_content_types):
                    raise ContentError(
                        f"content type {media or 'unknown'!r} is not allowed",
                        reason="wrong_type",
                        url=url,
                        status=status,
                        headers=hdrs,
                    )
            declared = resp.content_length
            encoded = "Content-Encoding" in resp.headers
            if declared is not None and not encoded and declared > lim.max_response_bytes:
                raise _too_large(url, status, hdrs, lim.max_response_bytes, declared)
            try:
                decoder = decoder_for(resp.headers.get("Content-Encoding"))
                chunks: list[bytes] = []
                size = 0
                # A transfer cut short (Content-Length not reached, chunking broken off) raises
                # here from aiohttp: NETWORK. A stream that arrived whole but does not decode, or
                # stops before its own end, raises CodingError: CONTENT. Neither is a page.
                async for raw in resp.content.iter_chunked(CHUNK):
                    chunk = decoder.feed(raw, lim.max_response_bytes - size)
                    size += len(chunk)
                    if size > lim.max_response_bytes:
                        raise _too_large(url, status, hdrs, lim.max_response_bytes, None)
                    chunks.append(chunk)
                decoder.finish()
            except CodingError as exc:
                raise ContentError(
                    f"body failed to decode: {exc}",
                    reason="decompression",
                    url=url,
                    status=status,
                    headers=hdrs,
                ) from exc
            return status, hdrs, b"".join(chunks), ctype


async def _excerpt(resp: aiohttp.ClientResponse) -> bytes:
    """The first EXCERPT_BYTES of an error or redirect body, decoded when it is compressed
    (best effort: an excerpt that does not decode is dropped, not an error)."""
    raw = await resp.content.read(EXCERPT_BYTES)
    try:
        return decoder_for(resp.headers.get("Content-Encoding")).feed(raw, EXCERPT_BYTES)[
            :EXCERPT_BYTES
        ]
    except CodingError:
        return b""


def _too_large(
    url: str, status: int, hdrs: dict[str, str], cap: int, declared: int | None
) -> ContentError:
    what = f"declared {declared} bytes" if declared is not None else "body"
    return ContentError(
        f"response too large: {what} exceeds max_response_bytes={cap}",
        reason="too_large",
        url=url,
        status=status,
        headers=hdrs,
    )


def _resolve_location(base: str, location: str) -> str | None:
    try:
        target = urljoin(base, location.strip())
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    target = target.split("#", 1)[0]
    # A target the crawler cannot use (control characters, a bad port or host) is an unusable
    # Location here, not a scope question later: the hop check would call it off-scope.
    return target if normalize(target) is not None else None


def response_info(resp: Response) -> dict[str, Any]:
    """A small, JSON-able view of a response for logs and contexts."""
    return {
        "url": resp.url,
        "final_url": resp.final_url,
        "status": resp.status,
        "content_type": resp.content_type,
        "bytes": len(resp.body),
        "elapsed_s": round(resp.elapsed_s, 4),
        "redirects": resp.redirects,
    }

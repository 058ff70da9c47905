"""aiohttp's and asyncio's exceptions → our :mod:`crawler.errors` tree, in one table.

:mod:`crawler.web.fetch` is the only module that sees those exceptions; it hands each one to
:func:`translate`. ``tests/test_fetch.py`` makes each of them happen against real loopback servers
and checks that every exception class aiohttp exports meets a row of :data:`TRANSLATIONS`.
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Callable

import aiohttp

from crawler.errors import (
    ContentError,
    DNSError,
    FetchError,
    FetchTimeout,
    NetworkError,
    RedirectError,
    TLSError,
)
from crawler.web.coding import CodingError

__all__ = ["TRANSLATIONS", "translate"]


def _dns(exc: BaseException, url: str, msg: str) -> FetchError:
    code = getattr(getattr(exc, "os_error", None), "errno", None)
    nxdomain = code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
    return DNSError(f"DNS lookup failed: {msg}", nxdomain=nxdomain, url=url)


def _tls(exc: BaseException, url: str, msg: str) -> FetchError:
    certificate = isinstance(
        exc, aiohttp.ClientConnectorCertificateError | ssl.SSLCertVerificationError
    )
    return TLSError(f"TLS error: {msg}", certificate=certificate, url=url)


def _os_error(exc: BaseException, url: str, msg: str) -> FetchError:
    code = getattr(exc, "errno", None)
    if code in (errno.ECONNRESET, errno.EPIPE, errno.ECONNREFUSED, errno.ECONNABORTED):
        return NetworkError(f"connection error: {msg}", url=url)
    return NetworkError(f"OS error: {msg}", url=url)


def _undecodable_body(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("content-encoding", "decompress", "zlib", "brotli"))


Builder = Callable[[BaseException, str, str], FetchError]

# Every foreign exception one exchange can raise, most specific first: (types, only when, what it
# becomes). tests/test_fetch.py checks that every exception class aiohttp exports meets a row
# before the last-resort ones, so none ends as an "unexpected error".
TRANSLATIONS: tuple[
    tuple[tuple[type[BaseException], ...], Callable[[BaseException], bool] | None, Builder], ...
] = (
    (
        (CodingError,),
        None,
        lambda e, u, m: ContentError(f"body failed to decode: {e}", reason="decompression", url=u),
    ),
    ((aiohttp.ClientConnectorDNSError,), None, _dns),
    ((aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError), None, _tls),
    (
        (aiohttp.ConnectionTimeoutError,),
        None,
        lambda e, u, m: FetchTimeout(f"connect timeout: {m}", phase="connect", url=u),
    ),
    (
        (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError),
        None,
        lambda e, u, m: FetchTimeout(
            f"read timeout (silence between bytes): {m}", phase="read", url=u
        ),
    ),
    # aiohttp's total timeout is a bare asyncio.TimeoutError, outside ClientError.
    (
        (TimeoutError,),
        None,
        lambda e, u, m: FetchTimeout("total timeout for the request", phase="total", url=u),
    ),
    (
        (aiohttp.ClientConnectorError,),
        None,
        lambda e, u, m: NetworkError(f"connection failed: {m}", url=u),
    ),
    (
        (aiohttp.ServerDisconnectedError,),
        None,
        lambda e, u, m: NetworkError(f"server disconnected: {m}", url=u),
    ),
    # The bytes arrived and do not decode: CONTENT, not worth a retry. (The crawler decodes
    # bodies itself, see coding.py; this catches aiohttp doing it anywhere else.)
    (
        (aiohttp.ClientPayloadError, aiohttp.ClientResponseError),
        _undecodable_body,
        lambda e, u, m: ContentError(
            f"body failed to decompress: {m}", reason="decompression", url=u
        ),
    ),
    (
        (aiohttp.ClientPayloadError,),
        None,
        lambda e, u, m: NetworkError(f"response body broken off: {m}", url=u),
    ),
    (
        (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError),
        None,
        lambda e, u, m: RedirectError(f"invalid URL: {m}", url=u),
    ),
    (
        (aiohttp.ClientResponseError,),
        None,
        lambda e, u, m: NetworkError(f"bad response: {m}", url=u),
    ),
    (
        (aiohttp.ClientError, aiohttp.EofStream, ConnectionError),
        None,
        lambda e, u, m: NetworkError(f"connection error: {m}", url=u),
    ),
    # Last resorts: not aiohttp's own.
    ((OSError,), None, _os_error),
    (
        (UnicodeError, ValueError),
        None,
        lambda e, u, m: ContentError(f"unusable response: {m}", reason="undecodable", url=u),
    ),
)


def translate(exc: BaseException, url: str) -> FetchError:
    """Map a foreign exception raised during one exchange onto our error tree (once, here)."""
    if isinstance(exc, FetchError):
        return exc
    msg = f"{type(exc).__name__}: {exc}".strip()
    for types, only_when, build in TRANSLATIONS:
        if isinstance(exc, types) and (only_when is None or only_when(exc)):
            return build(exc, url, msg)
    return FetchError(f"unexpected error: {msg}", url=url)

"""The crawler's one exception tree.

Foreign exceptions (aiohttp, asyncio, ssl, sqlite3, openai) are translated into this tree once,
at the edge that meets them (``fetch.py``, ``storage/``, ``llm/``); everything above that edge
sees only these types. ``failures.classify`` turns a :class:`FetchError` into a failure record.

::

    CrawlerError
    ├── ConfigError                 bad config file, key, value or flag      (exit code 2)
    ├── LockHeldError               another run holds the state dir           (exit code 3)
    ├── StorageError                the state store failed or is corrupt
    ├── LLMError                    the LLM endpoint failed or answered badly
    └── FetchError                  one URL could not be fetched or used
        ├── NetworkError            refused, reset, disconnected mid-body, payload error
        │   └── DNSError            the name does not resolve
        ├── FetchTimeout            connect / read (silence) / total timeout
        ├── TLSError                certificate or handshake failure
        ├── HTTPStatusError         a non-2xx status (carries status, headers, excerpt)
        ├── ContentError            too large, undecodable, wrong type, decompression failure
        ├── RedirectError           redirect loop or too many hops
        ├── RobotsDisallowed        robots.txt forbids the URL
        ├── RobotsUnavailable       a redirect target's robots.txt could not be fetched (yet)
        ├── BlockedPage             a block page, login wall or soft-404, even behind a 200
        └── HostGivenUp             the host's breaker gave up after too many failed probes
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict

from typing_extensions import Unpack

if TYPE_CHECKING:
    from crawler.records import FailureRecord


class CrawlerError(Exception):
    """Root of every error the crawler raises on purpose."""


class ConfigError(CrawlerError):
    """A configuration key, value or command-line flag is wrong.

    The message always names the key (or flag), the value found and what was expected.
    """

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"{key}: got {value!r}, expected {expected}")


class LockHeldError(CrawlerError):
    """Another run holds the lock on the state directory."""

    def __init__(self, state_dir: str, holder: str = "") -> None:
        self.state_dir = state_dir
        self.holder = holder
        who = f" (held by {holder})" if holder else ""
        super().__init__(f"state dir {state_dir} is locked by another run{who}")


class StorageError(CrawlerError):
    """The state store (SQLite file, Redis server) failed or holds something unreadable."""


class LLMError(CrawlerError):
    """The LLM endpoint failed, timed out, or gave an answer that does not validate."""


class FetchDetails(TypedDict, total=False):
    """What a response (if any) said, passed on by every FetchError subclass."""

    url: str
    status: int | None
    headers: Mapping[str, str] | None
    excerpt: str


class FetchError(CrawlerError):
    """One URL could not be fetched or its response could not be used.

    ``status``, ``headers`` and ``excerpt`` are set when a response was received.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.excerpt = excerpt

    def __str__(self) -> str:
        return self.message


class NetworkError(FetchError):
    """Connection refused or reset, server disconnected, broken payload."""


class DNSError(NetworkError):
    """The host name does not resolve (``nxdomain`` True when the name surely does not exist)."""

    def __init__(
        self, message: str, *, nxdomain: bool = True, **details: Unpack[FetchDetails]
    ) -> None:
        super().__init__(message, **details)
        self.nxdomain = nxdomain


class FetchTimeout(FetchError):
    """A timeout: ``phase`` is ``connect``, ``read`` (silence between bytes) or ``total``."""

    def __init__(
        self, message: str, *, phase: str = "total", **details: Unpack[FetchDetails]
    ) -> None:
        super().__init__(message, **details)
        self.phase = phase


class TLSError(FetchError):
    """TLS handshake or certificate verification failed (``certificate`` True for the latter)."""

    def __init__(
        self, message: str, *, certificate: bool = False, **details: Unpack[FetchDetails]
    ) -> None:
        super().__init__(message, **details)
        self.certificate = certificate


class HTTPStatusError(FetchError):
    """The server answered with a status the crawler does not store as a page."""


class ContentError(FetchError):
    """The body is too large, undecodable, of a refused type, or fails to decompress.

    ``reason`` is one of ``too_large``, ``undecodable``, ``wrong_type``, ``decompression``.
    """

    def __init__(
        self, message: str, *, reason: str = "undecodable", **details: Unpack[FetchDetails]
    ) -> None:
        super().__init__(message, **details)
        self.reason = reason


class RedirectError(FetchError):
    """A redirect loop, more hops than allowed, or a redirect without a usable Location."""


class RobotsDisallowed(FetchError):
    """robots.txt forbids this URL for our user agent."""


class RobotsUnavailable(FetchError):
    """A redirect leads to a host whose robots.txt could not be fetched (yet): the hop may not be
    requested now. ``last`` is the robots.txt failure; the URL is retried like it."""

    def __init__(
        self, message: str, *, last: FetchError | None = None, **details: Unpack[FetchDetails]
    ) -> None:
        super().__init__(message, **details)
        self.last = last


class BlockedPage(FetchError):
    """A page that answered but is not content: a captcha, WAF or "access denied" page
    (``kind`` "blocked"), a sign-in form ("login"), or a "page not found" page served as a
    success ("soft_404"). ``certain``: the verdict was confident, or the LLM already settled it,
    so the failure path asks no LLM about it again.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "blocked",
        certain: bool = False,
        **details: Unpack[FetchDetails],
    ) -> None:
        super().__init__(message, **details)
        self.kind = kind
        self.certain = certain


class HostGivenUp(FetchError):
    """The host is given up for this run (its breaker gave up, its robots.txt kept failing, or it
    asked for a pause beyond ``max_retry_after_s``); ``record`` is the failure that decided it."""

    def __init__(
        self,
        message: str,
        *,
        record: FailureRecord | None = None,
        **details: Unpack[FetchDetails],
    ) -> None:
        super().__init__(message, **details)
        self.record = record

"""Every foreign exception an exchange can raise, made to happen against real loopback servers,
arrives as one of our errors (the translation in fetch.py is the only place that sees them)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crawler.config import FetchConfig
from crawler.errors import (
    ContentError,
    DNSError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    NetworkError,
    RedirectError,
    TLSError,
)
from crawler.testing import Huge, Page, Partial, Redirect, Reset, Stall, Status, TestSite
from crawler.web.fetch import Fetcher

LIMITS = FetchConfig(
    connect_timeout_s=1,
    read_timeout_s=0.3,
    total_timeout_s=2,
    max_response_bytes=100_000,
    max_redirects=3,
)

UA = "adaptive-crawler-test/1"


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(LIMITS, user_agent=UA) as f:
        yield f


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_ok_page(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Page(title="t"))
    resp = await fetcher.fetch(site.url("/"))
    assert resp.status == 200
    assert b"<title>t</title>" in resp.body
    assert resp.final_url == site.url("/")


async def test_connection_refused_is_network(fetcher: Fetcher) -> None:
    with pytest.raises(NetworkError) as info:
        await fetcher.fetch(f"http://127.0.0.1:{free_port()}/")
    assert not isinstance(info.value, DNSError)


async def test_nxdomain_is_dns(fetcher: Fetcher) -> None:
    with pytest.raises(DNSError) as info:
        await fetcher.fetch("http://no-such-host.invalid/")
    assert info.value.nxdomain


async def test_reset_is_network(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Reset())
    with pytest.raises(NetworkError):
        await fetcher.fetch(site.url("/"))


async def test_disconnect_mid_body_is_network(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Partial())
    with pytest.raises(NetworkError):
        await fetcher.fetch(site.url("/"))


async def test_silence_is_read_timeout(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Stall(1.0))
    with pytest.raises(FetchTimeout) as info:
        await fetcher.fetch(site.url("/"))
    assert info.value.phase in ("read", "total")


async def test_total_timeout(site: TestSite) -> None:
    site.add("/", Stall(1.0))
    limits = FetchConfig(read_timeout_s=5, total_timeout_s=0.3)
    async with Fetcher(limits, user_agent=UA) as f:
        with pytest.raises(FetchTimeout) as info:
            await f.fetch(site.url("/"))
    assert info.value.phase == "total"


async def test_status_errors_carry_status_headers_excerpt(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Status(429, {"Retry-After": "7"}, "slow down"))
    with pytest.raises(HTTPStatusError) as info:
        await fetcher.fetch(site.url("/"))
    assert info.value.status == 429
    assert info.value.headers["Retry-After"] == "7"
    assert info.value.excerpt == "slow down"


async def test_redirect_loop_and_too_many(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/a", Redirect("/b"))
    site.add("/b", Redirect("/a"))
    with pytest.raises(RedirectError, match="loop"):
        await fetcher.fetch(site.url("/a"))
    for i in range(6):
        site.add(f"/r{i}", Redirect(f"/r{i + 1}"))
    site.add("/r6", Page())
    with pytest.raises(RedirectError, match="too many"):
        await fetcher.fetch(site.url("/r0"))


async def test_redirect_followed(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/old", Redirect("/new", 301))
    site.add("/new", Page(title="new"))
    resp = await fetcher.fetch(site.url("/old"))
    assert resp.final_url == site.url("/new")
    assert resp.redirects == [site.url("/new")]


async def test_oversized_body_is_cut(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Huge(50_000_000))
    with pytest.raises(ContentError) as info:
        await fetcher.fetch(site.url("/"))
    assert info.value.reason == "too_large"


async def test_decompression_bomb_stops_at_cap(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Huge(20_000_000, gzip_bomb=True))
    with pytest.raises(ContentError) as info:
        await fetcher.fetch(site.url("/"))
    assert info.value.reason == "too_large"


async def test_wrong_content_type(site: TestSite) -> None:
    site.add("/", Page(content_type="application/pdf"))
    async with Fetcher(FetchConfig(allowed_content_types=["text/html"]), user_agent=UA) as f:
        with pytest.raises(ContentError) as info:
            await f.fetch(site.url("/"))
    assert info.value.reason == "wrong_type"


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_untrusted_certificate_is_tls_certificate_error(
    self_signed: tuple[Path, Path], fetcher: Fetcher
) -> None:
    key, cert = self_signed
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TLSError) as info:
            await fetcher.fetch(f"https://127.0.0.1:{port}/")
        assert info.value.certificate
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_to_plain_http_is_tls_error(site: TestSite, fetcher: Fetcher) -> None:
    site.add("/", Page())
    with pytest.raises(TLSError) as info:
        await fetcher.fetch(f"https://{site.netloc}/")
    assert not info.value.certificate


def test_every_translation_lands_in_our_tree() -> None:
    from crawler.web.fetch_errors import translate

    for exc in [OSError(104, "reset"), ValueError("bad"), RuntimeError("?"), TimeoutError()]:
        assert isinstance(translate(exc, "http://x/"), FetchError)


def test_every_aiohttp_exception_is_translated() -> None:
    """httpx's map_exceptions test, for aiohttp: every exception class aiohttp exports (and the
    asyncio and ssl ones an exchange meets) meets a row of the table before the last resorts,
    so no foreign exception surfaces as an "unexpected error"."""
    import inspect
    import ssl as ssl_module

    import aiohttp

    from crawler.web.fetch_errors import TRANSLATIONS

    own_rows = TRANSLATIONS[:-2]  # OSError and ValueError are the last resorts
    foreign = [
        cls
        for _, cls in inspect.getmembers(aiohttp, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__.startswith("aiohttp")
    ]
    foreign += [TimeoutError, ssl_module.SSLError, ssl_module.SSLCertVerificationError]
    # Never raised by a client exchange: server-side responses, multipart warnings, WebSockets.
    elsewhere = (aiohttp.web.HTTPException, Warning, aiohttp.WebSocketError, TypeError)
    missing = [
        cls.__name__
        for cls in foreign
        if not issubclass(cls, elsewhere)
        and not any(issubclass(cls, types) for types, _, _ in own_rows)
    ]
    assert missing == []

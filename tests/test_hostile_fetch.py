"""Broken bodies from a raw socket: never stored as a page; CONTENT when the bytes arrived and do
not decode (not retried), NETWORK when the transfer broke off (retried)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Callable

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config, FetchConfig
from crawler.decide.classify import classify
from crawler.errors import ContentError, FetchError, NetworkError
from crawler.records import Category
from crawler.web import coding
from crawler.web.coding import CodingError, decoder_for
from crawler.web.fetch import Fetcher
from tests.raw_server import RawServer, Reply, response

HTML = b"<html><head><title>hello</title></head><body>" + b"word " * 4000 + b"</body></html>"
GZ = gzip.compress(HTML)
DEFLATE = zlib.compress(HTML)
HTML_TYPE = ("Content-Type", "text/html")

needs_br = pytest.mark.skipif("br" not in coding.SUPPORTED, reason="brotli not installed")
needs_zstd = pytest.mark.skipif("zstd" not in coding.SUPPORTED, reason="zstd not installed")

UA = "adaptive-crawler-test/1"


def _br(data: bytes) -> bytes:
    import brotli

    return bytes(brotli.compress(data))


def _zstd(data: bytes) -> bytes:
    from backports.zstd import compress

    return bytes(compress(data))


def encoded(name: str, body: bytes, **kw: bool) -> Reply:
    return response(200, [HTML_TYPE, ("Content-Encoding", name)], body, **kw)


def head(extra: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n" + extra


CONTENT_CASES: dict[str, Reply] = {
    "gzip-garbage": encoded("gzip", b"not gzip at all " * 20),
    "deflate-garbage": encoded("deflate", b"not deflate " * 20),
    "br-garbage": encoded("br", b"not br " * 20),
    "zstd-garbage": encoded("zstd", b"not zstd " * 20),
    # The whole (declared) body arrived; the compressed stream inside it stops half way.
    "gzip-truncated-stream": encoded("gzip", GZ[: len(GZ) // 2]),
    "deflate-truncated-stream": encoded("deflate", DEFLATE[: len(DEFLATE) // 2]),
    "gzip-truncated-chunked": Reply(
        head(b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
        + b"%x\r\n" % (len(GZ) // 2)
        + GZ[: len(GZ) // 2]
        + b"\r\n0\r\n\r\n"
    ),
    # Close-delimited (no length): a cut stream cannot be told from a cut transfer; CONTENT.
    "gzip-truncated-close-delimited": encoded("gzip", GZ[: len(GZ) // 2], content_length=False),
    "unknown-coding": encoded("x-foo", HTML),
    "stacked-codings": encoded("gzip, gzip", gzip.compress(GZ)),
}
NETWORK_CASES: dict[str, Reply] = {
    # The transfer broke off: fewer bytes than Content-Length, or chunking cut short.
    "plain-short-of-length": Reply(head(b"Content-Length: 100000\r\n\r\n") + HTML[:1000]),
    "gzip-short-of-length": Reply(
        head(b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZ)) + GZ[:100]
    ),
    "chunked-cut": Reply(head(b"Transfer-Encoding: chunked\r\n\r\n") + b"1000\r\nabc"),
}
GOOD_CASES: dict[str, Reply] = {
    "gzip": encoded("gzip", GZ),
    "x-gzip": encoded("x-gzip", GZ),
    "gzip-two-members": encoded("gzip", gzip.compress(HTML[:100]) + gzip.compress(HTML[100:])),
    "gzip-trailing-junk": encoded("gzip", GZ + b"\0\0junk"),  # as browsers do: ignored
    "deflate": encoded("deflate", DEFLATE),
    "raw-deflate": encoded("deflate", zlib.compress(HTML, wbits=-15)),
    "identity": encoded("identity", HTML),
    "gzip-empty": encoded("gzip", b""),
}


@pytest.fixture
async def server() -> AsyncIterator[RawServer]:
    async with RawServer() as s:
        for name, reply in {**CONTENT_CASES, **NETWORK_CASES, **GOOD_CASES}.items():
            s.route(f"/{name}", reply)
        if "br" in coding.SUPPORTED:
            s.route("/br", encoded("br", _br(HTML)))
            s.route("/br-truncated", encoded("br", _br(HTML)[:-20]))
        if "zstd" in coding.SUPPORTED:
            s.route("/zstd", encoded("zstd", _zstd(HTML)))
            s.route("/zstd-truncated", encoded("zstd", _zstd(HTML)[:-20]))
        yield s


async def _fetch(server: RawServer, path: str, max_response_bytes: int = 10_485_760) -> bytes:
    limits = FetchConfig(total_timeout_s=5, read_timeout_s=3, max_response_bytes=max_response_bytes)
    async with Fetcher(limits, user_agent=UA) as fetcher:
        return (await fetcher.fetch(server.url(path))).body


@pytest.mark.parametrize("name", sorted(CONTENT_CASES))
async def test_undecodable_bodies_are_content_not_retried(server: RawServer, name: str) -> None:
    if name.startswith("br") and "br" not in coding.SUPPORTED:
        pytest.skip("brotli not installed: an unsupported coding, CONTENT all the same")
    with pytest.raises(ContentError) as raised:
        await _fetch(server, f"/{name}")
    record = classify(raised.value, url="u", host="h", attempt=1)
    assert record.category is Category.CONTENT
    assert not record.retryable


@pytest.mark.parametrize("name", sorted(NETWORK_CASES))
async def test_broken_transfers_are_network(server: RawServer, name: str) -> None:
    with pytest.raises(NetworkError):
        await _fetch(server, f"/{name}")


@pytest.mark.parametrize("name", sorted(GOOD_CASES))
async def test_good_codings_decode_whole(server: RawServer, name: str) -> None:
    body = await _fetch(server, f"/{name}")
    assert body == (b"" if name == "gzip-empty" else HTML)


@needs_br
async def test_brotli(server: RawServer) -> None:
    assert await _fetch(server, "/br") == HTML
    with pytest.raises(ContentError, match="truncated"):
        await _fetch(server, "/br-truncated")


@needs_zstd
async def test_zstd(server: RawServer) -> None:
    assert await _fetch(server, "/zstd") == HTML
    with pytest.raises(ContentError, match=r"truncated|decode"):
        await _fetch(server, "/zstd-truncated")


@pytest.mark.parametrize(
    "compress",
    [
        gzip.compress,
        zlib.compress,
        pytest.param(_br, marks=needs_br),
        pytest.param(_zstd, marks=needs_zstd),
    ],
)
def test_decoders_stop_a_bomb_at_the_cap(compress: Callable[[bytes], bytes]) -> None:
    bomb = compress(b"\0" * 50_000_000)
    name = {gzip.compress: "gzip", zlib.compress: "deflate", _br: "br", _zstd: "zstd"}[compress]
    decoder = decoder_for(name)
    out = decoder.feed(bomb, 1_000_000)
    assert 1_000_000 < len(out) <= 1_000_000 + 64 * 1024


def test_unsupported_codings_raise() -> None:
    for header in ("x-foo", "gzip, br", "compress"):
        with pytest.raises(CodingError):
            decoder_for(header)


def test_accept_encoding_names_only_what_is_decoded() -> None:
    assert coding.ACCEPT_ENCODING.split(", ")[:2] == ["gzip", "deflate"]
    for name in coding.SUPPORTED:
        decoder_for(name)


async def test_broken_bodies_are_never_stored(
    server: RawServer, make_config: Callable[..., Config]
) -> None:
    names = sorted({**CONTENT_CASES, **NETWORK_CASES})
    links = "".join(f'<a href="/{n}">{n}</a>' for n in names).encode()
    server.route("/", response(200, [HTML_TYPE], b"<title>index</title>" + links))
    async with AdaptiveCrawler(make_config(retry__max_retries=1)) as crawler:
        summary = await crawler.run([server.url("/")])
        dlq = {e.url.rsplit("/", 1)[1]: e for e in await crawler.storage.dlq_list()}
    assert summary.pages_ok == 1  # the index only
    assert set(dlq) == set(names)
    for name in CONTENT_CASES:
        assert dlq[name].error["category"] == "CONTENT", name
        assert dlq[name].attempts == 1, f"{name} was retried"
    for name in NETWORK_CASES:
        assert dlq[name].error["category"] == "NETWORK", name
        assert dlq[name].attempts == 2, f"{name} was not retried"


async def test_control_characters_in_location_are_an_unusable_redirect(
    server: RawServer,
) -> None:
    server.route("/r", response(302, [("Location", "/x\x1b[2J")]))
    with pytest.raises(FetchError) as raised:
        await _fetch(server, "/r")
    assert "unusable Location" in str(raised.value)
    assert "\x1b" not in str(raised.value)  # shown as repr: \x1b

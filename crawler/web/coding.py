"""Content-Encoding (RFC 9110 §8.4.1) decoded by the crawler itself, with the size cap inside.

aiohttp's own decompression is lenient where a crawler must not be: a gzip stream that ends
before its end (a truncated file served with a matching ``Content-Length``) comes out as a short
body without an error, so a broken page would be stored as a whole one, and an unknown or stacked
coding (``x-foo``, ``gzip, gzip``) is passed through raw. Here every failure is a
:class:`CodingError`, which ``fetch.py`` reports as CONTENT (the bytes arrived; they are not a
page, and asking again gets the same bytes):

* garbage under ``gzip`` / ``deflate`` / ``br`` / ``zstd``;
* a compressed stream that the transfer delivered whole but that stops before its own end;
* a coding this crawler does not decode (it only ever asks for :data:`ACCEPT_ENCODING`).

A body cut short by the *transfer* (fewer bytes than ``Content-Length``, a chunked body broken
off) is a different failure, found by aiohttp before the decoder sees the end: NETWORK, retried.

``br`` and ``zstd`` are decoded and advertised only when their packages are installed (the
``compression`` extra: Brotli, backports.zstd); otherwise the crawler asks for gzip and deflate
only, and a server that sends ``br`` anyway gets a CONTENT failure that says so.
"""

from __future__ import annotations

import zlib
from typing import Any, Protocol

__all__ = ["ACCEPT_ENCODING", "SUPPORTED", "BodyDecoder", "CodingError", "decoder_for"]

try:  # optional: the "compression" extra
    import brotli

    _HAS_BROTLI = True
except ImportError:  # pragma: no cover - depends on the installed extras
    _HAS_BROTLI = False
try:
    from backports.zstd import ZstdDecompressor, ZstdError

    _HAS_ZSTD = True
except ImportError:  # pragma: no cover
    try:
        from compression.zstd import (  # type: ignore[import-not-found, no-redef, unused-ignore]
            ZstdDecompressor,
            ZstdError,
        )

        _HAS_ZSTD = True
    except ImportError:
        _HAS_ZSTD = False

SUPPORTED: tuple[str, ...] = (
    "gzip",
    "deflate",
    *(("br",) if _HAS_BROTLI else ()),
    *(("zstd",) if _HAS_ZSTD else ()),
)
ACCEPT_ENCODING = ", ".join(SUPPORTED)
_ALIASES = {"x-gzip": "gzip", "identity": "", "": ""}


class CodingError(Exception):
    """The body does not decode under its Content-Encoding (or the coding is unsupported)."""


class BodyDecoder(Protocol):
    """Feed compressed chunks in order; ``finish`` checks the stream really ended."""

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``: all of them, or more than ``room`` as soon as the output
        passes it (the caller's size cap; a decompression bomb stops right there)."""
        ...

    def finish(self) -> None:
        """Raise :class:`CodingError` if the compressed stream stopped before its end."""
        ...


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        return data

    def finish(self) -> None:
        return None


class _Zlib:
    """gzip (possibly several members, as RFC 1952 allows) or deflate (zlib-wrapped, or raw
    deflate as some servers send it)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj: Any = None
        self._started = False
        self._ended = False

    def _new(self, first: bytes) -> Any:
        if self.coding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # RFC 9110 "deflate" is the zlib format; a first byte whose low nibble is not 8 (the
        # deflate method) means raw deflate without the zlib header.
        wbits = zlib.MAX_WBITS if first[0] & 0x0F == 8 else -zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def feed(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        produced = 0
        while data:
            if self._obj is None or self._ended:
                if self._ended and (self.coding != "gzip" or not data.startswith(b"\x1f\x8b")):
                    return b"".join(out)  # bytes after the end that start no member: ignored
                self._obj = self._new(data)
                self._started, self._ended = True, False
            try:
                chunk = self._obj.decompress(data, max(1, room - produced + 1))
            except zlib.error as exc:
                raise CodingError(f"{self.coding} data does not decode: {exc}") from exc
            out.append(chunk)
            produced += len(chunk)
            if produced > room:
                break
            if self._obj.eof:
                self._ended = True
                data = self._obj.unused_data
            else:
                data = self._obj.unconsumed_tail
        return b"".join(out)

    def finish(self) -> None:
        if self._started and not self._ended:
            raise CodingError(f"{self.coding} stream ends before its end (truncated)")


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        if not data:
            return b""
        self._started = True
        try:
            out = [self._obj.process(data, output_buffer_limit=max(1, room + 1))]
            produced = len(out[0])
            while produced <= room and not self._obj.can_accept_more_data():
                more = self._obj.process(b"", output_buffer_limit=max(1, room - produced + 1))
                if not more:
                    break
                out.append(more)
                produced += len(more)
        except brotli.error as exc:
            raise CodingError(f"br data does not decode: {exc}") from exc
        return b"".join(out)

    def finish(self) -> None:
        if self._started and not self._obj.is_finished():
            raise CodingError("br stream ends before its end (truncated)")


class _Zstd:
    def __init__(self) -> None:
        self._obj = ZstdDecompressor()
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        out: list[bytes] = []
        produced = 0
        try:
            while True:
                if self._obj.eof:
                    if not data:
                        break
                    self._obj = ZstdDecompressor()  # a further frame (or junk: an error)
                if not data and self._obj.needs_input:
                    break
                self._started = True
                chunk = self._obj.decompress(data, max(1, room - produced + 1))
                data = self._obj.unused_data if self._obj.eof else b""
                out.append(chunk)
                produced += len(chunk)
                if produced > room:
                    break
        except (ZstdError, EOFError) as exc:
            raise CodingError(f"zstd data does not decode: {exc}") from exc
        return b"".join(out)

    def finish(self) -> None:
        if self._started and not self._obj.eof:
            raise CodingError("zstd stream ends before its end (truncated)")


def decoder_for(content_encoding: str | None) -> BodyDecoder:
    """The decoder of a ``Content-Encoding`` header value; :class:`CodingError` for a coding
    this crawler does not decode, or more than one coding (it never asks for stacked ones)."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
    codings = [_ALIASES.get(c, c) for c in codings]
    codings = [c for c in codings if c]
    if not codings:
        return _Identity()
    if len(codings) > 1:
        raise CodingError(f"stacked content codings {', '.join(codings)[:80]!r} are not decoded")
    coding = codings[0]
    if coding in ("gzip", "deflate"):
        return _Zlib(coding)
    if coding == "br" and _HAS_BROTLI:
        return _Brotli()
    if coding == "zstd" and _HAS_ZSTD:
        return _Zstd()
    hint = f" (install the 'compression' extra for {coding})" if coding in ("br", "zstd") else ""
    raise CodingError(f"content coding {coding[:40]!r} is not supported{hint}")

"""Verdict cache: one LLM call per kind of failure, per state dir.

A failure's *signature* is a sha256 over its host, category, status and message, with the parts
that differ between otherwise identical failures (numbers, hex ids, UUIDs, URLs) collapsed, so a
thousand timeouts on one host cost one call. Verdicts live in the state store's metadata
(:class:`StorageVerdictCache`), so a rerun over the same state dir costs none; identical failures
that arrive while the first call is in flight wait for it (:class:`SingleFlight`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from crawler.decide.signature import normalise_message
from crawler.errors import LLMError
from crawler.storage.base import Storage

T = TypeVar("T")

__all__ = [
    "LeaderCancelled",
    "MemoryVerdictCache",
    "SingleFlight",
    "StorageVerdictCache",
    "VerdictCache",
    "page_signature",
]


def page_signature(parts: Iterable[str]) -> str:
    """The cache key of a page verdict: sha256 over everything the LLM is shown about the page
    except its URL — title, visible-text excerpt, features, status, headers — each normalised
    like an error message (ids, numbers and URLs collapsed) but not truncated. Two pages get the
    same verdict only if the model was shown the same thing (a thousand copies of one captcha
    page with different ray ids cost one call); a shared host or prefix is not enough."""
    raw = "\x1f".join(normalise_message(part, limit=1_000_000) for part in parts)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class VerdictCache(Protocol):
    """Where validated LLM verdicts are kept, by signature."""

    async def get(self, sig: str) -> dict[str, Any] | None:
        """The verdict stored under ``sig``, or None."""

    async def put(self, sig: str, verdict: dict[str, Any]) -> None:
        """Store ``verdict`` under ``sig``."""


class MemoryVerdictCache:
    """A per-process cache (tests, and library users without a state dir)."""

    def __init__(self) -> None:
        self._verdicts: dict[str, dict[str, Any]] = {}

    async def get(self, sig: str) -> dict[str, Any] | None:
        verdict = self._verdicts.get(sig)
        return dict(verdict) if verdict is not None else None

    async def put(self, sig: str, verdict: dict[str, Any]) -> None:
        self._verdicts[sig] = dict(verdict)

    def __len__(self) -> int:
        return len(self._verdicts)


class StorageVerdictCache:
    """Verdicts in the state store's metadata under ``"llm:" + sig`` (durable at the store's next
    commit), fronted by a dict so a hot signature costs no store round trip."""

    prefix = "llm:"

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._memory: dict[str, dict[str, Any]] = {}

    async def get(self, sig: str) -> dict[str, Any] | None:
        verdict = self._memory.get(sig)
        if verdict is None:
            stored = await self._storage.get_meta(self.prefix + sig)
            if not isinstance(stored, dict):
                return None
            verdict = self._memory[sig] = stored
        return dict(verdict)

    async def put(self, sig: str, verdict: dict[str, Any]) -> None:
        self._memory[sig] = dict(verdict)
        await self._storage.set_meta(self.prefix + sig, dict(verdict))


class LeaderCancelled(LLMError):
    """The call a follower waited on was cancelled with its leader."""


class SingleFlight(Generic[T]):
    """Concurrent calls with the same key share one execution of the first caller's function."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, func: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """``(result, leader)``: ``leader`` is True for the caller whose ``func`` ran. Followers
        get the leader's result or its exception; a follower's cancellation leaves the leader's
        call running for the others."""
        future = self._inflight.get(key)
        if future is not None:
            return await asyncio.shield(future), False
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await func()
        except BaseException as exc:
            if not future.done():
                # A cancelled leader must not cancel its followers' waits; they retry alone.
                if isinstance(exc, asyncio.CancelledError):
                    future.set_exception(LeaderCancelled())
                else:
                    future.set_exception(exc)
                future.exception()  # mark retrieved: nobody may be waiting
            raise
        else:
            future.set_result(result)
            return result, True
        finally:
            del self._inflight[key]

"""Riding out a Redis that is restarting or unreachable for a while (docs/workers.md, "When
Redis restarts").

A worker that loses its connection to Redis waits and retries with a bounded exponential backoff
(``FIRST_DELAY_S`` doubling up to ``MAX_DELAY_S``) instead of crashing: a restart of the server
(with ``appendonly yes``) costs the crawl the restart's duration and nothing else. One outage is
logged once as a WARNING when it starts and once as an INFO line when it ends, whatever number of
calls were waiting. After ``give_up_after_s`` without an answer the waiting calls raise
:class:`~crawler.errors.StorageError` naming the outage, and the crawl ends with exit code 1 (its
leases come back to the other workers when they expire).

Only connection-level failures are retried: the server refused, dropped or timed out a
connection, or answers ``LOADING`` while it reads its append-only file back. A command the server
answered with an error is not an outage.

A call is retried whole, so what it sends must be safe to send twice when the first reply was lost
after the server had applied it. Every script of this backend is (a lease whose reply was lost is
held by nobody in this process and comes back when it expires), except the commit, which checks a
marker it writes in the same transaction before sending again (``RedisStorage._commit``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import (
    ClusterDownError,
    MasterDownError,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crawler.errors import StorageError

__all__ = ["OUTAGE_ERRORS", "Outage"]

log = logging.getLogger("crawler")

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 5.0
# What a server that is down, restarting or loading its data looks like to redis-py
# (BusyLoadingError, the LOADING answer, is a ConnectionError).
# On a Redis Cluster (docs/redis-cluster.md) also: the cluster is failing over (CLUSTERDOWN, a
# primary down), the crawl's slot is moving (TRYAGAIN), or the client's slot map lacks it.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    ClusterDownError,
    MasterDownError,
    TryAgainError,
    SlotNotCoveredError,
)

T = TypeVar("T")


class Outage:
    """Retries calls to one Redis server through an outage of up to ``give_up_after_s``.

    ``sleep`` and ``monotonic`` are injectable for tests. ``give_up_after_s`` 0 means no retry:
    the first connection failure raises."""

    def __init__(
        self,
        url: str,
        give_up_after_s: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.give_up_after_s = give_up_after_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._down_since: float | None = None  # when the current outage began
        self.outages = 0  # how many outages this store has ridden out or given up on

    @property
    def down_for(self) -> float:
        """Seconds the current outage has lasted (0.0 when Redis answers)."""
        if self._down_since is None:
            return 0.0
        return self._monotonic() - self._down_since

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()``, again after a backoff while Redis is unreachable; other Redis errors
        become :class:`StorageError` at once."""
        delay = FIRST_DELAY_S
        while True:
            try:
                result = await fn()
            except OUTAGE_ERRORS as exc:
                await self.wait(what, exc, delay)
                delay = min(MAX_DELAY_S, delay * 2)
                continue
            except RedisError as exc:
                raise StorageError(f"{self.url}: {what} failed: {exc}") from exc
            except OSError as exc:
                raise StorageError(f"{self.url}: {what} failed: {exc}") from exc
            self.recovered()
            return result

    async def wait(self, what: str, exc: BaseException, delay: float) -> None:
        """One backoff step of an outage that ``exc`` (from ``what``) shows; raises
        :class:`StorageError` once the outage has lasted ``give_up_after_s``."""
        now = self._monotonic()
        if self._down_since is None:
            self._down_since = now
            self.outages += 1
            log.warning(
                "Redis at %s is unreachable (%s: %s); waiting for it, for up to %.0f s",
                self.url,
                what,
                exc,
                self.give_up_after_s,
            )
        down = now - self._down_since
        if down >= self.give_up_after_s:
            raise StorageError(
                f"{self.url}: unreachable for {down:.0f} s ({what}: {exc}); giving up "
                f"([storage] redis_unreachable_s = {self.give_up_after_s:g})"
            ) from exc
        await self._sleep(min(delay, self.give_up_after_s - down))

    def recovered(self) -> None:
        """Redis answered: end the current outage, if any, with one log line."""
        if self._down_since is not None:
            log.info("Redis at %s answers again after %.1f s", self.url, self.down_for)
            self._down_since = None

"""The Redis backend's lease upkeep: fencing staged acks and renewing held leases.

Every lease carries a fencing token (the lease script's counter, kept in the ``fence`` hash
beside the URL's record). :meth:`RedisLeases.fence_acks` runs before the crawler writes the
results lines of a batch: a staged ack whose lease no longer holds its URL is dropped with its page
state, so its line is never written; the others are extended past the coming commit. A background
task (:meth:`RedisLeases._renew_loop`, started by ``RedisStorage.open``) renews held leases that
have used half their time, so a fetch slower than ``lease_timeout_s`` keeps its lease while the
worker lives (docs/workers.md, "Leases" and "Fencing").

A mixin of :class:`~crawler.storage.redis.RedisStorage`; the methods name what they need from it
in :class:`_Store`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from crawler.errors import StorageError
from crawler.records import PageState
from crawler.storage.base import Lease

__all__ = ["RedisLeases"]

log = logging.getLogger("crawler")


class _Store(Protocol):
    lease_timeout_s: float
    _owner: str
    _held: dict[str, tuple[float, int]]
    _acks: dict[str, tuple[Lease, int]]
    _pages: dict[str, PageState]
    _delta: list[int]

    def _clock(self) -> float: ...
    def _writable(self) -> None: ...
    def _lock(self) -> AbstractAsyncContextManager[Any]: ...
    async def _script(self, name: str, args: Sequence[str | int | float]) -> Any: ...
    async def _renew(self, also: dict[str, int]) -> set[str]: ...
    async def renew_leases(self) -> set[str]: ...


class RedisLeases:
    """Fencing and renewal for :class:`~crawler.storage.redis.RedisStorage`."""

    async def fence_acks(self: _Store) -> set[str]:
        """Before the results lines of the staged acks are written: check that each staged ack's
        lease still holds its URL and extend it past the coming commit. The URLs whose lease was
        lost are returned, their acks and page states dropped: the caller drops their lines.
        Also renews the other held leases that have used half their time."""
        self._writable()
        async with self._lock():
            if not self._acks:
                return set()
            acks = dict(self._acks)
            lost = await self._renew({u: le.fence for u, (le, _) in acks.items()})
            dropped: set[str] = set()
            for url in lost:
                staged = self._acks.get(url)
                if staged is None or url not in acks or staged[0].fence != acks[url][0].fence:
                    continue
                del self._acks[url]
                self._pages.pop(url, None)
                self._held.pop(url, None)
                self._delta[1] += 1  # the staged ack counted the URL as done; it is not ours
                self._delta[2] -= 1
                dropped.add(url)
                log.warning(
                    "The lease of %s lapsed before its results line was written: dropped "
                    "(another worker may have it now)",
                    url,
                )
            return dropped

    async def renew_leases(self: _Store) -> set[str]:
        """Extend every held lease that has used half its time; returns the URLs whose lease
        was lost (another worker may have them now). The background renewer calls this every
        quarter of ``lease_timeout_s``."""
        return await self._renew({})

    async def _renew(self: _Store, also: dict[str, int]) -> set[str]:
        clock = self._clock()
        half = self.lease_timeout_s / 2
        wanted = dict(also)
        for url, (expiry, fence) in list(self._held.items()):
            if expiry - clock < half:
                wanted.setdefault(url, fence)
        if not wanted:
            return set()
        expiry = clock + self.lease_timeout_s
        args: list[str | int | float] = [repr(expiry), self._owner]
        for url, fence in wanted.items():
            args += [url, fence]
        lost = set(await self._script("renew", args))
        for url, fence in wanted.items():
            held = self._held.get(url)
            if held is None or held[1] != fence:
                continue
            if url in lost:
                log.warning("The lease of %s was lost (it expired and was reclaimed)", url)
            else:
                self._held[url] = (expiry, fence)
        return lost

    async def _renew_loop(self: _Store) -> None:
        interval = self.lease_timeout_s / 4
        while True:
            await asyncio.sleep(interval)
            try:
                await self.renew_leases()
            except StorageError as exc:  # the crawl's own calls report an outage that lasts
                log.warning("Renewing leases failed: %s", exc)

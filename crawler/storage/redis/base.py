"""The Redis store's state in one process and the plumbing every part of it uses: the connection,
the key prefix, scripts run through the outage policy, and what is staged until the commit.
:class:`~crawler.storage.redis.RedisStorage` is built on it (docs in its module)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.commands.core import AsyncScript

from crawler.errors import StorageError
from crawler.records import PageState
from crawler.storage.base import Lease
from crawler.storage.redis.connect import Client
from crawler.storage.redis.outage import Outage

Arg = str | int | float  # what a script takes in ARGV
T = TypeVar("T")

__all__ = ["Arg", "RedisBase"]


class RedisBase:
    """Connection, staged writes and plumbing; see :class:`~crawler.storage.redis.RedisStorage`."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        clock: Callable[[], float] = time.time,
        lease_timeout_s: float = 300.0,
        unreachable_s: float = 120.0,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.lease_timeout_s = lease_timeout_s
        self.read_only = read_only
        self.outage = Outage(url, unreachable_s)
        self._clock = clock
        self._prefix = f"crawler:{{{namespace}}}:"
        self._offset_field = socket.gethostname() + ":"  # results files are per machine
        self._client: Client | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._owner = ""
        self._known: set[int] = set()  # hash() of every URL this process knows of
        # url -> (expiry, fencing token) of the leases this process holds, acked ones included
        # until their ack is committed.
        self._held: dict[str, tuple[float, int]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._commits = 0  # this owner's commits: the number its commit marker names
        # Staged until commit (dicts keep their order). Acks remember the lease they settle.
        self._adds: dict[str, tuple[int, str]] = {}  # url -> (depth, host)
        self._acks: dict[str, tuple[Lease, int]] = {}  # url -> (lease, attempts)
        self._meta: dict[str, str] = {}  # key -> JSON
        self._pages: dict[str, PageState] = {}  # url -> page state
        self._committing_acks: dict[str, tuple[Lease, int]] = {}  # the batch being sent
        self._delta = [0, 0, 0, 0]  # what staged writes change in counts (p, l, d, x)
        self._committed_offsets: dict[str, int] = {}
        # Serialises sending staged writes with each other and with counts(), so the counts
        # never see a batch both in Redis and still staged.
        self._flush_lock = asyncio.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self._prefix + name

    def _conn(self) -> Client:
        if self._client is None:
            raise StorageError(f"{self.url}: the Redis store is not open")
        return self._client

    def _lock(self) -> asyncio.Lock:
        self._conn()
        return self._flush_lock

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(f"{self.url}: the store was opened read-only")

    async def _script(self, name: str, args: Sequence[Arg], client: Any = None) -> Any:
        """Run script ``name``; queue it when ``client`` is a pipeline. Scripts write: a
        read-only store refuses. Run alone, the call waits out a Redis outage (every script is
        safe to send twice, see outage.py)."""
        self._writable()
        script = self._scripts[name]
        if client is not None:
            return await script(keys=[self._prefix], args=args, client=client)
        return await self._call(name, lambda: script(keys=[self._prefix], args=args))

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()``, waiting out a Redis outage; Redis errors become StorageError."""
        return await self.outage.call(what, fn)

    async def _flush_adds(self) -> None:
        """Send the staged new URLs: they must be in the shared frontier to be leased."""
        async with self._lock():
            if not self._adds:
                return
            adds, self._adds = self._adds, {}
            try:
                await self._script("add", [x for u, (d, h) in adds.items() for x in (u, d, h)])
            except BaseException:
                self._adds = {**adds, **self._adds}
                raise
            self._delta[0] -= len(adds)

    def _hold(self, leases: list[Lease], expiry: float) -> list[Lease]:
        for lease in leases:
            self._held[lease.url] = (expiry, lease.fence)
        return leases

    # -- DLQ -----------------------------------------------------------------------------------
    def _acked(self) -> set[str]:
        """URLs acked in a batch not yet in Redis: their DLQ entries are gone for this process."""
        return set(self._acks) | set(self._committing_acks)

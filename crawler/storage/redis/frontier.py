"""The Redis store's frontier (add, lease, settle, count) and the stored pages' recrawl states
(docs/recrawl.md). A part of :class:`~crawler.storage.redis.RedisStorage`; the key layout and
what is staged until the commit are described in its module."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from crawler.records import PageState
from crawler.storage.base import FrontierCounts, Lease
from crawler.storage.redis.base import Arg, RedisBase
from crawler.storage.redis.scripts import (
    REQUEUE_BATCH,
    lease_from,
    leases_from,
    page_from,
)
from crawler.web.urls import host_key

__all__ = ["RedisFrontier"]


class RedisFrontier(RedisBase):
    """The frontier and page-state half of the Redis storage contract."""

    # -- frontier ------------------------------------------------------------------------------
    def is_known(self, url: str) -> bool:
        """A set lookup of ``hash(url)`` (known at open or since, in this process): O(1), no
        I/O. A URL another worker added since this one opened reads as unknown; :meth:`add`
        then stages it and the commit keeps one copy."""
        return hash(url) in self._known

    async def add(self, entries: Iterable[tuple[str, int]]) -> int:
        """Stage new URLs. The count is of URLs new to this process; one another worker added
        meanwhile is counted here too, and skipped by the commit."""
        self._conn()
        new = 0
        maybe: dict[str, int] = {}  # hash seen before: Redis decides (a duplicate, or a collision)
        for url, depth in entries:
            h = hash(url)
            if h in self._known:
                if url not in self._adds:
                    maybe.setdefault(url, depth)
                continue
            self._known.add(h)
            self._adds[url] = (depth, host_key(url))
            new += 1
        if maybe:

            async def check() -> list[Any]:
                async with self._conn().pipeline(transaction=False) as pipe:
                    for url in maybe:
                        pipe.hexists(self._key("urls"), url)
                    return await pipe.execute()

            exists = await self._call("add", check)
            for (url, depth), found in zip(maybe.items(), exists, strict=True):
                if not found and url not in self._adds:
                    self._adds[url] = (depth, host_key(url))
                    new += 1
        self._delta[0] += new
        return new

    async def add_done(self, url: str, depth: int) -> bool:
        await self._flush_adds()
        changed = await self._script("add_done", [url, depth, host_key(url)])
        self._known.add(hash(url))
        return bool(changed)

    async def lease(
        self, limit: int, now: float, exclude_hosts: Sequence[str] = (), *, per_host: int = 0
    ) -> list[Lease]:
        if limit <= 0:
            self._conn()
            return []
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        args: list[Arg] = [
            repr(now),
            repr(clock),
            repr(expiry),
            self._owner,
            limit,
            max(0, per_host),
            *exclude_hosts,
        ]
        flat = await self._script("lease", args)
        return self._hold(leases_from(flat), expiry)

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        staged = self._acks.pop(url, None)
        if staged is not None:  # acked in this uncommitted batch: still leased to us in Redis
            lease, attempts = staged
            self._delta[1] += 1
            self._delta[2] -= 1
            self._held[url] = (0.0, lease.fence)  # renewed before the next commit
            return Lease(url, lease.depth, lease.host, attempts, lease.tries, 0.0, lease.fence)
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        args: list[Arg] = [url, depth, host_key(url), repr(clock), repr(expiry), self._owner]
        raw = await self._script("lease_url", args)
        self._known.add(hash(url))
        if raw is None:
            return None
        return self._hold([lease_from(url, raw)], expiry)[0]

    async def next_ready_at(self, exclude_hosts: Sequence[str] = ()) -> float | None:
        """The earliest next-attempt time among pending URLs; 0.0 when one is ready now. Also
        the expiry of the earliest lease another worker holds: until it is settled, that URL
        may come back (if the worker died) or bring new links."""
        excluded = set(exclude_hosts)
        if any(host not in excluded for _, host in self._adds.values()):
            return 0.0
        value = await self._script("next_ready", [self._owner, *exclude_hosts])
        return None if value is None else float(value)

    async def ack(self, lease: Lease, attempts: int) -> None:
        """Stage the ack: it becomes durable with the commit that covers the results line."""
        self._conn()
        self._writable()
        self._acks[lease.url] = (lease, attempts)  # its lease stays held until the commit
        self._delta[1] -= 1
        self._delta[2] += 1

    async def nack(self, lease: Lease, not_before: float, attempts: int, tries: int) -> None:
        args: list[Arg] = [
            lease.url,
            lease.depth,
            lease.host,
            repr(max(0.0, not_before)),
            attempts,
            tries,
            self._owner,
            lease.fence,
        ]
        await self._script("nack", args)
        self._held.pop(lease.url, None)

    async def give_up_host(self, host: str) -> list[Lease]:
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        flat = await self._script("give_up", [host, repr(clock), repr(expiry), self._owner])
        return self._hold(leases_from(flat), expiry)

    async def counts(self) -> FrontierCounts:
        """The shared counters, plus what this process has staged."""
        client = self._conn()
        async with self._lock():
            values = await self._call(
                "counts", lambda: client.hmget(self._key("counts"), ["p", "l", "d", "x", "a"])
            )
            pending, leased, done, dead, aliased = (
                int(v or 0) + d for v, d in zip(values, [*self._delta, 0], strict=True)
            )
        return FrontierCounts(pending, leased, done, dead, aliased)

    # -- recrawl -------------------------------------------------------------------------------
    async def get_pages(self, urls: Sequence[str]) -> dict[str, PageState]:
        out: dict[str, PageState] = {}
        wanted: list[str] = []
        for url in dict.fromkeys(urls):
            staged = self._pages.get(url)
            if staged is not None:
                out[url] = staged
            elif hash(url) in self._known:
                wanted.append(url)
        client = self._conn()
        for i in range(0, len(wanted), REQUEUE_BATCH):
            chunk = wanted[i : i + REQUEUE_BATCH]

            async def read(chunk: list[str] = chunk) -> list[Any]:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hmget(self._key("pages"), chunk)
                    pipe.zmscore(self._key("due"), chunk)
                    return await pipe.execute()

            states, dues = await self._call("get_pages", read)
            for url, state, due in zip(chunk, states, dues, strict=True):
                if state is not None:
                    out[url] = page_from(url, 0.0 if due is None else float(due), state)
        return out

    async def put_page(self, page: PageState) -> None:
        self._conn()
        self._writable()
        self._pages[page.url] = page

    async def requeue_due(self, now: float) -> int:
        requeued = 0
        while True:
            examined, n = await self._script("requeue_due", [repr(now), REQUEUE_BATCH])
            requeued += int(n)
            if int(examined) < REQUEUE_BATCH:
                return requeued

    async def revisit_now(self, url: str) -> bool:
        return bool(await self._script("revisit", [url]))

    async def page_count(self) -> int:
        client = self._conn()
        return int(await self._call("page_count", lambda: client.hlen(self._key("pages"))))

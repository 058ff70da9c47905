"""The dispatcher: leases URLs from storage and hands each to a worker when its host admits it.

One task leases in batches and holds the leases per host; workers only ever wait on a queue. A
host admits a request when robots.txt, its breaker, a Retry-After pause and its throttle allow it
(``HostState.admit``, which also takes the throttle slot and any half-open probe). Leases of a host
that must wait longer than ``HOLD_MAX_WAIT_S`` go back to storage with a not-before time — never
counted as attempts — and the host is left out of leasing until it may be asked again; nothing
sleeps in a worker and nothing spins: when there is nothing to do, the dispatcher sleeps until the
earliest moment something could change, or until a worker finishes or new links arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from crawler.engine.hosts import HostRegistry
from crawler.storage import Lease, Storage

HOLD_MAX_WAIT_S = 0.25  # a host that must wait longer gives its held leases back
MAX_IDLE_SLEEP_S = 1.0
LEASE_BATCH = 64


class Scheduler:
    """Runs ``workers`` worker tasks over ``process(lease)`` until the frontier is exhausted,
    ``max_pages`` are stored, or :meth:`stop` is called."""

    def __init__(
        self,
        storage: Storage,
        hosts: HostRegistry,
        process: Callable[[Lease], Awaitable[Any]],
        *,
        workers: int,
        max_pages: int,
        clock: Callable[[], float],
    ) -> None:
        self._storage = storage
        self._hosts = hosts
        self._process = process
        self._workers = max(1, workers)
        self._max_pages = max_pages
        self._clock = clock
        self._queue: asyncio.Queue[Lease | None] = asyncio.Queue()
        self._held: dict[str, deque[Lease]] = {}
        self._held_count = 0
        self._dispatched = 0  # handed to workers and not finished
        self._hold_limit = max(LEASE_BATCH, 4 * self._workers)
        self._wake = asyncio.Event()
        self._stopping = False
        self._done = 0  # pages stored in the state dir, read when max_pages matters

    @property
    def in_flight(self) -> int:
        return self._dispatched

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for _ in range(self._workers):
                    tg.create_task(self._worker())
                tg.create_task(self._dispatch())
        finally:
            await self.return_held()

    def take(self, url: str) -> Lease | None:
        """Remove and return the held (not yet dispatched) lease of ``url``, if any."""
        for host, held in self._held.items():
            for lease in held:
                if lease.url == url:
                    held.remove(lease)
                    self._held_count -= 1
                    if not held:
                        del self._held[host]
                    return lease
        return None

    def take_host(self, host: str) -> list[Lease]:
        """Remove and return every held lease of ``host`` (the host was given up)."""
        held = self._held.pop(host, deque())
        self._held_count -= len(held)
        return list(held)

    async def return_held(self) -> None:
        """Give every held lease back to storage untouched (a deferral, not an attempt)."""
        for held in self._held.values():
            for lease in held:
                await self._storage.nack(lease, lease.not_before, lease.attempts, lease.tries)
        self._held.clear()
        self._held_count = 0

    # -- the two kinds of task -----------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            lease = await self._queue.get()
            if lease is None:
                return
            try:
                await self._process(lease)
            finally:
                self._dispatched -= 1
                self._wake.set()

    async def _dispatch(self) -> None:
        try:
            while not self._stopping:
                # Cleared before looking, so a wake-up that arrives while this iteration awaits
                # storage is kept for the wait below, never lost.
                self._wake.clear()
                now = self._clock()
                self._hand_out(now)
                await self._park_long_waits(now)
                if await self._lease_more(now):
                    continue
                if self._dispatched == 0 and not self._held:
                    if await self._storage.next_ready_at() is None:
                        return  # nothing pending, nothing in flight: the crawl is over
                    if self._room() <= 0:
                        return  # max_pages reached
                await self._sleep(now)
        finally:
            for _ in range(self._workers):
                self._queue.put_nowait(None)

    # -- dispatching ---------------------------------------------------------------------------
    def _free_workers(self) -> int:
        return self._workers - self._dispatched

    def _room(self) -> int:
        """How many more URLs may be leased under ``max_pages`` (0: none; large: no limit)."""
        if not self._max_pages:
            return self._hold_limit
        return self._max_pages - self._done - self._dispatched - self._held_count

    def _hand_out(self, now: float) -> None:
        for host in list(self._held):
            if self._free_workers() <= 0:
                return
            held = self._held[host]
            state = self._hosts.get(host)
            while held and self._free_workers() > 0:
                if not state.given_up and state.admit(now) is not None:
                    break
                self._send(held.popleft())
            if not held:
                del self._held[host]

    def _send(self, lease: Lease) -> None:
        self._held_count -= 1
        self._dispatched += 1
        self._queue.put_nowait(lease)

    async def _park_long_waits(self, now: float) -> None:
        for host in list(self._held):
            state = self._hosts.get(host)
            if state.given_up:
                continue
            wait = state.wait_until(now)
            if wait is not None and wait - now > HOLD_MAX_WAIT_S:
                for lease in self._held.pop(host):
                    await self._storage.nack(lease, wait, lease.attempts, lease.tries)
                    self._held_count -= 1

    async def _lease_more(self, now: float) -> bool:
        if self._free_workers() <= 0:
            return False
        if self._max_pages:
            self._done = (await self._storage.counts()).done
        want = min(self._hold_limit - self._held_count, self._room(), LEASE_BATCH)
        if want <= 0:
            return False
        leases = await self._storage.lease(want, now, exclude_hosts=self._hosts.blocked(now))
        for lease in leases:
            self._held.setdefault(lease.host, deque()).append(lease)
        self._held_count += len(leases)
        if leases:
            self._hand_out(now)
        return bool(leases) and self._free_workers() > 0

    async def _sleep(self, now: float) -> None:
        """Until a worker finishes, links arrive, or the earliest host/URL becomes ready."""
        wake_at = math.inf
        for host in self._held:
            wait = self._hosts.get(host).wait_until(now)
            wake_at = min(wake_at, wait if wait is not None else now)
        if self._free_workers() > 0 and self._room() > 0:
            blocked = self._hosts.blocked(now)
            ready = await self._storage.next_ready_at(exclude_hosts=blocked)
            if ready is not None:
                wake_at = min(wake_at, ready)
            for host in blocked:
                wait = self._hosts.get(host).wait_until(now)
                if wait is not None:
                    wake_at = min(wake_at, wait)
        timeout = min(MAX_IDLE_SLEEP_S, max(0.001, wake_at - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

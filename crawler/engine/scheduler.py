"""The dispatcher: leases URLs from storage and hands each to a worker when its host admits it.

One task leases in batches (on a shared store only what it can start now, at most ``per_host``
of a host, so that workers split a small frontier: docs/workers.md) and holds the leases per
host; workers only ever wait on a queue. A
host admits a request when robots.txt, a Retry-After pause, its breaker, its throttle and (for a
retry) the retry budget allow it (:meth:`HostRegistry.admit`, which returns an
:class:`~crawler.engine.hosts.Admission` the worker settles). Leases of a host that must wait
longer than ``HOLD_MAX_WAIT_S`` go back to storage with a not-before time — never counted as
attempts — and the host is left out of leasing until it may be asked again; nothing sleeps in a
worker and nothing spins: when there is nothing to do, the dispatcher sleeps until the earliest
moment something could change, or until a worker finishes or new links arrive.

While a host's breaker is not closed, the next request is its probe, and the probe is the held
URL that failed most often: on a host that fails each URL's first requests and then serves it,
that URL is the one most likely to succeed (docs/failure-path.md, "The breaker").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from crawler.engine.hosts import Admission, Deferral, HostRegistry, HostState
from crawler.storage import Lease, Storage

__all__ = ["Scheduler"]

log = logging.getLogger("crawler")

HOLD_MAX_WAIT_S = 0.25  # a host that must wait longer gives its held leases back
MAX_IDLE_SLEEP_S = 1.0
LEASE_BATCH = 64
BUDGET_WAIT = "retry budget spent"
DEGRADED_PAUSE_S = 1.0  # a host paused by degraded mode is looked at again after this

Process = Callable[[Lease, Admission | None], Awaitable[Any]]


class Scheduler:
    """Runs ``workers`` worker tasks over ``process(lease, admission)`` until the frontier is
    exhausted, ``max_pages`` are stored, or :meth:`stop` is called."""

    def __init__(
        self,
        storage: Storage,
        hosts: HostRegistry,
        process: Process,
        *,
        workers: int,
        max_pages: int,
        clock: Callable[[], float],
        per_host: int = 0,
    ) -> None:
        self._storage = storage
        self._hosts = hosts
        self._process = process
        self._workers = max(1, workers)
        self._max_pages = max_pages
        self._clock = clock
        self._per_host = per_host  # the per-host concurrency: a shared store's lease cap
        self._queue: asyncio.Queue[tuple[Lease, Admission | None] | None] = asyncio.Queue()
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

    def hold(self, leases: Iterable[Lease]) -> None:
        """Hold leases taken from storage by someone else (a given-up host's pending URLs)."""
        for lease in leases:
            self._held.setdefault(lease.host, deque()).append(lease)
            self._held_count += 1
        self._wake.set()

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
            item = await self._queue.get()
            if item is None:
                return
            lease, admission = item
            try:
                await self._process(lease, admission)
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
                await self._hand_out(now)
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
        # Degraded mode may lower the global concurrency for a while (docs/operations.md).
        allowed = self._hosts.events.degradation.effective_concurrency(self._workers)
        return min(self._workers, allowed) - self._dispatched

    def _room(self) -> int:
        """How many more URLs may be leased under ``max_pages`` (0: none; large: no limit)."""
        if not self._max_pages:
            return self._hold_limit
        return self._max_pages - self._done - self._dispatched - self._held_count

    async def _hand_out(self, now: float) -> None:
        paused = self._hosts.events.degradation.paused_hosts()
        for host in list(self._held):
            if self._free_workers() <= 0:
                return
            if host in paused:
                continue
            held = self._held.get(host)
            if held is None:  # taken by a worker while an admission awaited the ledger
                continue
            state = self._hosts.get(host)
            while held and self._free_workers() > 0:
                if not self._needs_admission(state, held[0]):
                    self._send(held.popleft(), None)
                    continue
                if state.breaker.probing:
                    _most_failed_first(held)
                first = held[0]
                admitted = await self._hosts.admit(state, now, retry=first.tries > 0)
                if not held or held[0] is not first:
                    # A shared ledger's round trip let a worker take it meanwhile: the
                    # admission was asked for that URL (a retry or not), so ask again.
                    if isinstance(admitted, Admission):
                        admitted.cancel()
                    continue
                if isinstance(admitted, Admission):
                    self._send(held.popleft(), admitted)
                    continue
                if not await self._deferred(held, admitted):
                    break
            if not held and self._held.get(host) is held:
                del self._held[host]

    @staticmethod
    def _needs_admission(state: HostState, lease: Lease) -> bool:
        """False for a URL that makes no request: its host is given up, or robots.txt (known)
        disallows it. Those go to a worker at once, which dead-letters them."""
        if state.given_up:
            return False
        return state.robots is None or state.robots.allowed(lease.url)

    async def _deferred(self, held: deque[Lease], deferral: Deferral) -> bool:
        """Act on a deferral of ``held[0]``; True when the host's other held leases may still
        be tried now (only a retry waits for the retry budget; fresh URLs may go meanwhile)."""
        if deferral.reason != BUDGET_WAIT or not held:
            return False
        lease = held.popleft()
        self._held_count -= 1
        if math.isinf(deferral.until):
            # global_max_retries is spent: what is left waits for the next run.
            await self._storage.nack(lease, lease.not_before, lease.attempts, lease.tries)
            if not self._stopping:
                log.warning("global_max_retries reached: ending this run; retries stay pending")
                self.stop()
            return False
        await self._storage.nack(lease, deferral.until, lease.attempts, lease.tries)
        return True

    def _send(self, lease: Lease, admission: Admission | None) -> None:
        self._held_count -= 1
        self._dispatched += 1
        self._queue.put_nowait((lease, admission))

    async def _park_long_waits(self, now: float) -> None:
        paused = self._hosts.events.degradation.paused_hosts()
        for host in list(self._held):
            state = self._hosts.get(host)
            deferral = self._hosts.wait_until(state, now)
            if deferral is None and host in paused:
                deferral = Deferral(now + DEGRADED_PAUSE_S, "paused by degraded mode")
            if deferral is not None and deferral.until - now > HOLD_MAX_WAIT_S:
                for lease in self._held.pop(host):
                    until = deferral.until if not math.isinf(deferral.until) else lease.not_before
                    await self._storage.nack(lease, until, lease.attempts, lease.tries)
                    self._held_count -= 1

    async def _lease_more(self, now: float) -> bool:
        if self._free_workers() <= 0:
            return False
        if self._max_pages:
            self._done = (await self._storage.counts()).done
        want = min(self._hold_limit - self._held_count, self._room(), LEASE_BATCH)
        excluded = [*self._hosts.blocked(now), *self._hosts.events.degradation.paused_hosts()]
        per_host = 0
        if self._storage.shared:
            # Other workers lease from the same frontier: take what can start now, at most
            # per_host of a host, and hold no more than that of a host, so that workers share a
            # small frontier instead of the first one taking it all (docs/workers.md).
            want = min(want, self._free_workers() - self._held_count)
            per_host = max(1, self._per_host)
            excluded += [h for h, held in self._held.items() if len(held) >= per_host]
        if want <= 0:
            return False
        leases = await self._storage.lease(want, now, exclude_hosts=excluded, per_host=per_host)
        for lease in leases:
            self._held.setdefault(lease.host, deque()).append(lease)
        self._held_count += len(leases)
        if leases:
            await self._hand_out(now)
        return bool(leases) and self._free_workers() > 0

    async def _sleep(self, now: float) -> None:
        """Until a worker finishes, links arrive, or the earliest host/URL becomes ready."""
        wake_at = math.inf
        if self._free_workers() <= 0:
            # Every worker is busy: only a finishing worker (it sets the wake event) can change
            # anything. Looking at the held hosts now would spin.
            wake_at = now + MAX_IDLE_SLEEP_S
        paused = self._hosts.events.degradation.paused_hosts()
        for host in self._held:
            if self._free_workers() <= 0:
                break
            if host in paused:
                continue
            deferral = self._hosts.wait_until(self._hosts.get(host), now)
            wake_at = min(wake_at, deferral.until if deferral is not None else now)
        if self._free_workers() > 0 and self._room() > 0:
            blocked = self._hosts.blocked(now)
            ready = await self._storage.next_ready_at(exclude_hosts=blocked)
            if ready is not None:
                wake_at = min(wake_at, ready)
            wake_at = min(wake_at, self._hosts.next_change(now))
        timeout = min(MAX_IDLE_SLEEP_S, max(0.001, wake_at - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)


def _most_failed_first(held: deque[Lease]) -> None:
    """Move the held lease with the most failed requests to the front (the breaker's probe)."""
    best = max(range(len(held)), key=lambda i: held[i].tries)
    if best:
        lease = held[best]
        del held[best]
        held.appendleft(lease)

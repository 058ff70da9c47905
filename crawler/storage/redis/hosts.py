"""The host ledger on Redis: per-host politeness shared by every worker of a crawl.

Two Lua scripts (``lua/host_acquire.lua``, ``lua/host_release.lua``) hold the state described in
:mod:`crawler.storage.hostledger`, timed by the server's ``TIME``. An acquire is one round trip
(the dispatcher needs the answer before it sends the request); what workers learn afterwards
(a slot given back, a Retry-After, robots.txt, the breaker) is queued by :meth:`release` and sent
by one background task in batches — every note queued while a batch is in flight goes in the
next one, and the same call renews the slots this worker still holds (``slot_ttl_s / 3``).

Keys: ``crawler:{<namespace>}:h:<host>`` and its ``:s`` / ``:p`` sorted sets. They share the
crawl's hash tag, so a batch touching many hosts is still one slot of a Redis Cluster.

A worker that dies leaves its slots and its robots.txt fetch behind; they expire ``slot_ttl_s``
after their last renewal. A batch that cannot be sent (Redis unreachable) is kept and sent again;
at close it is given ``CLOSE_FLUSH_S`` and then dropped (its slots expire the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from importlib import resources
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from crawler.errors import StorageError
from crawler.storage.hostledger import (
    FULL_RECHECK_S,
    PROBE_RECHECK_S,
    ROBOTS_MAX_AGE_S,
    ROBOTS_RECHECK_S,
    SLOT_TTL_S,
    Ask,
    BreakerListener,
    HostView,
    Note,
)

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

    from crawler.storage.redis.connect import Client
    from crawler.storage.redis.outage import Outage

__all__ = ["RedisHostLedger"]

log = logging.getLogger("crawler")

CLOSE_FLUSH_S = 5.0  # at close, how long the last batch may take
RETRY_SEND_S = 0.5  # a batch that could not be sent is tried again after this


def _lua(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def _fmt(x: float) -> str:
    return repr(float(x))


class RedisHostLedger:
    """:class:`~crawler.storage.hostledger.HostLedger` on a Redis server (``prefix`` is the
    crawl's key prefix, ``owner`` names this worker in its slot tokens)."""

    shared = True

    def __init__(
        self,
        client: Client,  # one server or a cluster (connect.py)
        prefix: str,
        *,
        owner: str,
        url: str = "",
        slot_ttl_s: float = SLOT_TTL_S,
        outage: Outage | None = None,
    ) -> None:
        self._client = client
        self._outage = outage  # acquire waits out a Redis outage with the store (outage.py)
        self._prefix = prefix
        self._owner = owner
        self._url = url
        self.slot_ttl_s = slot_ttl_s
        self.listener: BreakerListener | None = None
        self._acquire: AsyncScript | None = None
        self._release: AsyncScript | None = None
        self._ids = itertools.count(1)
        self._held: dict[str, str] = {}  # token -> host: renewed until released
        self._notes: list[Note] = []
        self._queued = 0  # notes queued ever; _applied: notes sent ever
        self._applied = 0
        self._wake = asyncio.Event()
        self._progress = asyncio.Condition()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.round_trips = 0  # acquire and release calls sent (for the bench)

    # -- lifetime ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._acquire = self._client.register_script(_lua("host_acquire"))
        self._release = self._client.register_script(_lua("host_release"))
        self._task = asyncio.create_task(self._run(), name="host-ledger")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_FLUSH_S)
        except TimeoutError:
            log.warning("host ledger: %d notes not sent at close", len(self._notes))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def abandon(self) -> None:
        """Stop WITHOUT sending what is queued and without renewing, as a killed process
        would: this worker's slots and robots.txt fetch expire after ``slot_ttl_s``."""
        task, self._task = self._task, None
        self._notes = []
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the interface -------------------------------------------------------------------------
    async def acquire(self, ask: Ask, now: float) -> HostView:
        if self._acquire is None:
            raise StorageError(f"{self._url}: the host ledger is not open")
        token = f"{self._owner}:{next(self._ids)}"
        args: list[str | int] = [
            ask.host,
            ask.limit,
            _fmt(ask.spacing_s),
            ask.probe_limit,
            int(ask.robots),
            int(ask.force),
            ask.known_version,
            token,
            _fmt(self.slot_ttl_s),
            _fmt(ROBOTS_MAX_AGE_S),
            _fmt(FULL_RECHECK_S),
            _fmt(ROBOTS_RECHECK_S),
            _fmt(PROBE_RECHECK_S),
        ]
        script = self._acquire
        self.round_trips += 1
        if self._outage is not None:  # the slot is keyed by its token: safe to send twice
            r = await self._outage.call(
                "host ledger acquire", lambda: script(keys=[self._prefix], args=args)
            )
        else:
            with self._errors("acquire"):
                r = await script(keys=[self._prefix], args=args)
        granted, wait, reason, text, has_text, rfail, rwait, parked, pause, bv, blob, clock = r
        if granted:
            self._held[granted] = ask.host
        return HostView(
            ask.host,
            token=granted or None,
            wait_s=math.inf if float(wait) < 0 else float(wait),
            reason=reason,
            probe=bool(granted) and ask.probe_limit > 0,
            robots_text=text if int(has_text) else None,
            robots_failures=int(rfail),
            robots_wait_s=float(rwait),
            parked=parked or None,
            pause_s=float(pause),
            breaker=(int(bv), blob) if blob else None,
            clock_offset=float(clock) - now,
        )

    def release(self, note: Note) -> None:
        if note.token:
            self._held.pop(note.token, None)
        self._notes.append(note)
        self._queued += 1
        self._wake.set()

    async def flush(self) -> None:
        target = self._queued
        async with self._progress:
            while self._applied < target and self._task is not None and not self._task.done():
                self._wake.set()
                await self._progress.wait()

    # -- the sender ----------------------------------------------------------------------------
    async def _run(self) -> None:
        renew_every = self.slot_ttl_s / 3
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + renew_every
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, renew_at - loop.time()))
            self._wake.clear()
            renew = loop.time() >= renew_at
            notes, self._notes = self._notes, []
            if notes or (renew and self._held):
                try:
                    await self._send(notes, renew=renew)
                except StorageError as exc:
                    # Kept, in order, for the next try: a note is never dropped while open.
                    log.warning("host ledger: %s; trying again", exc)
                    self._notes = notes + self._notes
                    await asyncio.sleep(RETRY_SEND_S)
                    self._wake.set()
                    continue
                async with self._progress:
                    self._applied += len(notes)
                    self._progress.notify_all()
            if renew:
                renew_at = loop.time() + renew_every
            if self._closing and not self._notes:
                return

    async def _send(self, notes: list[Note], *, renew: bool) -> None:
        assert self._release is not None
        args: list[Any] = [len(notes), _fmt(self.slot_ttl_s)]
        included: dict[str, int] = {}  # host -> pending outcomes its breaker write includes
        for note in notes:
            expected, blob = "", ""
            # One breaker write per host and batch: the snapshot is taken now, so a second
            # note for the same host would send the same state.
            if note.breaker is not None and note.host not in included:
                version, blob, included[note.host] = note.breaker()
                expected = str(version)
            args += [
                note.host,
                note.token,
                _fmt(note.pause_s),
                int(note.robots_text is not None),
                note.robots_text or "",
                note.robots_failures,
                _fmt(note.robots_wait_s),
                note.park or "",
                expected,
                blob,
            ]
        if renew:
            for token, host in self._held.items():
                args += [host, token]
        with self._errors("release"):
            self.round_trips += 1
            out = await self._release(keys=[self._prefix], args=args)
        for i in range(0, len(out), 4):
            host, landed, version, blob = out[i : i + 4]
            if self.listener is None:
                continue
            if int(landed):
                self.listener(host, int(version), None, included.get(host, 0))
            else:
                self.listener(host, int(version), blob, 0)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Any:
        from redis.exceptions import RedisError

        try:
            yield
        except (RedisError, OSError) as exc:
            raise StorageError(f"{self._url}: host ledger {what} failed: {exc}") from exc

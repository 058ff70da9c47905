"""The host ledger: per-host politeness state that every worker of a crawl shares.

The rules (breaker, throttle, robots.txt, Retry-After) are decided in :mod:`crawler.decide` and
applied by :class:`crawler.engine.hosts.HostRegistry`; a ledger only *holds* the state those rules
must agree on across workers and updates it atomically (docs/shared-politeness.md):

- in-flight slots per host, under a limit for the whole crawl; a slot names its holder and
  expires ``slot_ttl_s`` after it was last renewed, so a dead worker's slots come back;
- the host's last request start, so a spacing (the throttle's delay, ``Crawl-delay``) holds
  between any two workers' requests — GCRA with no burst allowance;
- the Retry-After pause (an until-time that only grows);
- half-open breaker probes: at most ``probe_limit`` for the whole crawl;
- the breaker itself, as a versioned blob written compare-and-set (the state machine stays in
  :mod:`crawler.decide.breaker`; the ledger never interprets the blob);
- robots.txt: one fetch in flight per host for the whole crawl, its text once known (for
  :data:`ROBOTS_MAX_AGE_S`), the failed fetches so far and when to try again, and the record of a
  host parked for the run.

Times inside a ledger are the ledger's own clock (the Redis server's ``TIME`` for
:class:`~crawler.storage.redis.hosts.RedisHostLedger`, the crawler's clock for
:class:`MemoryHostLedger`); what crosses the interface is seconds *from now*, so workers' clocks
never need to agree. Both implementations pass one contract suite
(``tests/test_host_ledger.py``).
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

__all__ = [
    "FULL_RECHECK_S",
    "PROBE_RECHECK_S",
    "ROBOTS_MAX_AGE_S",
    "ROBOTS_RECHECK_S",
    "SLOT_TTL_S",
    "Ask",
    "BreakerListener",
    "BreakerSnapshot",
    "HostLedger",
    "HostView",
    "MemoryHostLedger",
    "Note",
]

SLOT_TTL_S = 30.0  # a held slot (or robots.txt fetch) not renewed for this long is freed
ROBOTS_MAX_AGE_S = 86_400.0  # stored robots.txt rules older than this are fetched again
ROBOTS_RECHECK_S = 0.05  # while another worker fetches robots.txt, when to look again
FULL_RECHECK_S = 0.05  # every slot taken: when to look again
PROBE_RECHECK_S = 0.05  # the crawl's probe is out: when to look again

# (expected version, blob, how many pending outcomes it includes): evaluated when it is sent.
BreakerSnapshot = Callable[[], tuple[int, str, int]]
# Called after a breaker write: (host, version now stored, its blob when the write lost a race
# (then re-apply what was pending onto it) or None when the write landed, pending included).
BreakerListener = Callable[[str, int, str | None, int], None]


@dataclass(frozen=True, slots=True)
class Ask:
    """One request for a slot on ``host``."""

    host: str
    limit: int  # slots in flight on the host, crawl-wide, after which it is full
    spacing_s: float  # least time since the host's last request start (any worker's)
    probe_limit: int = 0  # > 0: the request is a breaker probe; at most this many crawl-wide
    robots: bool = False  # the asker does not know the rules: the slot fetches robots.txt
    force: bool = False  # skip the slot limit and the spacing (a redirect hop's robots.txt)
    known_version: int = 0  # breaker blob version the asker holds


@dataclass(frozen=True, slots=True)
class HostView:
    """What the ledger knows of a host, and whether the ask got a slot (``token``)."""

    host: str
    token: str | None = None  # the slot: give it back with a Note(token=...)
    wait_s: float = 0.0  # not granted: look again after this (math.inf: not in this run)
    reason: str = ""
    probe: bool = False
    robots_text: str | None = None  # the stored rules, when the asker wanted robots.txt
    robots_failures: int = 0
    robots_wait_s: float = 0.0  # robots.txt failed: retry it after this
    parked: str | None = None  # JSON of the record the host was parked with
    pause_s: float = 0.0  # Retry-After pause left
    breaker: tuple[int, str] | None = None  # (version, blob) when newer than known_version
    clock_offset: float = 0.0  # ledger clock minus the asker's clock, as seen by this call


@dataclass(frozen=True, slots=True)
class Note:
    """What a worker learnt about a host; sent in batches (``HostLedger.release``)."""

    host: str
    token: str = ""  # the slot to free ("" none); frees the host's robots.txt fetch too
    pause_s: float = 0.0  # Retry-After: no request before now + pause_s
    robots_text: str | None = None  # robots.txt fetched: the rules text ("" allows everything)
    robots_failures: int = 0  # > 0: robots.txt failed this many times in a row ...
    robots_wait_s: float = 0.0  # ... and is tried again after this
    park: str | None = None  # JSON of the record the host is parked with for the run
    breaker: BreakerSnapshot | None = None  # publish the breaker (compare-and-set)


class HostLedger(Protocol):
    """Per-host state shared by every worker of a crawl (see the module docstring)."""

    shared: bool  # True when other processes may share it (the breaker blob is published)
    listener: BreakerListener | None

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def acquire(self, ask: Ask, now: float) -> HostView:
        """Take a slot atomically when every shared guard allows, and say what is known.
        ``now`` is the asker's clock (a ledger with its own clock ignores it)."""
        ...

    def release(self, note: Note) -> None:
        """Apply ``note``: at once, or with the next batch (never dropped; in order)."""
        ...

    async def flush(self) -> None:
        """Wait until every note released so far is applied."""
        ...


@dataclass
class _Host:
    slots: dict[str, float] = field(default_factory=dict)  # token -> expiry
    probes: set[str] = field(default_factory=set)
    last_start: float | None = None
    pause_until: float = 0.0
    robots_holder: str = ""
    robots_text: str | None = None
    robots_at: float = 0.0
    robots_failures: int = 0
    robots_retry_at: float = 0.0
    parked: str | None = None
    version: int = 0
    blob: str | None = None


class MemoryHostLedger:
    """The ledger of one process (the SQLite backend): a dict, applied synchronously."""

    shared = False

    def __init__(
        self, clock: Callable[[], float] | None = None, *, slot_ttl_s: float = SLOT_TTL_S
    ) -> None:
        """``clock`` times :meth:`release` (the pause, the robots.txt retry); without one the
        time of the last :meth:`acquire` is used."""
        self._clock = clock
        self._now = 0.0
        self.slot_ttl_s = slot_ttl_s
        self.listener: BreakerListener | None = None
        self._hosts: dict[str, _Host] = {}
        self._ids = itertools.count(1)
        self._owner = uuid.uuid4().hex[:8]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def flush(self) -> None:
        return None

    def _time(self) -> float:
        return self._clock() if self._clock is not None else self._now

    def _host(self, host: str, now: float) -> _Host:
        h = self._hosts.get(host)
        if h is None:
            h = self._hosts[host] = _Host()
        if not h.slots or min(h.slots.values()) > now:
            return h
        for token in [t for t, exp in h.slots.items() if exp <= now]:
            del h.slots[token]
            h.probes.discard(token)
            if h.robots_holder == token:
                h.robots_holder = ""
        return h

    async def acquire(self, ask: Ask, now: float) -> HostView:
        self._now = now
        h = self._host(ask.host, now)
        token, wait, reason = self._decide(h, ask, now)
        known = h.robots_text if ask.robots and now - h.robots_at < ROBOTS_MAX_AGE_S else None
        return HostView(
            ask.host,
            token=token,
            wait_s=wait,
            reason=reason,
            probe=token is not None and ask.probe_limit > 0,
            robots_text=known,
            robots_failures=h.robots_failures,
            robots_wait_s=max(0.0, h.robots_retry_at - now),
            parked=h.parked,
            pause_s=max(0.0, h.pause_until - now),
            breaker=(h.version, h.blob) if h.version != ask.known_version and h.blob else None,
        )

    def _decide(self, h: _Host, ask: Ask, now: float) -> tuple[str | None, float, str]:
        """(the slot taken, or None with how long to wait and why): host_acquire.lua's order."""
        if h.parked is not None:
            return None, math.inf, "host parked"
        if ask.robots:
            if h.robots_text is not None and now - h.robots_at < ROBOTS_MAX_AGE_S:
                return None, 0.0, "robots.txt known"
            if h.robots_holder:
                return None, ROBOTS_RECHECK_S, "robots.txt is being fetched"
            if h.robots_retry_at > now:
                return None, h.robots_retry_at - now, "robots.txt failed; waiting to try again"
        if h.pause_until > now:
            return None, h.pause_until - now, "paused by Retry-After"
        if not ask.force:
            if len(h.slots) >= ask.limit:
                return None, max(FULL_RECHECK_S, ask.spacing_s), "throttle"
            if h.last_start is not None and now < h.last_start + ask.spacing_s:
                return None, h.last_start + ask.spacing_s - now, "throttle"
        if ask.probe_limit > 0 and len(h.probes) >= ask.probe_limit:
            return None, PROBE_RECHECK_S, "circuit breaker probe taken"
        token = f"{self._owner}:{next(self._ids)}"
        h.slots[token] = now + self.slot_ttl_s
        h.last_start = now
        if ask.probe_limit > 0:
            h.probes.add(token)
        if ask.robots:
            h.robots_holder = token
        return token, 0.0, ""

    def release(self, note: Note) -> None:
        now = self._time()
        h = self._host(note.host, now)
        if note.token:
            h.slots.pop(note.token, None)
            h.probes.discard(note.token)
            if h.robots_holder == note.token:
                h.robots_holder = ""
        if note.pause_s > 0:
            h.pause_until = max(h.pause_until, now + note.pause_s)
        if note.robots_text is not None:
            h.robots_text, h.robots_at = note.robots_text, now
            h.robots_failures, h.robots_retry_at, h.robots_holder = 0, 0.0, ""
        if note.robots_failures > 0:
            h.robots_failures = note.robots_failures
            h.robots_retry_at = now + note.robots_wait_s
        if note.park is not None and h.parked is None:
            h.parked = note.park
        if note.breaker is not None:
            expected, blob, included = note.breaker()
            if expected == h.version:
                h.version, h.blob = h.version + 1, blob
                if self.listener is not None:
                    self.listener(note.host, h.version, None, included)
            elif self.listener is not None:
                self.listener(note.host, h.version, h.blob, 0)

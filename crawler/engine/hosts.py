"""One state per host (``host:port``): robots.txt rules, breaker, throttle, pause, retry budget.

The registry answers the dispatcher's one question — *may this URL's host be asked now, and if
not, when?* — with an :class:`Admission` the caller owns, or a :class:`Deferral`. Every guard
(robots.txt not known yet, a Retry-After pause, the breaker, the throttle, the retry budget)
decides only *when* a URL is tried, never *whether* (docs/failure-path.md). An admission is a
taken request slot: exactly one of its ``success`` / ``failure`` / ``cancel`` is called, once.

No I/O here: fetching robots.txt is :mod:`crawler.engine.robots_gate`'s job; this module only
keeps what that fetch decided. What all workers of a crawl must agree on (slots, spacing,
pauses, the breaker, robots.txt) is also held by the crawl's host ledger
(:mod:`crawler.storage.hostledger`: this process's memory, or Redis for many workers): an
admission takes its slot there too, and :mod:`crawler.engine.host_sync` keeps the two in step
(docs/shared-politeness.md).
"""

from __future__ import annotations

import enum
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from crawler.config import Config
from crawler.decide.breaker import BreakerState, CircuitBreaker
from crawler.decide.retry import RetryBudget
from crawler.decide.throttle import Throttle
from crawler.engine.host_sync import BreakerOutcome, HostSync
from crawler.observe.events import CrawlEvents
from crawler.records import Category, FailureRecord
from crawler.storage.hostledger import Ask, HostLedger, MemoryHostLedger, Note
from crawler.web.robots import RobotsRules

__all__ = ["Admission", "Deferral", "HostRegistry", "HostState", "Purpose"]

# While robots.txt is being fetched, when the host's other URLs look again (a wake-up on the
# fetch's end comes sooner).
ROBOTS_RECHECK_S = 0.05
# An acquire that taught something new (rules, a breaker, a pause) is looked at again, at most
# this many times in one admit.
MAX_ASKS = 3


class Purpose(enum.Enum):
    """What an admitted request is for."""

    PAGE = "page"  # the leased URL itself
    ROBOTS = "robots"  # the host's robots.txt, before any page of it


@dataclass(eq=False)
class HostState:
    host: str
    breaker: CircuitBreaker
    throttle: Throttle
    robots: RobotsRules | None = None  # None: not known yet
    robots_failures: int = 0  # failed robots.txt requests in a row
    robots_retry_at: float = 0.0  # while robots.txt is failing: when to try it again
    robots_in_flight: bool = False
    last_failure: FailureRecord | None = None
    # Set when the host is done for this run (robots.txt kept failing, a Retry-After beyond
    # max_retry_after_s): the record its pending URLs go to the DLQ with.
    parked: FailureRecord | None = None
    failures: int = 0  # failed requests, for summary.breakers ("failed at least once")
    # The shared breaker (host_sync): its version here, the outcomes applied here and not yet
    # in it, and whether a write of it is under way.
    shared_version: int = 0
    pending: list[BreakerOutcome] = field(default_factory=list)
    publishing: bool = False
    # The ledger's last "not now" (host_sync): until when, and why.
    shared_until: float = 0.0
    shared_reason: str = ""

    @property
    def given_up(self) -> bool:
        return self.parked is not None or self.breaker.given_up

    @property
    def given_up_record(self) -> FailureRecord | None:
        """Why the host was given up: the parking record, else the breaker's last failure."""
        if self.parked is not None:
            return self.parked
        return self.last_failure if self.breaker.given_up else None


@dataclass(frozen=True, slots=True)
class Deferral:
    """Not now: come back at ``until`` (epoch seconds; ``math.inf``: not in this run)."""

    until: float
    reason: str


class Admission:
    """One request slot on a host, taken by :meth:`HostRegistry.admit`.

    Exactly one of :meth:`success`, :meth:`failure` and :meth:`cancel` must be called, once;
    a second call is a bug and raises ``RuntimeError``.
    """

    __slots__ = ("_registry", "_settled", "probe", "purpose", "retry", "state", "token")

    def __init__(
        self,
        registry: HostRegistry,
        state: HostState,
        *,
        purpose: Purpose,
        probe: bool,
        retry: bool,
        token: str = "",
    ) -> None:
        self._registry = registry
        self.state = state
        self.token = token  # the host ledger's slot
        self.purpose = purpose
        self.probe = probe  # a half-open breaker's probe
        self.retry = retry  # the URL failed before: this request is a retry
        self._settled = False

    @property
    def host(self) -> str:
        return self.state.host

    def _settle(self) -> None:
        if self._settled:
            raise RuntimeError(f"admission to {self.state.host} settled twice")
        self._settled = True

    def success(self, now: float, latency_s: float, *, status: int, nbytes: int) -> None:
        """The request got an answer the crawler could use (``status``, ``nbytes`` of body)."""
        self._settle()
        self._registry.release(self)
        self._registry.breaker_outcome(self.state, lambda b: b.on_success(now))
        self.state.throttle.on_done(now, latency_s=latency_s, ok=True)
        self._registry.events.request_done(self.state.host, status, None, latency_s, nbytes)

    def failure(self, now: float, record: FailureRecord, latency_s: float) -> None:
        """The request failed as ``record`` says."""
        self._settle()
        self._registry._on_failure(self.state, now, record, latency_s, first_attempt=not self.retry)
        self._registry.release(self)
        self._registry.events.request_done(
            self.state.host, record.status_code, record.category.value, latency_s, 0
        )

    def cancel(self) -> None:
        """No request went out (or its outcome is unknowable): free the slot, learn nothing."""
        self._settle()
        self._registry.release(self)
        if self.purpose is Purpose.ROBOTS:
            self.state.robots_in_flight = False  # robots.txt was not fetched on it
        self.state.breaker.on_cancel()
        self.state.throttle.on_cancel()


class HostRegistry:
    """Creates host states lazily from config and admits requests to them."""

    def __init__(
        self,
        config: Config,
        *,
        rng: random.Random,
        events: CrawlEvents,
        ledger: HostLedger | None = None,
    ) -> None:
        self._config = config
        self._rng = rng
        self.events = events
        self.budget = RetryBudget(config.retry)
        self._hosts: dict[str, HostState] = {}
        self.sync = HostSync(self, ledger or MemoryHostLedger(), config.crawl.user_agent)

    def use_ledger(self, ledger: HostLedger) -> None:
        """Keep the shared part of the host states in ``ledger`` from now on (the crawler
        opens the storage backend's: :func:`crawler.storage.host_ledger`)."""
        self.sync = HostSync(self, ledger, self._config.crawl.user_agent)

    def get(self, host: str) -> HostState:
        state = self._hosts.get(host)
        if state is None:
            cfg = self._config
            state = HostState(
                host,
                CircuitBreaker(cfg.circuit_breaker, rng=self._rng),
                Throttle(cfg.throttle, max_concurrency=cfg.crawl.per_host_concurrency),
            )
            self._hosts[host] = state
        return state

    def __iter__(self) -> Iterator[HostState]:
        return iter(self._hosts.values())

    # -- admission ----------------------------------------------------------------------------
    def wait_until(self, state: HostState, now: float, *, retry: bool = False) -> Deferral | None:
        """None when a request to the host could start now; else until when it cannot.

        Takes nothing. A given-up host answers None: its URLs go straight to the DLQ."""
        if state.given_up:
            return None
        robots = self._config.crawl.respect_robots_txt and state.robots is None
        if robots and state.robots_in_flight:
            return Deferral(now + ROBOTS_RECHECK_S, "robots.txt is being fetched")
        if robots and state.robots_retry_at > now:
            return Deferral(state.robots_retry_at, "robots.txt failed; waiting to try again")
        throttle = state.throttle
        if throttle.paused_until > now:
            return Deferral(throttle.paused_until, "paused by Retry-After")
        breaker_wait = state.breaker.wait_until(now)
        if breaker_wait is not None:
            return Deferral(breaker_wait, f"circuit breaker {state.breaker.state.value}")
        if state.shared_until > now:  # the ledger said no (other workers' slots, spacing...)
            return Deferral(state.shared_until, state.shared_reason)
        ready = throttle.ready_at(now)
        if ready is not None:
            return Deferral(ready, "throttle")
        if retry and not robots:  # the request would be for robots.txt, not a retry
            room = self.budget.room_at(state.host, now)
            if room is not None:
                return Deferral(room, "retry budget spent")
        return None

    async def admit(
        self, state: HostState, now: float, *, retry: bool, force: bool = False
    ) -> Admission | Deferral:
        """Take a request slot on the host, or say until when it cannot be had.

        The first request to a host whose robots.txt is unknown is for robots.txt itself
        (``Purpose.ROBOTS``); its other URLs wait until the rules are in. ``force`` skips the
        throttle's spacing (a redirect hop's robots.txt, fetched inside another request) but
        never a pause or an open breaker. The slot is taken in the crawl's host ledger too:
        one round trip to Redis when workers share it."""
        for _ in range(MAX_ASKS):
            deferral = self.wait_until(state, now, retry=retry)
            if deferral is not None and not (force and deferral.reason == "throttle"):
                return deferral
            probing = state.breaker.state is not BreakerState.CLOSED
            ask = Ask(
                state.host,
                limit=state.throttle.concurrency,
                spacing_s=state.throttle.delay_s,
                probe_limit=self._config.circuit_breaker.half_open_max_calls if probing else 0,
                robots=self._config.crawl.respect_robots_txt and state.robots is None,
                force=force,
                known_version=state.shared_version,
            )
            view = await self.sync.ledger.acquire(ask, now)
            changed = self.sync.learn(state, view, now)
            if view.token is not None and not changed:
                return self._admitted(state, now, retry=retry, token=view.token)
            if view.token is not None:  # what it taught may change the answer: ask again
                self.sync.ledger.release(Note(state.host, token=view.token))
            elif not changed:
                # Remembered, so the dispatcher's other questions (wait_until, blocked,
                # next_change) answer like the ledger until then, without asking it.
                state.shared_until, state.shared_reason = now + view.wait_s, view.reason
                return Deferral(state.shared_until, view.reason)
        return Deferral(now + ROBOTS_RECHECK_S, "host state changed meanwhile")

    def _admitted(
        self, state: HostState, now: float, *, retry: bool, token: str
    ) -> Admission | Deferral:
        probe = state.breaker.state is not BreakerState.CLOSED
        if state.breaker.allow(now) is not None:  # wait_until said yes: only a race says no
            self.sync.ledger.release(Note(state.host, token=token))
            return Deferral(now + ROBOTS_RECHECK_S, "circuit breaker probe taken")
        purpose = Purpose.PAGE
        if self._config.crawl.respect_robots_txt and state.robots is None:
            purpose = Purpose.ROBOTS
            state.robots_in_flight = True
        state.throttle.on_start(now)
        self.budget.record_request(state.host, now)
        is_retry = retry and purpose is Purpose.PAGE
        if is_retry:
            self.budget.spend(state.host, now)
        return Admission(self, state, purpose=purpose, probe=probe, retry=is_retry, token=token)

    def release(self, admission: Admission) -> None:
        """The admission's ledger slot is free again."""
        self.sync.ledger.release(Note(admission.state.host, token=admission.token))

    def breaker_outcome(self, state: HostState, apply: BreakerOutcome) -> None:
        """Apply an outcome to the host's breaker, and to the crawl's shared one."""
        apply(state.breaker)
        self.sync.outcome(state, apply)

    def blocked(self, now: float) -> list[str]:
        """Hosts that cannot take a new request now (paused, open, full or waiting on robots)."""
        return [
            h
            for h, s in self._hosts.items()
            if not s.given_up and self.wait_until(s, now) is not None
        ]

    # -- what fetches taught us ---------------------------------------------------------------
    def set_robots(self, state: HostState, rules: RobotsRules, text: str | None = None) -> None:
        """robots.txt was fetched here: keep ``rules``, and share ``text`` (the rules' text,
        ``""`` for allow-all) with the crawl's other workers."""
        self.install_robots(state, rules)
        if text is not None:
            self.sync.ledger.release(Note(state.host, robots_text=text))

    def robots_retry(self, state: HostState, now: float, delay_s: float) -> None:
        """robots.txt failed (``state.robots_failures`` times in a row): try again after
        ``delay_s``, whichever worker does."""
        state.robots_retry_at = now + delay_s
        note = Note(state.host, robots_failures=state.robots_failures, robots_wait_s=delay_s)
        self.sync.ledger.release(note)

    def install_robots(self, state: HostState, rules: RobotsRules) -> None:
        state.robots = rules
        state.robots_failures = 0
        state.robots_retry_at = 0.0
        delay = min(rules.crawl_delay(), self._config.crawl.max_crawl_delay_s)
        if delay > 0:
            state.throttle.set_crawl_delay(delay)

    def park(self, state: HostState, record: FailureRecord) -> None:
        """The host is done for this run: its pending URLs go to the DLQ with ``record``."""
        if state.parked is None:
            state.parked = record
            self.sync.ledger.release(Note(state.host, park=json.dumps(record.to_dict())))

    def _on_failure(
        self,
        state: HostState,
        now: float,
        record: FailureRecord,
        latency_s: float,
        *,
        first_attempt: bool,
    ) -> None:
        state.failures += 1
        state.last_failure = record
        reopen_until = None
        if record.retry_after_s is not None and record.category in (
            Category.RATE_LIMIT,
            Category.SERVER,
        ):
            # A wait beyond max_retry_after_s is the failure handler's to judge (it parks the
            # host); clamped here so no number a server sends overflows the arithmetic.
            wait = min(record.retry_after_s, self._config.retry.max_retry_after_s)
            reopen_until = now + wait
            state.throttle.pause_until(reopen_until)
            self.sync.ledger.release(Note(state.host, pause_s=wait))
            self.events.host_paused(state.host, wait)
        was_open = state.breaker.state is BreakerState.OPEN
        counts = record.counts_for_breaker
        self.breaker_outcome(
            state,
            lambda b: b.on_failure(
                now, counts=counts, first_attempt=first_attempt, reopen_until=reopen_until
            ),
        )
        state.throttle.on_done(
            now,
            latency_s=latency_s,
            ok=False,
            category=record.category,
            status=record.status_code,
        )
        if not was_open and state.breaker.state is BreakerState.OPEN:
            state.throttle.on_breaker_open()
        if state.breaker.given_up and self.sync.ledger.shared:
            # The other workers learn the breaker's verdict with the failure behind it (their
            # DLQ entries name it); here the breaker alone keeps the host given up.
            self.sync.ledger.release(Note(state.host, park=json.dumps(record.to_dict())))

    # -- views --------------------------------------------------------------------------------
    def breaker_states(self) -> dict[str, str]:
        """``summary.breakers``: every host that failed at least once → its breaker state."""
        out: dict[str, str] = {}
        for host, state in self._hosts.items():
            if state.failures or state.breaker.state is not BreakerState.CLOSED:
                out[host] = "open" if state.given_up else str(state.breaker.state.value)
        return out

    def next_change(self, now: float) -> float:
        """The earliest moment a blocked host could admit again (``math.inf``: none blocked)."""
        earliest = math.inf
        for state in self._hosts.values():
            if state.given_up:
                continue
            deferral = self.wait_until(state, now)
            if deferral is not None:
                earliest = min(earliest, deferral.until)
        return earliest

"""One state per host (``host:port``): robots.txt rules, circuit breaker, throttle, pause.

The registry answers the dispatcher's one question — *may this host be asked now, and if not, when?*
— and takes the outcome of every request back. It holds no I/O: fetching robots.txt is the crawler's
job; this module only keeps what that fetch decided.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from crawler.decide.breaker import BreakerState, CircuitBreaker
from crawler.decide.throttle import Throttle
from crawler.records import Category, FailureRecord
from crawler.web.robots import RobotsRules


@dataclass(eq=False)
class HostState:
    host: str
    breaker: CircuitBreaker
    throttle: Throttle
    robots: RobotsRules | None = None  # None: not known yet
    robots_tries: int = 0
    robots_retry_at: float = 0.0  # while robots.txt is failing: when to try it again
    robots_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_failure: FailureRecord | None = None
    gave_up: FailureRecord | None = None  # set when robots.txt kept failing: the host is done
    failures: int = 0  # failed requests, for summary.breakers ("failed at least once")

    @property
    def given_up(self) -> bool:
        return self.gave_up is not None or self.breaker.given_up

    def wait_until(self, now: float) -> float | None:
        """None when a request may start now (without taking a probe slot), else when to retry."""
        if self.given_up:
            return None  # the caller dead-letters; waiting would never end
        if self.robots is None and self.robots_retry_at > now:
            return self.robots_retry_at
        if self.breaker.state == BreakerState.OPEN and self.breaker.open_until > now:
            return self.breaker.open_until
        return self.throttle.ready_at(now)

    def admit(self, now: float) -> float | None:
        """Take a request slot now (throttle slot, half-open probe) and return None, or return
        when to come back without taking anything. Pair every admission with an outcome
        (``HostRegistry.on_success``/``on_failure``) or with :meth:`release`."""
        wait = self.wait_until(now)
        if wait is None:
            wait = self.breaker.allow(now)
        if wait is None:
            self.throttle.on_start(now)
        return wait

    def release(self) -> None:
        """Give back an admission that made no request (robots.txt said no, a deferral)."""
        self.breaker.on_cancel()
        self.throttle.on_cancel()


class HostRegistry:
    """Creates host states lazily from config; ``blocked(now)`` feeds the frontier's lease."""

    def __init__(
        self,
        make_breaker: Callable[[], CircuitBreaker],
        make_throttle: Callable[[], Throttle],
        *,
        max_crawl_delay_s: float,
    ) -> None:
        self._make_breaker = make_breaker
        self._make_throttle = make_throttle
        self._max_crawl_delay_s = max_crawl_delay_s
        self._hosts: dict[str, HostState] = {}

    def get(self, host: str) -> HostState:
        state = self._hosts.get(host)
        if state is None:
            state = HostState(host, self._make_breaker(), self._make_throttle())
            self._hosts[host] = state
        return state

    def __iter__(self) -> Iterator[HostState]:
        return iter(self._hosts.values())

    def set_robots(self, state: HostState, rules: RobotsRules) -> None:
        state.robots = rules
        state.robots_tries = 0
        state.robots_retry_at = 0.0
        delay = min(rules.crawl_delay(), self._max_crawl_delay_s)
        if delay > 0:
            state.throttle.set_crawl_delay(delay)

    def blocked(self, now: float) -> list[str]:
        """Hosts that cannot take a new request now (paused, open, full or waiting on robots)."""
        return [
            h for h, s in self._hosts.items() if not s.given_up and s.wait_until(now) is not None
        ]

    def on_success(self, state: HostState, now: float, latency_s: float) -> None:
        state.breaker.on_success(now)
        state.throttle.on_done(now, latency_s=latency_s, ok=True)

    def on_failure(
        self, state: HostState, now: float, record: FailureRecord, latency_s: float
    ) -> None:
        state.failures += 1
        state.last_failure = record
        reopen_until = None
        if record.retry_after_s is not None and record.category in (
            Category.RATE_LIMIT,
            Category.SERVER,
        ):
            reopen_until = now + record.retry_after_s
            state.throttle.pause_until(reopen_until)
        was_open = state.breaker.state == BreakerState.OPEN
        state.breaker.on_failure(now, counts=record.counts_for_breaker, reopen_until=reopen_until)
        state.throttle.on_done(
            now,
            latency_s=latency_s,
            ok=False,
            category=record.category,
            status=record.status_code,
        )
        if not was_open and state.breaker.state == BreakerState.OPEN:
            state.throttle.on_breaker_open()

    def breaker_states(self) -> dict[str, str]:
        """``summary.breakers``: every host that failed at least once → its breaker state."""
        out: dict[str, str] = {}
        for host, state in self._hosts.items():
            if state.failures or state.breaker.state != BreakerState.CLOSED:
                out[host] = "open" if state.given_up else str(state.breaker.state.value)
        return out

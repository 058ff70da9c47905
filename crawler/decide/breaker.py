"""Per-host circuit breaker: a pure state machine driven by an injected clock (``now``).

::

    CLOSED ──(failure_threshold consecutive counted failures, or failure rate ≥ threshold
    │          over ≥ min_calls calls within window_s)──► OPEN
    OPEN ──(open_until reached)──► HALF_OPEN: at most half_open_max_calls probes at once
    HALF_OPEN ──(success_threshold successful probes)──► CLOSED (cycle count reset)
    HALF_OPEN ──(a failed probe)──► OPEN for reset_timeout_s·2^(k−1) (capped, jittered)
    after max_open_cycles failed probes in a row: given_up (state stays OPEN)

Only failures with ``counts=True`` (connection failures, timeouts, 5xx, 429) move it; a 4xx
shows the host is answering and only frees a half-open probe slot.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["BreakerSection", "BreakerState", "CircuitBreaker"]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerSection(Protocol):
    """The ``[circuit_breaker]`` keys CircuitBreaker reads."""

    @property
    def failure_threshold(self) -> int: ...
    @property
    def failure_rate_threshold(self) -> float: ...
    @property
    def window_s(self) -> float: ...
    @property
    def min_calls(self) -> int: ...
    @property
    def reset_timeout_s(self) -> float: ...
    @property
    def max_reset_timeout_s(self) -> float: ...
    @property
    def half_open_max_calls(self) -> int: ...
    @property
    def success_threshold(self) -> int: ...
    @property
    def max_open_cycles(self) -> int: ...


TransitionCallback = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    """One host's breaker. ``allow(now)`` before a request; ``on_success`` / ``on_failure`` /
    ``on_cancel`` after it. The OPEN → HALF_OPEN step happens lazily on the first call at or
    after ``open_until``."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        failure_rate_threshold: float = 0.5,
        window_s: float = 60.0,
        min_calls: int = 20,
        reset_timeout_s: float = 30.0,
        max_reset_timeout_s: float = 300.0,
        half_open_max_calls: int = 1,
        success_threshold: int = 3,
        max_open_cycles: int = 3,
        jitter_ratio: float = 0.1,
        probe_wait_s: float = 1.0,
        rng: random.Random | None = None,
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.failure_rate_threshold = failure_rate_threshold
        self.window_s = window_s
        self.min_calls = min_calls
        self.reset_timeout_s = reset_timeout_s
        self.max_reset_timeout_s = max_reset_timeout_s
        self.half_open_max_calls = max(1, half_open_max_calls)
        self.success_threshold = max(1, success_threshold)
        self.max_open_cycles = max(1, max_open_cycles)
        self.jitter_ratio = jitter_ratio
        # While all probe slots are taken, when to ask again (a probe's outcome is not timed).
        self.probe_wait_s = probe_wait_s
        self.on_transition = on_transition
        self._rng = rng or random.Random()

        self.state = BreakerState.CLOSED
        self.given_up = False
        self.open_until = 0.0
        self.transitions = 0
        self.opened = 0  # times it went to OPEN, reopens included
        self.consecutive_failures = 0
        self.open_cycles = 0  # k: opens since it was last closed
        self.failed_probes = 0  # failed probes in a row
        self.probe_successes = 0
        self.probes_in_flight = 0
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed) within window_s
        self._failures_in_window = 0

    @classmethod
    def from_config(
        cls,
        section: BreakerSection,
        *,
        rng: random.Random | None = None,
        on_transition: TransitionCallback | None = None,
    ) -> CircuitBreaker:
        """Build from the ``[circuit_breaker]`` config section."""
        return cls(
            failure_threshold=section.failure_threshold,
            failure_rate_threshold=section.failure_rate_threshold,
            window_s=section.window_s,
            min_calls=section.min_calls,
            reset_timeout_s=section.reset_timeout_s,
            max_reset_timeout_s=section.max_reset_timeout_s,
            half_open_max_calls=section.half_open_max_calls,
            success_threshold=section.success_threshold,
            max_open_cycles=section.max_open_cycles,
            rng=rng,
            on_transition=on_transition,
        )

    # -- queries -------------------------------------------------------------------------------

    def allow(self, now: float) -> float | None:
        """None: a request may go now (in HALF_OPEN it takes a probe slot — report its outcome).
        Otherwise the time to come back; ``math.inf`` once the host is given up."""
        if self.given_up:
            return math.inf
        self._advance(now)
        if self.state is BreakerState.CLOSED:
            return None
        if self.state is BreakerState.OPEN:
            return self.open_until
        if self.probes_in_flight < self.half_open_max_calls:
            self.probes_in_flight += 1
            return None
        return now + self.probe_wait_s

    def failure_rate(self, now: float) -> float:
        """Share of failed calls among the counted calls within ``window_s``."""
        self._prune(now)
        return self._failures_in_window / len(self._calls) if self._calls else 0.0

    def snapshot(self, now: float) -> dict[str, Any]:
        """Plain data for the status server and the summary."""
        return {
            "state": self.state.value,
            "given_up": self.given_up,
            "open_until": self.open_until,
            "reopens_in_s": max(0.0, self.open_until - now),
            "consecutive_failures": self.consecutive_failures,
            "failure_rate": round(self.failure_rate(now), 4),
            "open_cycles": self.open_cycles,
            "opened": self.opened,
            "transitions": self.transitions,
        }

    # -- outcomes ------------------------------------------------------------------------------

    def on_success(self, now: float) -> None:
        """A request succeeded (in HALF_OPEN: a successful probe)."""
        self._advance(now)
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()
            self.failed_probes = 0
            self.probe_successes += 1
            if self.probe_successes >= self.success_threshold:
                self.open_cycles = 0
                self._reset_counts()
                self._move(BreakerState.CLOSED)
            return
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            self._record_call(now, failed=False)
        # OPEN: a late answer to a request sent before it opened; the probe decides.

    def on_failure(
        self, now: float, *, counts: bool = True, reopen_until: float | None = None
    ) -> None:
        """A failed request. ``counts=False`` (4xx): the host answered — only frees a probe slot.
        ``reopen_until`` (a Retry-After instant) keeps it open at least that long if it opens."""
        if self.given_up:
            return
        self._advance(now)
        if not counts:
            if self.state is BreakerState.HALF_OPEN:
                self._free_probe()
            return
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()
            self.failed_probes += 1
            self.probe_successes = 0
            self.open_cycles += 1
            self._open(now, reopen_until)
            if self.failed_probes >= self.max_open_cycles:
                self.given_up = True
            return
        if self.state is BreakerState.OPEN:
            # A late failure of a request sent before it opened: only a later Retry-After matters.
            if reopen_until is not None and reopen_until > self.open_until:
                self.open_until = reopen_until
            return
        self.consecutive_failures += 1
        self._record_call(now, failed=True)
        if self.consecutive_failures >= self.failure_threshold or self._rate_tripped(now):
            self.open_cycles = 1
            self._open(now, reopen_until)

    def on_cancel(self) -> None:
        """A probe that was cancelled frees its slot without counting either way."""
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()

    # -- internals -----------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if self.state is BreakerState.OPEN and not self.given_up and now >= self.open_until:
            self.probe_successes = 0
            self.probes_in_flight = 0
            self._move(BreakerState.HALF_OPEN)

    def _open(self, now: float, reopen_until: float | None) -> None:
        exponent = min(self.open_cycles - 1, 63)  # 2**63 s is past any cap; avoids overflow
        timeout = min(self.max_reset_timeout_s, self.reset_timeout_s * 2.0**exponent)
        # Jitter only lengthens, so a host is never probed before reset_timeout_s; it keeps
        # hosts that failed together from being probed in lockstep.
        timeout *= 1.0 + self._rng.uniform(0.0, self.jitter_ratio)
        self.open_until = max(now + timeout, reopen_until or 0.0)
        self.opened += 1
        self._move(BreakerState.OPEN)

    def _move(self, new: BreakerState) -> None:
        old = self.state
        self.state = new
        self.transitions += 1
        if self.on_transition is not None:
            self.on_transition(old, new)

    def _free_probe(self) -> None:
        self.probes_in_flight = max(0, self.probes_in_flight - 1)

    def _reset_counts(self) -> None:
        self.consecutive_failures = 0
        self.failed_probes = 0
        self.probe_successes = 0
        self._calls.clear()
        self._failures_in_window = 0

    def _record_call(self, now: float, *, failed: bool) -> None:
        self._calls.append((now, failed))
        self._failures_in_window += failed
        self._prune(now)

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._calls and self._calls[0][0] < cutoff:
            self._failures_in_window -= self._calls.popleft()[1]

    def _rate_tripped(self, now: float) -> bool:
        self._prune(now)
        calls = len(self._calls)
        return (
            calls >= self.min_calls
            and self._failures_in_window / calls >= self.failure_rate_threshold
        )

"""Per-host circuit breaker: a pure state machine driven by an injected clock (``now``).

::

    CLOSED ──(failure_threshold consecutive counted failures, or failure rate ≥ threshold
    │          over ≥ min_calls calls within window_s)──► OPEN
    OPEN ──(open_until reached)──► HALF_OPEN: at most half_open_max_calls probes at once
    HALF_OPEN ──(success_threshold successful probes)──► CLOSED (the episode ends)
    HALF_OPEN ──(a failed probe)──► OPEN for reset_timeout_s·2^(k−1), capped by max_open_s
    given up: max_open_cycles failed probes in a row AND no successful response from the host
              since the breaker first opened in this episode (state stays OPEN)

The breaker *pauses* a host; it gives a host up only when the host is really gone
(docs/failure-path.md, "The breaker"). A host that answered any request successfully since the
breaker first opened is alive: its probes may fail again and again (each failure lengthens the
pause, up to ``max_open_s``), but it is never given up — its URLs keep their own retries.

A host that served a page within the last ``alive_s`` seconds is *alive*. Then a run of
``failure_threshold`` failures does not open the breaker (pages are still coming back; only the
failure rate can), and a URL's failed *first* request is weak evidence that counts for nothing
(the page may be at fault, or the host flaky but alive); a failed retry still counts towards
the rate. A host that served nothing lately counts every failure, so a dead host opens after
exactly ``failure_threshold`` failures, and one that dies mid-crawl after ``alive_s`` plus that.

Only failures with ``counts=True`` (connection failures, timeouts, 5xx, 429) move it; a 4xx
shows the host is answering and only frees a half-open probe slot.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from collections.abc import Callable
from typing import Any

from crawler.config import BreakerConfig

__all__ = ["PROBE_RECHECK_S", "BreakerState", "CircuitBreaker"]

# A run of failures as long as one the host has already come back from is no evidence that it is
# down: a run must exceed RUN_TRUST_FACTOR × the longest recovered run (at most RUN_TRUST_CAP ×
# failure_threshold) to open the breaker.
RUN_TRUST_FACTOR = 2
RUN_TRUST_CAP = 10
# While every probe slot is taken, when to look again. The scheduler is woken when a request
# ends anyway; this only bounds how long a lost wake-up could delay the next probe.
PROBE_RECHECK_S = 0.05
# Calls of the failure-rate window a shared breaker keeps (export_state): bounds what each
# breaker write sends; past this many calls in window_s the rate is over the last ones.
SHARED_CALLS = 200


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TransitionCallback = Callable[[BreakerState, BreakerState], None]


class CircuitBreaker:
    """One host's breaker. ``allow(now)`` before a request; ``on_success`` / ``on_failure`` /
    ``on_cancel`` after it. The OPEN → HALF_OPEN step happens lazily on the first call at or
    after ``open_until``."""

    def __init__(
        self,
        cfg: BreakerConfig,
        *,
        rng: random.Random | None = None,
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.cfg = cfg
        self.on_transition = on_transition
        self._rng = rng or random.Random()

        self.state = BreakerState.CLOSED
        self.given_up = False
        self.open_until = 0.0
        self.transitions = 0
        self.opened = 0  # times it went to OPEN, reopens included
        self.consecutive_failures = 0
        # Failures since the last success, in any state, and the longest such run that ended in a
        # success: how long this host's failure runs get when it is flaky but alive.
        self.run = 0
        self.recovered_run = 0
        self.open_cycles = 0  # k: opens since it was last closed
        self.failed_probes = 0  # failed probes in a row
        self.probe_successes = 0
        self.probes_in_flight = 0
        # An episode runs from the first opening to the next close: was the host alive in it?
        self.alive_in_episode = False
        self.last_success_at: float | None = None
        self._calls: deque[tuple[float, bool]] = deque()  # (when, failed) within window_s
        self._failures_in_window = 0

    # -- queries -------------------------------------------------------------------------------

    @property
    def probing(self) -> bool:
        """True when the next admitted request is a half-open probe (or would be, once the
        open period ends): the caller should send the URL most likely to succeed."""
        return self.state is not BreakerState.CLOSED and not self.given_up

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
        if self.probes_in_flight < self.cfg.half_open_max_calls:
            self.probes_in_flight += 1
            return None
        return now + PROBE_RECHECK_S

    def wait_until(self, now: float) -> float | None:
        """Like :meth:`allow` but takes nothing: None when a request could go now."""
        if self.given_up:
            return math.inf
        if self.state is BreakerState.OPEN and now < self.open_until:
            return self.open_until
        # OPEN past open_until turns HALF_OPEN with no probe in flight at the next allow().
        full = self.probes_in_flight >= self.cfg.half_open_max_calls
        if self.state is BreakerState.HALF_OPEN and full:
            return now + PROBE_RECHECK_S
        return None

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
            "recovered_run": self.recovered_run,
            "failure_rate": round(self.failure_rate(now), 4),
            "open_cycles": self.open_cycles,
            "opened": self.opened,
            "transitions": self.transitions,
            "alive_in_episode": self.alive_in_episode,
        }

    def export_state(self, shift: float = 0.0) -> dict[str, Any]:
        """The breaker's state as plain data, times moved by ``shift`` seconds (into another
        clock), for workers that share one breaker (docs/shared-politeness.md). Probes in
        flight are not included: the shared store counts those itself. Only the last
        ``SHARED_CALLS`` calls of the failure-rate window are kept."""
        last = self.last_success_at
        return {
            "state": self.state.value,
            "given_up": self.given_up,
            "open_until": self.open_until + shift,
            "transitions": self.transitions,
            "opened": self.opened,
            "consecutive_failures": self.consecutive_failures,
            "run": self.run,
            "recovered_run": self.recovered_run,
            "open_cycles": self.open_cycles,
            "failed_probes": self.failed_probes,
            "probe_successes": self.probe_successes,
            "alive_in_episode": self.alive_in_episode,
            "last_success_at": None if last is None else last + shift,
            "calls": [[t + shift, int(f)] for t, f in list(self._calls)[-SHARED_CALLS:]],
        }

    def import_state(self, data: dict[str, Any], shift: float = 0.0) -> None:
        """Replace the state with ``data`` from :meth:`export_state`, times moved by ``shift``
        seconds (back into this clock). Probes in flight here are kept."""
        self.state = BreakerState(data["state"])
        self.given_up = bool(data["given_up"])
        self.open_until = float(data["open_until"]) + shift
        for name in (
            "transitions",
            "opened",
            "consecutive_failures",
            "run",
            "recovered_run",
            "open_cycles",
            "failed_probes",
            "probe_successes",
        ):
            setattr(self, name, int(data[name]))
        self.alive_in_episode = bool(data["alive_in_episode"])
        last = data["last_success_at"]
        self.last_success_at = None if last is None else float(last) + shift
        self._calls = deque((float(t) + shift, bool(f)) for t, f in data["calls"])
        self._failures_in_window = sum(f for _, f in self._calls)

    # -- outcomes ------------------------------------------------------------------------------

    def on_success(self, now: float) -> None:
        """A request succeeded (in HALF_OPEN: a successful probe)."""
        self._advance(now)
        self.last_success_at = now
        self.recovered_run = max(self.recovered_run, self.run)
        self.run = 0
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()
            self.alive_in_episode = True
            self.failed_probes = 0
            self.probe_successes += 1
            if self.probe_successes >= self.cfg.success_threshold:
                self.open_cycles = 0
                self._reset_counts()
                self._move(BreakerState.CLOSED)
            return
        if self.state is BreakerState.CLOSED:
            self.consecutive_failures = 0
            self._record_call(now, failed=False)
            return
        # OPEN: a late answer to a request sent before it opened. The host is alive.
        self.alive_in_episode = True

    def on_failure(
        self,
        now: float,
        *,
        counts: bool = True,
        first_attempt: bool = False,
        reopen_until: float | None = None,
    ) -> None:
        """A failed request. ``counts=False`` (4xx): the host answered — only frees a probe slot.
        ``first_attempt``: the URL's first request (weak evidence on a live host, see above).
        ``reopen_until`` (a Retry-After instant) keeps it open at least that long if it opens."""
        if self.given_up:
            return
        self._advance(now)
        if not counts:
            if self.state is BreakerState.HALF_OPEN:
                self._free_probe()
                self.alive_in_episode = True  # it answered
            return
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()
            self.run += 1
            self.failed_probes += 1
            if not self.alive_in_episode:
                # Nothing has come back since it opened: wait longer each time. A host that did
                # answer is only paused again (reset_timeout_s), and its successes still count.
                self.probe_successes = 0
                self.open_cycles += 1
            self._open(now, reopen_until)
            if self.failed_probes >= self.cfg.max_open_cycles and not self.alive_in_episode:
                self.given_up = True
            return
        if self.state is BreakerState.OPEN:
            self.run += 1
            # A late failure of a request sent before it opened: only a later Retry-After matters.
            if reopen_until is not None and reopen_until > self.open_until:
                self.open_until = min(reopen_until, now + self.cfg.max_open_s)
            return
        alive = self._alive(now)
        if first_attempt and alive:
            return  # weak evidence: see the module docstring
        self._record_call(now, failed=True)
        self.consecutive_failures += 1
        self.run += 1
        # A run of failures means "down" only when nothing has been served meanwhile, and only
        # when it is longer than the runs this host has already come back from.
        run_tripped = not alive and self.consecutive_failures >= self._trip_at()
        if run_tripped or self._rate_tripped(now):
            self.open_cycles = 1
            self.alive_in_episode = False
            self._open(now, reopen_until)

    def on_cancel(self) -> None:
        """A probe that was cancelled frees its slot without counting either way."""
        if self.state is BreakerState.HALF_OPEN:
            self._free_probe()

    # -- internals -----------------------------------------------------------------------------

    def _trip_at(self) -> int:
        threshold = self.cfg.failure_threshold
        trusted = min(RUN_TRUST_FACTOR * self.recovered_run, RUN_TRUST_CAP * threshold)
        return max(threshold, trusted)

    def _alive(self, now: float) -> bool:
        last = self.last_success_at
        return last is not None and now - last <= self.cfg.alive_s

    def _advance(self, now: float) -> None:
        if self.state is BreakerState.OPEN and not self.given_up and now >= self.open_until:
            self.probes_in_flight = 0
            self._move(BreakerState.HALF_OPEN)

    def _open(self, now: float, reopen_until: float | None) -> None:
        cfg = self.cfg
        exponent = min(self.open_cycles - 1, 63)  # 2**63 s is past any cap; avoids overflow
        timeout = min(cfg.max_reset_timeout_s, cfg.reset_timeout_s * 2.0**exponent)
        # Jitter only lengthens, so a host is never probed before reset_timeout_s; it keeps
        # hosts that failed together from being probed in lockstep.
        timeout *= 1.0 + self._rng.uniform(0.0, cfg.jitter_ratio)
        # max_open_s caps one open period whatever asked for it: no host stalls a crawl longer.
        wait = min(max(timeout, (reopen_until or 0.0) - now), cfg.max_open_s)
        self.open_until = now + wait
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
        self.alive_in_episode = False
        self._calls.clear()
        self._failures_in_window = 0

    def _record_call(self, now: float, *, failed: bool) -> None:
        self._calls.append((now, failed))
        self._failures_in_window += failed
        self._prune(now)

    def _prune(self, now: float) -> None:
        cutoff = now - self.cfg.window_s
        while self._calls and self._calls[0][0] < cutoff:
            self._failures_in_window -= self._calls.popleft()[1]

    def _rate_tripped(self, now: float) -> bool:
        self._prune(now)
        calls = len(self._calls)
        return (
            calls >= self.cfg.min_calls
            and self._failures_in_window / calls >= self.cfg.failure_rate_threshold
        )

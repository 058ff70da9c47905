"""Keeping this worker's host states in step with the crawl's host ledger.

:class:`~crawler.engine.hosts.HostRegistry` decides with the rules in :mod:`crawler.decide`
on its own :class:`~crawler.engine.hosts.HostState`; the ledger
(:mod:`crawler.storage.hostledger`) holds what every worker must agree on. This module moves
knowledge both ways (docs/shared-politeness.md):

- in, from every acquire: robots.txt rules another worker fetched, its robots.txt failures, a
  host parked by another worker, a Retry-After pause, and a newer breaker;
- out, from every outcome: the breaker, written compare-and-set. The outcomes applied here but
  not yet in the shared breaker are kept (``pending``); when another worker's write won the race,
  its breaker is loaded and they are applied on top of it again, so no outcome counts twice or
  not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from crawler.decide.breaker import CircuitBreaker
from crawler.records import FailureRecord
from crawler.storage.hostledger import BreakerSnapshot, HostLedger, HostView, Note
from crawler.web.robots import rules_from_text

if TYPE_CHECKING:
    from crawler.engine.hosts import HostRegistry, HostState

__all__ = ["BreakerOutcome", "HostSync"]

# A pause learnt from the ledger that ends this little later than ours is the same pause.
PAUSE_EPSILON_S = 0.001

BreakerOutcome = Callable[[CircuitBreaker], None]


class HostSync:
    """The registry's side of the ledger: what an acquire taught, what an outcome publishes."""

    def __init__(self, registry: HostRegistry, ledger: HostLedger, user_agent: str) -> None:
        self._registry = registry
        self.ledger = ledger
        self._user_agent = user_agent
        self.clock_offset = 0.0  # the ledger's clock minus ours, as of the last acquire
        ledger.listener = self._written

    def learn(self, state: HostState, view: HostView, now: float) -> bool:
        """Take in what ``view`` says of the host; True when that may change the answer."""
        changed = False
        self.clock_offset = view.clock_offset
        if view.parked is not None and state.parked is None:
            state.parked = FailureRecord.from_dict(json.loads(view.parked))
            changed = True
        if view.robots_text is not None and state.robots is None:
            self._registry.install_robots(
                state, rules_from_text(view.robots_text, self._user_agent)
            )
            changed = True
        if view.robots_failures > state.robots_failures:
            state.robots_failures = view.robots_failures
            state.robots_retry_at = max(state.robots_retry_at, now + view.robots_wait_s)
            changed = True
        paused_until = now + view.pause_s
        if view.pause_s > 0 and paused_until > state.throttle.paused_until + PAUSE_EPSILON_S:
            state.throttle.pause_until(paused_until)
            changed = True
        if view.breaker is not None and not state.publishing:
            self._load(state, *view.breaker)
            changed = True
        return changed

    def outcome(self, state: HostState, apply: BreakerOutcome) -> None:
        """``apply`` was applied to the host's breaker here: publish the breaker (shared
        ledgers only; one process has no one to tell)."""
        if not self.ledger.shared:
            return
        state.pending.append(apply)
        self.ledger.release(Note(state.host, breaker=self._snapshot(state)))

    def _snapshot(self, state: HostState) -> BreakerSnapshot:
        def take() -> tuple[int, str, int]:
            state.publishing = True
            blob = json.dumps(state.breaker.export_state(self.clock_offset), separators=(",", ":"))
            return state.shared_version, blob, len(state.pending)

        return take

    def _load(self, state: HostState, version: int, blob: str) -> None:
        state.breaker.import_state(json.loads(blob), -self.clock_offset)
        for apply in state.pending:
            apply(state.breaker)
        state.shared_version = version

    def _written(self, host: str, version: int, blob: str | None, included: int) -> None:
        state = self._registry.get(host)
        state.publishing = False
        if blob is None:  # landed, with the first ``included`` pending outcomes
            state.shared_version = max(state.shared_version, version)
            del state.pending[:included]
            return
        # Another worker wrote first: its breaker, then ours on top, and try again.
        self._load(state, version, blob)
        if state.pending:
            self.ledger.release(Note(host, breaker=self._snapshot(state)))

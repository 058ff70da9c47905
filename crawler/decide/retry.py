"""The one retry policy: whether and when to ask again, and a retry budget against retry storms.

Delays are computed by tenacity's wait strategies (``wait_exponential`` for the window,
``wait_fixed`` for the RETRY strategy); the full-jitter draw comes from an injected
``random.Random`` instead of tenacity's module-level ``random``, so tests are deterministic.
Nothing here sleeps: the crawler turns a decision into ``nack(not_before=now + delay_s)``.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from tenacity import RetryCallState, Retrying, wait_exponential, wait_fixed

from crawler.config import RetryConfig
from crawler.records import Category, FailureRecord, Strategy

__all__ = [
    "CATEGORY_MAX_RETRIES",
    "DEFAULT_STRATEGIES",
    "RetryBudget",
    "RetryDecision",
    "RetryPolicy",
    "wait_full_jitter",
]

# The defaults of docs/failure-path.md ("Taxonomy"). FALLBACK means "the rules defer to the
# analysis" (the LLM where enabled): retried with backoff only when the analysis says so.
DEFAULT_STRATEGIES: Mapping[Category, Strategy] = {
    Category.NETWORK: Strategy.EXPONENTIAL_BACKOFF,
    Category.DNS: Strategy.EXPONENTIAL_BACKOFF,
    Category.TIMEOUT: Strategy.EXPONENTIAL_BACKOFF,
    Category.TLS: Strategy.EXPONENTIAL_BACKOFF,
    Category.RATE_LIMIT: Strategy.EXPONENTIAL_BACKOFF,
    Category.SERVER: Strategy.CIRCUIT_BREAKER,
    Category.CLIENT: Strategy.FAIL_FAST,
    Category.NOT_FOUND: Strategy.FAIL_FAST,
    Category.CONTENT: Strategy.FAIL_FAST,
    Category.REDIRECT: Strategy.FAIL_FAST,
    Category.ROBOTS: Strategy.FAIL_FAST,
    Category.AUTH: Strategy.FALLBACK,
    Category.BLOCKED: Strategy.FALLBACK,
    Category.UNKNOWN: Strategy.FALLBACK,
}

# A transient TLS handshake failure is worth one more try, not max_retries of them.
CATEGORY_MAX_RETRIES: Mapping[Category, int] = {Category.TLS: 1}

# Failures of the connection itself: short base delay, the next try is usually fine.
_NETWORK_CATEGORIES = frozenset({Category.NETWORK, Category.TIMEOUT, Category.DNS})
_NO_RETRY_STRATEGIES = frozenset({Strategy.FAIL_FAST, Strategy.SKIP})


# Lower case like tenacity's own wait_* strategies, which it extends.
class wait_full_jitter(wait_exponential):
    """tenacity's ``wait_random_exponential`` ("full jitter"), drawing from an injected RNG."""

    def __init__(self, *, multiplier: float, cap: float, rng: random.Random) -> None:
        super().__init__(multiplier=multiplier, max=cap)
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        high = super().__call__(retry_state)
        return self.rng.uniform(0.0, high)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry or not; ``delay_s`` from the failure until the next attempt; ``reason`` for the log."""

    retry: bool
    delay_s: float
    reason: str


class RetryPolicy:
    """Decides, for one failure record, whether to retry and after how long.

    Hard limits always win over the analysis: ``max_retries`` (attempts ≤ max_retries + 1),
    the per-category strategy, and ``max_retry_after_s``.
    """

    def __init__(self, cfg: RetryConfig, *, rng: random.Random | None = None) -> None:
        """``cfg`` is the ``[retry]`` section; ``rng`` draws the jitter (inject it in tests)."""
        self.max_retries = cfg.max_retries
        self.respect_retry_after = cfg.respect_retry_after
        self.max_retry_after_s = cfg.max_retry_after_s
        self.retry_after_jitter_s = cfg.retry_after_jitter_s
        self.strategies: dict[Category, Strategy] = {**DEFAULT_STRATEGIES, **cfg.strategies}
        self._rng = rng or random.Random()
        self._backoff = wait_full_jitter(
            multiplier=cfg.base_delay_s, cap=cfg.max_delay_s, rng=self._rng
        )
        self._network_backoff = wait_full_jitter(
            multiplier=cfg.network_base_delay_s, cap=cfg.max_delay_s, rng=self._rng
        )
        self._constant = wait_fixed(min(cfg.base_delay_s, cfg.max_delay_s))
        # tenacity's strategies read the attempt number from a RetryCallState; one Retrying object
        # serves as its owner (nothing is ever run through it).
        self._retrying = Retrying()

    def strategy_for(self, category: Category) -> Strategy:
        """The recovery strategy of ``category`` (config override, else the documented default)."""
        return self.strategies.get(category, Strategy.EXPONENTIAL_BACKOFF)

    def max_retries_for(self, category: Category) -> int:
        """max_retries, lowered for categories worth fewer tries (a TLS handshake: one)."""
        return min(self.max_retries, CATEGORY_MAX_RETRIES.get(category, self.max_retries))

    def decide(
        self, record: FailureRecord, tries: int, *, should_retry: bool | None = None
    ) -> RetryDecision:
        """Decide after the ``tries``-th request for this URL failed (1 after the first failure).

        ``should_retry`` is the analysis' verdict: for a record the rules are certain about it
        may only turn a retry off; for an uncertain one it decides — within the limits.
        """
        category = record.category
        strategy = self.strategy_for(category)
        if strategy in _NO_RETRY_STRATEGIES:
            return RetryDecision(False, 0.0, f"strategy {strategy.value} for {category.value}")
        if should_retry is None:
            want, source = record.retryable, "classification"
        elif record.certain:
            want, source = record.retryable and should_retry, "classification and analysis"
        else:
            want, source = should_retry, "analysis"
        if not want:
            return RetryDecision(False, 0.0, f"{category.value} not retryable ({source})")
        limit = self.max_retries_for(category)
        if tries > limit:
            return RetryDecision(
                False, 0.0, f"retry limit reached: {tries} attempts, max_retries {limit}"
            )
        retry_after = record.retry_after_s if self.respect_retry_after else None
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return RetryDecision(
                False,
                0.0,
                f"Retry-After {retry_after:.0f}s exceeds max_retry_after_s "
                f"({self.max_retry_after_s:.0f}s)",
            )
        delay = self._wait(strategy, category, tries)
        reason = f"{strategy.value} for {category.value}, retry {tries} of {limit}"
        if retry_after is not None:
            # Never earlier than the server asked; the jitter spreads the hosts' waiting URLs.
            honoured = retry_after + self._rng.uniform(0.0, self.retry_after_jitter_s)
            if honoured > delay:
                delay = honoured
                reason += f", honouring Retry-After {retry_after:.0f}s"
        return RetryDecision(True, delay, reason)

    def _wait(self, strategy: Strategy, category: Category, tries: int) -> float:
        state = RetryCallState(retry_object=self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = max(1, tries)
        if strategy is Strategy.RETRY:
            return float(self._constant(state))
        backoff = self._network_backoff if category in _NETWORK_CATEGORIES else self._backoff
        return float(backoff(state))


class _WindowCount:
    """Events over a sliding window, counted in one-second buckets (memory bounded by window_s)."""

    __slots__ = ("_buckets", "total", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._buckets: deque[list[int]] = deque()  # [second, count]
        self.total = 0

    def add(self, now: float) -> None:
        second = int(now)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([second, 1])
        self.total += 1

    def prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._buckets and self._buckets[0][0] + 1 <= cutoff:
            self.total -= self._buckets.popleft()[1]

    def next_expiry(self) -> float | None:
        """When the oldest counted event leaves the window (None: nothing counted)."""
        if not self._buckets:
            return None
        return self._buckets[0][0] + 1 + self.window_s


class RetryBudget:
    """Retries per host ≤ max(min_retries, ratio × the host's requests) over a sliding window,
    so a failing site cannot cause a retry storm. It limits the *rate* of retries, never their
    number: a retry that finds the budget spent waits (:meth:`room_at` says until when) and is
    never dead-lettered for it (docs/failure-path.md, "The retry budget").

    Call :meth:`record_request` for every request made, retries included, and :meth:`spend` for
    every retry sent. ``global_max_retries`` (0: none) caps the retries of one run; once it is
    reached :meth:`room_at` answers ``math.inf`` and the crawler ends the run with the remaining
    retries left pending for the next one.
    """

    def __init__(self, cfg: RetryConfig) -> None:
        self.ratio = cfg.budget_ratio
        self.window_s = cfg.budget_window_s
        self.min_retries = cfg.budget_min_retries
        self.global_max_retries = cfg.global_max_retries
        self.spent = 0  # retries sent in all
        self.deferred = 0  # retries told to wait
        self._requests: dict[str, _WindowCount] = {}
        self._retries: dict[str, _WindowCount] = {}

    def _window(self, table: dict[str, _WindowCount], host: str, now: float) -> _WindowCount:
        window = table.get(host)
        if window is None:
            window = table[host] = _WindowCount(self.window_s)
        window.prune(now)
        return window

    def record_request(self, host: str, now: float) -> None:
        """Count one request made to ``host`` (every request, retries included)."""
        self._window(self._requests, host, now).add(now)

    def allowance(self, host: str, now: float) -> float:
        """How many retries the host may have in the current window."""
        requests = self._window(self._requests, host, now).total
        return max(float(self.min_retries), self.ratio * requests)

    @property
    def exhausted(self) -> bool:
        """True once the run's ``global_max_retries`` are spent."""
        return bool(self.global_max_retries) and self.spent >= self.global_max_retries

    def room_at(self, host: str, now: float) -> float | None:
        """None when a retry to ``host`` may go now; else the earliest time the window could
        have room again (``math.inf`` once the global cap is reached)."""
        if self.exhausted:
            return math.inf
        retries = self._window(self._retries, host, now)
        if retries.total + 1 <= self.allowance(host, now):
            return None
        expiry = retries.next_expiry()
        # No counted retry and still no room: a zero allowance; the next request earns some.
        return expiry if expiry is not None and expiry > now else now + 1.0

    def spend(self, host: str, now: float) -> None:
        """Count one retry sent to ``host`` (after :meth:`room_at` said yes)."""
        self._window(self._retries, host, now).add(now)
        self.spent += 1

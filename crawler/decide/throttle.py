"""Adaptive per-host throttling (AIMD): slow down fast, speed up slowly.

* Concurrency starts at ``initial_concurrency`` and grows by one per ``calm_interval_s`` of
  successes, up to ``max_concurrency``; it is multiplied by ``decrease_factor`` on a rate limit
  (429, 503) or when the host's breaker opens, and by ``timeout_factor`` on a timeout (floor 1).
* The delay between two request starts never goes below ``max(min_delay_s, crawl_delay_s)``
  (robots.txt ``Crawl-delay``); it rises on rate limits and on answers slower than
  ``target_latency_s``, and falls (halves) only after a calm interval of fast successes — a
  failure never lowers it.
* ``pause_until`` (a Retry-After) stops the whole host until then.

Pure: the clock is passed in; nothing sleeps. With ``enabled=False`` only ``max_concurrency``
and the crawl delay apply.
"""

from __future__ import annotations

from typing import Any

from crawler.config import ThrottleConfig
from crawler.records import Category

__all__ = ["Throttle"]

# When every slot is taken, when to look again: a slot's release is not timed here.
FULL_RECHECK_S = 0.05
# A rate limit raises the delay to at least this, so a host at delay 0 does slow down.
MIN_RATE_LIMIT_DELAY_S = 0.5
# Below this a halved delay snaps to the floor instead of creeping towards it forever.
MIN_DELAY_STEP_S = 0.01
RATE_LIMIT_STATUSES = frozenset({429, 503})


class Throttle:
    """One host's adaptive limits: ``ready_at`` before a request, then ``on_start`` and
    ``on_done`` around it."""

    def __init__(
        self, cfg: ThrottleConfig, *, max_concurrency: int, crawl_delay_s: float = 0.0
    ) -> None:
        """``cfg`` is ``[throttle]``; ``max_concurrency`` is ``[crawl] per_host_concurrency``."""
        self.max_concurrency = max(1, max_concurrency)
        self.min_delay_s = cfg.min_delay_s
        self.max_delay_s = cfg.max_delay_s
        self.calm_interval_s = cfg.calm_interval_s
        self.decrease_factor = cfg.decrease_factor
        self.timeout_factor = cfg.timeout_factor
        self.target_latency_s = cfg.target_latency_s
        self.enabled = cfg.enabled
        self.crawl_delay_s = max(0.0, crawl_delay_s)
        if self.enabled:
            self.concurrency = max(1, min(cfg.initial_concurrency, self.max_concurrency))
            self.delay_s = self._floor()
        else:
            self.concurrency = self.max_concurrency
            self.delay_s = self.crawl_delay_s
        self.in_flight = 0
        self.paused_until = 0.0
        self.last_start: float | None = None
        self.rate_limited = 0  # 429/503 answers seen (the rate-limit detector's count)
        self.last_rate_limited_at: float | None = None
        self._calm_since: float | None = None

    def _floor(self) -> float:
        if not self.enabled:
            return self.crawl_delay_s
        return max(self.min_delay_s, self.crawl_delay_s)

    def _clamp_delay(self, delay: float) -> float:
        # The crawl delay is the site's own wish: it wins over max_delay_s.
        return max(self._floor(), min(delay, self.max_delay_s))

    # -- queries -------------------------------------------------------------------------------

    def ready_at(self, now: float) -> float | None:
        """None: a request may start now. Else when to come back (pause end, delay since the
        last start, or a short recheck while every slot is taken)."""
        if now < self.paused_until:
            return self.paused_until
        if self.in_flight >= self.concurrency:
            return now + max(FULL_RECHECK_S, self.delay_s)
        if self.last_start is not None and now < self.last_start + self.delay_s:
            return self.last_start + self.delay_s
        return None

    def snapshot(self, now: float) -> dict[str, Any]:
        """Plain data for the status server's rate-limit view."""
        return {
            "concurrency": self.concurrency,
            "delay_s": self.delay_s,
            "in_flight": self.in_flight,
            "paused_for_s": max(0.0, self.paused_until - now),
            "crawl_delay_s": self.crawl_delay_s,
            "rate_limited": self.rate_limited,
            "last_rate_limited_at": self.last_rate_limited_at,
        }

    # -- events --------------------------------------------------------------------------------

    def on_start(self, now: float) -> None:
        """A request to this host starts now."""
        self.in_flight += 1
        self.last_start = now
        if self._calm_since is None:
            self._calm_since = now

    def on_done(
        self,
        now: float,
        *,
        latency_s: float,
        ok: bool,
        category: Category | None = None,
        status: int | None = None,
    ) -> None:
        """A request finished.

        Only a rate limit (category RATE_LIMIT: a 429, or a 503 that says when to come back)
        cuts the host's concurrency and raises its delay. A bare 503 is counted by the
        rate-limit detector (``rate_limited``) but, like a 500, only ends the calm: measured on
        the bench with 10 % transient 500/503/resets, cutting on every 503 held each host near two
        requests a second (2 % of the clean rate) while the server was not rate limiting at all.
        """
        self.in_flight = max(0, self.in_flight - 1)
        rate_limited = category is Category.RATE_LIMIT
        if not ok and (rate_limited or status in RATE_LIMIT_STATUSES):
            self.rate_limited += 1
            self.last_rate_limited_at = now
        if not self.enabled:
            return
        if ok:
            self._on_ok(now, latency_s)
            return
        self._calm_since = now  # a failure ends the calm; the delay never falls on one
        if rate_limited:
            self._decrease(self.decrease_factor)
            if self.decrease_factor > 0:
                raised = max(self.delay_s / self.decrease_factor, MIN_RATE_LIMIT_DELAY_S)
            else:
                raised = self.max_delay_s
            self.delay_s = self._clamp_delay(max(self.delay_s, raised))
        elif category is Category.TIMEOUT:
            self._decrease(self.timeout_factor)

    def _on_ok(self, now: float, latency_s: float) -> None:
        if latency_s > self.target_latency_s:
            # Move the delay halfway towards the observed latency (AutoThrottle-like smoothing).
            self.delay_s = self._clamp_delay(max(self.delay_s, (self.delay_s + latency_s) / 2))
            self._calm_since = now
            return
        calm_since = self._calm_since if self._calm_since is not None else now
        if now - calm_since >= self.calm_interval_s:
            self.concurrency = min(self.max_concurrency, self.concurrency + 1)
            halved = self.delay_s / 2
            self.delay_s = self._clamp_delay(halved if halved >= MIN_DELAY_STEP_S else 0.0)
            self._calm_since = now
        elif self._calm_since is None:
            self._calm_since = now

    def _decrease(self, factor: float) -> None:
        self.concurrency = max(1, int(self.concurrency * factor))

    def on_cancel(self) -> None:
        """A request was cancelled: free its slot without adapting anything."""
        self.in_flight = max(0, self.in_flight - 1)

    def on_breaker_open(self, now: float | None = None) -> None:
        """The host's breaker opened: halve (decrease_factor) its concurrency."""
        if not self.enabled:
            return
        self._decrease(self.decrease_factor)
        if now is not None:
            self._calm_since = now

    def pause_until(self, until: float) -> None:
        """Retry-After: no request to this host before ``until``."""
        self.paused_until = max(self.paused_until, until)

    def set_crawl_delay(self, seconds: float) -> None:
        """robots.txt ``Crawl-delay``: a floor on ``delay_s``."""
        self.crawl_delay_s = max(0.0, seconds)
        self.delay_s = self._clamp_delay(self.delay_s) if self.enabled else self.crawl_delay_s

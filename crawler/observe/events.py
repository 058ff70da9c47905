"""What the engine tells the observe layer, in one place: each event goes to the metrics and,
where it matters, to the degradation controller (docs/operations.md, "For the engine").

One :class:`CrawlEvents` per crawler; the engine calls it where each thing happens — a request
ended (the host's admission settles), a retry was scheduled, a host was paused by Retry-After, the
LLM was called — and reads the degradation knobs through it.
"""

from __future__ import annotations

from collections.abc import Callable

from crawler.config import Config
from crawler.observe.degradation import DegradationController
from crawler.observe.metrics import CrawlMetrics

__all__ = ["CrawlEvents"]


class CrawlEvents:
    """The metrics registry and the degradation controller of one crawler."""

    def __init__(self, config: Config, *, clock: Callable[[], float]) -> None:
        self.metrics = CrawlMetrics(max_host_labels=config.metrics.max_host_labels, clock=clock)
        self.degradation = DegradationController(config.degradation, clock=clock)

    def request_done(
        self, host: str, status: int | None, category: str | None, latency_s: float, nbytes: int
    ) -> None:
        """One request ended: ``category`` None when its answer was used (a page, robots.txt),
        else the failure's category; ``status`` None when no HTTP answer arrived."""
        self.metrics.on_response(host, status, category, latency_s, nbytes)
        self.degradation.record_request(host, category)

    def retry_scheduled(self, host: str) -> None:
        self.metrics.on_retry(host)

    def host_paused(self, host: str, seconds: float) -> None:
        self.metrics.on_retry_after_pause(host, seconds)

    # -- the LLM manager's observer (crawler.llm.manager.LLMEvents) ----------------------------
    def llm_call(self, latency_s: float, ok: bool) -> None:
        self.metrics.on_llm_call(latency_s, ok)
        self.degradation.record_llm(ok, latency_s)

    def llm_cache_hit(self) -> None:
        self.metrics.on_llm_cache_hit()

    def llm_rejected(self) -> None:
        self.metrics.on_llm_rejected()

    # -- knobs ---------------------------------------------------------------------------------
    def llm_allowed(self) -> bool:
        """False while the LLM is impaired (degraded mode): the rules decide alone."""
        return self.degradation.llm_allowed()

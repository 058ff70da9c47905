"""Run-over-run checks for scheduled crawls: each run's summary is kept, the next is compared.

At the end of ``run()`` the engine calls :func:`check_run` with the summary. It keeps the run
in the state's metadata (``run_history``, the last ``[alerts] keep_runs`` runs; ``crawler stats
--history`` prints them), compares it with the median of the earlier runs, logs a WARNING line
per alert, POSTs them to ``[alerts] webhook_url`` when one is set, and returns them for the
summary's ``alerts`` list. :func:`exit_code` gives the ``[alerts] exit_code`` a run with alerts
ends with. The checks (docs/operations.md, "Run-over-run alerts"):

- ``pages_drop``: pages stored below the median by more than ``pages_drop_pct`` %;
- ``failure_rate``: share of this run's settled URLs that went to the DLQ above
  ``error_rate_factor`` × the median (and at least ``error_rate_min``);
- ``dlq_growth``: more than ``dlq_growth`` DLQ entries added since the previous run;
- ``duration``: longer than ``duration_factor`` × the median (and a minute longer at least).

The median is over earlier runs that did work and were not stopped by a signal; a run is
compared once ``min_runs`` such runs exist. A run with nothing to do (no request made — a
resume of a finished crawl) is kept but neither checked nor used as a baseline.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from crawler.config import AlertsConfig
from crawler.observe.reports import MetaStore
from crawler.records import iso

__all__ = [
    "HISTORY_KEY",
    "Alert",
    "RunRecord",
    "check_run",
    "evaluate",
    "exit_code",
    "load_history",
]

log = logging.getLogger("crawler.alerts")

HISTORY_KEY = "run_history"
MIN_DURATION_DELTA_S = 60.0  # a run is not "slow" for being a few seconds longer than usual


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the history keeps it."""

    finished_at: str
    duration_s: float
    pages_stored: int
    pages_failed: int
    requests: int
    retries: int
    pages_ok: int
    dlq_items: int
    stopped: bool = False
    alerts: int = 0

    @property
    def failure_rate(self) -> float:
        """Share of the URLs this run settled that went to the DLQ."""
        settled = self.pages_stored + self.pages_failed
        return self.pages_failed / settled if settled else 0.0

    @property
    def idle(self) -> bool:
        return self.requests == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any], finished_at: str) -> RunRecord:
        def number(key: str) -> int:
            return int(summary.get(key, 0) or 0)

        return cls(
            finished_at=finished_at,
            duration_s=float(summary.get("duration_s", 0.0) or 0.0),
            pages_stored=number("pages_stored"),
            pages_failed=number("pages_failed"),
            requests=number("requests"),
            retries=number("retries"),
            pages_ok=number("pages_ok"),
            dlq_items=number("dlq_items"),
            stopped=bool(summary.get("stopped", False)),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord | None:
        """A stored record, or None when it is not one (written by something else)."""
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError:
            return None


@dataclass(frozen=True, slots=True)
class Alert:
    """One check that failed: ``kind``, a sentence for people, and the figures compared."""

    kind: str
    message: str
    value: float
    baseline: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(run: RunRecord, earlier: Sequence[RunRecord], cfg: AlertsConfig) -> list[Alert]:
    """The alerts ``run`` raises against ``earlier`` runs (oldest first). Pure."""
    if not cfg.enabled or run.idle:
        return []
    alerts: list[Alert] = []
    previous = earlier[-1] if earlier else None
    growth = run.dlq_items - previous.dlq_items if previous is not None else 0
    if cfg.dlq_growth and growth > cfg.dlq_growth:
        alerts.append(
            Alert(
                "dlq_growth",
                f"the DLQ grew by {growth} entries this run (limit {cfg.dlq_growth})",
                growth,
                previous.dlq_items if previous else 0,
                cfg.dlq_growth,
            )
        )
    baseline = [r for r in earlier if not r.idle and not r.stopped][-cfg.keep_runs :]
    if len(baseline) < cfg.min_runs:
        return alerts
    n = len(baseline)
    pages = statistics.median(r.pages_stored for r in baseline)
    floor = pages * (1 - cfg.pages_drop_pct / 100)
    if cfg.pages_drop_pct and not run.stopped and pages > 0 and run.pages_stored < floor:
        drop = 100 * (1 - run.pages_stored / pages)
        alerts.append(
            Alert(
                "pages_drop",
                f"stored {run.pages_stored} pages, {drop:.0f}% below the median {pages:g}"
                f" of the last {n} runs (limit {cfg.pages_drop_pct:g}%)",
                run.pages_stored,
                pages,
                floor,
            )
        )
    rate = statistics.median(r.failure_rate for r in baseline)
    limit = max(cfg.error_rate_factor * rate, cfg.error_rate_min)
    if cfg.error_rate_factor and run.failure_rate > limit:
        alerts.append(
            Alert(
                "failure_rate",
                f"{run.failure_rate:.1%} of the URLs settled went to the DLQ, against a median"
                f" of {rate:.1%} over the last {n} runs (limit {limit:.1%})",
                round(run.failure_rate, 4),
                round(rate, 4),
                round(limit, 4),
            )
        )
    duration = statistics.median(r.duration_s for r in baseline)
    slow = max(cfg.duration_factor * duration, duration + MIN_DURATION_DELTA_S)
    if cfg.duration_factor and not run.stopped and run.duration_s > slow:
        alerts.append(
            Alert(
                "duration",
                f"took {run.duration_s:.0f} s against a median of {duration:.0f} s over the"
                f" last {n} runs (limit {slow:.0f} s)",
                run.duration_s,
                duration,
                slow,
            )
        )
    return alerts


async def load_history(store: MetaStore) -> list[RunRecord]:
    """The kept runs, oldest first."""
    raw = await store.get_meta(HISTORY_KEY)
    if not isinstance(raw, list):
        return []
    runs = [RunRecord.from_dict(r) for r in raw if isinstance(r, dict)]
    return [r for r in runs if r is not None]


async def check_run(
    store: MetaStore,
    summary: Mapping[str, Any],
    cfg: AlertsConfig,
    *,
    now: float,
    session: aiohttp.ClientSession | None = None,
) -> list[Alert]:
    """Compare the run that wrote ``summary`` with the kept ones, keep it, report the alerts.

    Stages the history with ``store.set_meta`` (durable at the caller's next commit). Never
    raises for the webhook's sake: a failed POST is a WARNING line."""
    earlier = await load_history(store)
    record = RunRecord.from_summary(summary, iso(now))
    alerts = evaluate(record, earlier, cfg)
    for alert in alerts:
        log.warning("Run-over-run alert (%s): %s", alert.kind, alert.message)
    kept = [*earlier, RunRecord(**{**record.to_dict(), "alerts": len(alerts)})]
    await store.set_meta(HISTORY_KEY, [r.to_dict() for r in kept[-cfg.keep_runs :]])
    if alerts and cfg.webhook_url:
        await post_webhook(cfg, alerts, summary, session=session)
    return alerts


async def post_webhook(
    cfg: AlertsConfig,
    alerts: Sequence[Alert],
    summary: Mapping[str, Any],
    *,
    session: aiohttp.ClientSession | None = None,
) -> bool:
    """POST ``{"alerts": [...], "summary": {...}}`` to ``webhook_url``; True when it answered
    2xx. Failures are logged, never raised."""
    body = {"alerts": [a.to_dict() for a in alerts], "summary": dict(summary)}
    try:
        async with asyncio.timeout(cfg.webhook_timeout_s):
            if session is None:
                async with aiohttp.ClientSession() as own:
                    return await _post(own, cfg.webhook_url, body)
            return await _post(session, cfg.webhook_url, body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Alert webhook %s failed: %s", cfg.webhook_url, exc or type(exc).__name__)
        return False


async def _post(session: aiohttp.ClientSession, url: str, body: Any) -> bool:
    async with session.post(url, json=body) as resp:
        if resp.status >= 300:
            log.warning("Alert webhook %s answered HTTP %d", url, resp.status)
            return False
        return True


def exit_code(cfg: AlertsConfig, alerts: Sequence[Any]) -> int:
    """``[alerts] exit_code`` when the run raised alerts and one is configured, else 0."""
    return cfg.exit_code if alerts and cfg.exit_code else 0

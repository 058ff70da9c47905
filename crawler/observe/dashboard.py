"""The live dashboard: the page (``dashboard.html``, a package data file) and the JSON it polls.

The page is one self-contained HTML file — inline CSS and JavaScript, no build step, nothing
fetched from elsewhere, so it works offline. Every 2 s it reads ``/api/dashboard``, which
:func:`dashboard_view` builds from the latest snapshot and the :class:`RateSeries` the status
server samples (pages/s and errors/s over the last minutes, kept server-side so a page opened
mid-crawl shows the history too).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Any

from crawler.observe.snapshot import HostView, StatusSnapshot
from crawler.records import iso

__all__ = ["DASHBOARD_DLQ", "DASHBOARD_HOSTS", "RateSeries", "dashboard_html", "dashboard_view"]

DASHBOARD_HOSTS = 50  # host rows shown
DASHBOARD_DLQ = 20  # newest DLQ entries shown


@cache
def dashboard_html() -> str:
    """The page, read once from the package."""
    return resources.files("crawler.observe").joinpath("dashboard.html").read_text("utf-8")


class RateSeries:
    """Counter samples ``(t, pages, errors, requests)`` over the last ``history_s``; rates are
    the differences of neighbouring samples."""

    def __init__(self, history_s: float, interval_s: float) -> None:
        self.interval_s = interval_s
        self._samples: deque[tuple[float, int, int, int]] = deque(
            maxlen=max(2, math.ceil(history_s / interval_s) + 1)
        )

    def add(self, t: float, pages: int, errors: int, requests: int) -> None:
        if self._samples and t <= self._samples[-1][0]:
            return  # two samples at one instant: no rate between them
        self._samples.append((t, pages, errors, requests))

    def points(self, now: float) -> list[dict[str, float]]:
        """``t`` (seconds relative to ``now``, <= 0) and the rates since the previous sample."""
        out: list[dict[str, float]] = []
        for (t0, p0, e0, r0), (t1, p1, e1, r1) in itertools.pairwise(self._samples):
            dt = t1 - t0
            out.append(
                {
                    "t": round(t1 - now, 3),
                    "pages_per_s": round(max(0, p1 - p0) / dt, 3),
                    "errors_per_s": round(max(0, e1 - e0) / dt, 3),
                    "requests_per_s": round(max(0, r1 - r0) / dt, 3),
                }
            )
        return out


def _dlq_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    error = entry.get("error", {})
    analysis = entry.get("analysis", {})
    return {
        "id": entry.get("id"),
        "url": entry.get("url"),
        "category": error.get("category"),
        "status_code": error.get("status_code"),
        "message": str(error.get("message", ""))[:300],
        "attempts": entry.get("attempts"),
        "last_failed_at": entry.get("last_failed_at"),
        "analysis": {
            "error_type": analysis.get("error_type"),
            "severity": analysis.get("severity"),
            "description": str(analysis.get("description", ""))[:300],
            "suggested_action": analysis.get("suggested_action"),
            "source": entry.get("context", {}).get("analysis_source"),
        },
    }


def dashboard_view(
    snap: StatusSnapshot,
    rates: RateSeries,
    *,
    hosts: Sequence[HostView],
    now: float,
) -> dict[str, Any]:
    """What ``/api/dashboard`` answers. ``hosts``: the rows to show, busiest first."""
    errors = snap.errors
    return {
        "generated_at": iso(time.time()),
        "status": snap.status,
        "run": {
            "pages_ok": snap.pages_ok,
            "pages_stored": snap.pages_stored,
            "pages_failed": snap.pages_failed,
            "requests": snap.requests,
            "retries": snap.retries,
            "in_flight": snap.in_flight,
            "dlq_items": snap.dlq_items,
        },
        "frontier": snap.frontier.to_dict(),
        "rates": {"interval_s": rates.interval_s, "points": rates.points(now)},
        "hosts": [h.row() for h in hosts],
        "hosts_total": len(snap.hosts),
        "errors": {
            "total": snap.errors_total,
            "per_minute": errors.get("errors_per_minute", 0.0),
            "by_category": dict(errors.get("by_category", {})),
            "top": list(errors.get("top_errors", []))[:5],
        },
        "dlq": [_dlq_row(e) for e in reversed(list(snap.dlq_tail)[-DASHBOARD_DLQ:])],
        "llm": snap.llm.to_dict(),
        "degradation": snap.degradation_mode(),
        "system": snap.system_health(),
    }

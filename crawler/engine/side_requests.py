"""A request that is not a page of the crawl: a soft-404 probe (engine/probes.py) or a sitemap
(engine/sitemaps.py).

It is a request like any other — counted, admitted, its redirects checked, its outcome taught to
the host's breaker and throttle through its :class:`~crawler.engine.hosts.Admission` — but it is
never stored, retried or dead-lettered: what it answers is the caller's business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from crawler.config import Config
from crawler.decide.classify import classify
from crawler.engine.hosts import Admission
from crawler.errors import FetchError, HTTPStatusError
from crawler.observe.analytics import ErrorAnalytics
from crawler.records import CrawlSummary, FailureRecord
from crawler.web.fetch import Fetcher, Response

__all__ = ["side_request"]


async def side_request(
    url: str,
    admission: Admission,
    *,
    config: Config,
    fetcher: Fetcher,
    hop_check: Callable[[str], Awaitable[None]],
    counters: CrawlSummary,
    analytics: ErrorAnalytics,
    clock: Callable[[], float],
) -> Response | int | FailureRecord:
    """Fetch ``url`` on ``admission`` and settle it: the response; an ``int``, the status of an
    HTTP error answer (the host answered: a success for its breaker); or the classified
    :class:`FailureRecord` of a request that got no answer (a failure for its breaker)."""
    counters.requests += 1
    analytics.count("requests")
    started = clock()
    try:
        resp = await fetcher.fetch(url, hop_check=hop_check)
    except HTTPStatusError as exc:
        now = clock()
        admission.success(now, now - started, status=exc.status or 0, nbytes=0)
        return exc.status or 0
    except FetchError as exc:
        now = clock()
        record = classify(
            exc,
            url=url,
            host=admission.host,
            attempt=1,
            now=datetime.fromtimestamp(now, UTC),
            retry_http_codes=config.retry.retry_http_codes,
        )
        admission.failure(now, record, now - started)
        return record
    except BaseException:
        admission.cancel()
        raise
    now = clock()
    admission.success(now, now - started, status=resp.status, nbytes=len(resp.body))
    return resp

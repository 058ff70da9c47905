"""What the error API's POSTs accept: reported errors (validated) and acknowledgements (persisted).

``POST /api/errors/report`` lets a script put an error into the crawl's analytics: a JSON object
of at most ``MAX_REPORT_BYTES`` with ``message`` (required) and optionally ``category``,
``severity``, ``url``, ``host``, ``status_code`` and ``source``; anything else is refused.
``POST /api/errors/acknowledge/{id}`` hides a notification from the list; the ids are kept in
the state's metadata (``acknowledged_notifications``), so they stay hidden across restarts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crawler.records import Category, FailureRecord, Severity, iso
from crawler.web.urls import host_key, normalize

__all__ = [
    "ACK_KEY",
    "MAX_ACKS",
    "MAX_REPORT_BYTES",
    "AckStore",
    "MetaStore",
    "ReportError",
    "parse_report",
]

ACK_KEY = "acknowledged_notifications"
MAX_REPORT_BYTES = 16 * 1024
MAX_ACKS = 1000  # newest kept; notifications older than that have long left the list


class MetaStore(Protocol):
    """The part of ``crawler.storage.Storage`` that acknowledgements need."""

    async def get_meta(self, key: str) -> Any: ...
    async def set_meta(self, key: str, value: Any) -> None: ...


class ReportError(ValueError):
    """A report the API refuses; the message says why (it is sent back as the 400's body)."""


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    message: str = Field(min_length=1, max_length=2000)
    category: str = "UNKNOWN"
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    url: str = Field("", max_length=2048)
    host: str = Field("", max_length=255)
    status_code: int | None = Field(None, ge=100, le=599)
    source: str = Field("api", min_length=1, max_length=100)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in Category.__members__:
            raise ValueError(f"one of {', '.join(Category)}")
        return value


def parse_report(raw: bytes, *, now: float | None = None) -> FailureRecord:
    """The failure record of one reported error, or :class:`ReportError`."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError("the body must be a JSON object")
    if isinstance(data.get("category"), str):
        data["category"] = data["category"].upper()
    if isinstance(data.get("severity"), str):
        data["severity"] = data["severity"].lower()
    try:
        report = _Report.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ReportError(f"invalid report ({problems})") from None
    url = ""
    if report.url:
        key = normalize(report.url)
        if key is None:
            raise ReportError(f"url: not an absolute http(s) URL: {report.url!r}")
        url = key
    host = report.host or (host_key(url) if url else "")
    return FailureRecord(
        category=Category(report.category),
        severity=Severity(report.severity),
        message=f"[reported by {report.source}] {report.message}",
        url=url,
        host=host,
        status_code=report.status_code,
        timestamp=iso(time.time() if now is None else now),
    )


class AckStore:
    """Acknowledged notification ids, persisted through ``store`` (in memory without one)."""

    def __init__(self, store: MetaStore | None) -> None:
        self._store = store
        self._ids: list[str] | None = None

    async def ids(self) -> Collection[str]:
        if self._ids is None:
            stored = await self._store.get_meta(ACK_KEY) if self._store is not None else None
            self._ids = [str(i) for i in stored] if isinstance(stored, list) else []
        return frozenset(self._ids)

    async def add(self, notification: str) -> None:
        """Acknowledge one id (staged in the state; durable at the crawler's next commit)."""
        await self.ids()
        assert self._ids is not None
        if notification in self._ids:
            return
        self._ids = [*self._ids, notification][-MAX_ACKS:]
        if self._store is not None:
            await self._store.set_meta(ACK_KEY, self._ids)

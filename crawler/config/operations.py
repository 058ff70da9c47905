"""``[storage]``, ``[status]``, ``[soft404]``, ``[log]``, ``[metrics]``, ``[degradation]`` and
``[alerts]``: where state lives and how a crawl is watched."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from crawler.config.base import Section


class StorageConfig(Section):
    """``[storage]``: where the frontier, DLQ and per-host state live."""

    backend: Literal["sqlite", "redis"] = Field(
        "sqlite", description='"sqlite" (file in state_dir) or "redis" (shared by many workers)'
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="used when backend = redis; a Redis Cluster node's URL, or "
        "redis+cluster://host:port,host:port, opens the cluster (docs/redis-cluster.md)",
    )
    batch_pages: int = Field(200, ge=1, description="pages per storage transaction")
    batch_interval_s: float = Field(
        0.1, gt=0, description="seconds; longest wait before a partial batch is written"
    )
    lease_timeout_s: float = Field(
        300.0,
        gt=0,
        description="seconds; a lease not renewed by then returns to the queue (a live worker "
        "renews its leases, so only a dead or stalled worker's leases expire)",
    )
    redis_unreachable_s: float = Field(
        120.0,
        ge=0,
        description="seconds a worker waits for an unreachable or restarting Redis (retrying "
        "with a backoff up to 5 s, logged) before it gives up with an error, exit code 1",
    )
    host_slot_ttl_s: float = Field(
        30.0,
        gt=0,
        description="seconds; a host request slot or robots.txt fetch that a worker stopped "
        "renewing (it died) is freed after this (Redis; docs/shared-politeness.md)",
    )


class StatusConfig(Section):
    """``[status]``: the optional status HTTP server and its live dashboard."""

    enabled: bool = Field(
        False, description="serve the dashboard (/), /health, /api/errors/*, /dlq, /metrics"
    )
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="bind address; loopback by default, any other address needs a token",
    )
    port: int = Field(8765, ge=0, le=65535, description="TCP port; 0 = any free port")
    token: SecretStr = Field(
        SecretStr(""),
        description="bearer token: POSTs need 'Authorization: Bearer <token>' when set; "
        "required when host is not loopback (prefer CRAWLER_STATUS_TOKEN)",
    )
    sample_interval_s: float = Field(
        2.0, gt=0, description="seconds between the dashboard's rate samples"
    )
    history_s: float = Field(
        600.0, gt=0, description="seconds of pages/s and errors/s history kept for the chart"
    )

    @field_validator("token")
    @classmethod
    def _token_off_loopback(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        # host is declared first, so it is in info.data when it was valid.
        host = info.data.get("host")
        if host is not None and not is_loopback(host) and not value.get_secret_value():
            raise ValueError(
                f"a token when status.host is not a loopback address (host = {host!r}):"
                " set [status] token or CRAWLER_STATUS_TOKEN, or bind 127.0.0.1"
            )
        return value


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Soft404Config(Section):
    """``[soft404]``: "page not found" pages served with a success status (docs/blocks.md)."""

    probe: bool = Field(
        True,
        description="per host and path prefix, request one URL that cannot exist and compare "
        "the prefix's pages with its answer (one extra request per prefix, robots.txt and "
        "politeness obeyed, never stored)",
    )
    prefix_depth: int = Field(
        1, ge=0, le=8, description="path segments that make a prefix (0 = one probe per host)"
    )
    similarity: float = Field(
        0.8, gt=0, le=1, description="resemblance to the probe's answer at which a page is one"
    )


class LogConfig(Section):
    """``[log]``: logging level, format and optional file."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    format: str = Field(
        "%(asctime)s - %(name)s - %(levelname)s - %(message)s",
        min_length=1,
        description="logging format string",
    )
    file: str = Field("", description="also log to this file; empty = stderr only")

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class MetricsConfig(Section):
    """``[metrics]``: the Prometheus metrics (served at the status server's /metrics)."""

    max_host_labels: int = Field(
        50,
        ge=1,
        le=10_000,
        description="hosts labelled by name in per-host metrics; the rest are summed as 'other'",
    )
    textfile: str = Field(
        "",
        description="node_exporter textfile (.prom) written at the end of each run with the "
        "last-run metrics; empty = none",
    )


class DegradationConfig(Section):
    """``[degradation]``: the crawl-wide degraded mode (docs/operations.md)."""

    enabled: bool = Field(True, description="let the triggers below degrade the crawl")
    window_s: float = Field(
        60.0, gt=0, description="seconds; window of the error rate and the LLM checks"
    )
    min_requests: int = Field(
        50, ge=1, description="requests in the window before the error rate counts"
    )
    error_rate_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="share of requests failing with network, timeout, TLS, 5xx or 429 errors "
        "that degrades the crawl (0 < x <= 1)",
    )
    max_rss_mb: int = Field(
        0, ge=0, description="MiB; resident memory above this degrades the crawl; 0 = no limit"
    )
    concurrency_factor: float = Field(
        0.5, gt=0, le=1, description="global concurrency multiplier while degraded (0 < x <= 1)"
    )
    pause_hosts: int = Field(
        0,
        ge=0,
        description="noisiest hosts (most errors in the window) that stop leasing while degraded; "
        "0 = none (each host's own breaker and throttle already slow it)",
    )
    recover_after_s: float = Field(
        30.0, ge=0, description="seconds a trigger must stay clear before the mode is left"
    )
    llm_failure_threshold: int = Field(
        3, ge=1, description="failed LLM calls in the window that switch to rules only"
    )
    llm_latency_budget_s: float = Field(
        10.0,
        gt=0,
        description="seconds; median LLM latency over the window above this switches to rules only",
    )
    llm_min_calls: int = Field(
        3, ge=1, description="LLM calls in the window before their median latency counts"
    )
    llm_cooldown_s: float = Field(
        300.0, gt=0, description="seconds of rules only before the LLM is tried again"
    )


class AlertsConfig(Section):
    """``[alerts]``: run-over-run checks for scheduled crawls (docs/operations.md)."""

    enabled: bool = Field(True, description="compare each run with the previous ones")
    keep_runs: int = Field(
        30, ge=1, le=1000, description="run summaries kept in the state (crawler stats --history)"
    )
    min_runs: int = Field(
        3, ge=1, description="earlier runs needed before a run is compared with their median"
    )
    pages_drop_pct: float = Field(
        30.0,
        ge=0,
        le=100,
        description="percent; pages stored below the median by more than this alerts; 0 = off",
    )
    error_rate_factor: float = Field(
        3.0, ge=0, description="failure rate above this many times the median alerts; 0 = off"
    )
    error_rate_min: float = Field(
        0.05, ge=0, le=1, description="a failure rate below this never alerts (0 <= x <= 1)"
    )
    dlq_growth: int = Field(
        0, ge=0, description="DLQ entries added by one run above this alerts; 0 = off"
    )
    duration_factor: float = Field(
        3.0, ge=0, description="duration above this many times the median alerts; 0 = off"
    )
    exit_code: int = Field(
        0,
        ge=0,
        le=125,
        description="exit code of a run that raised alerts; 0 = unchanged (4..125: 1-3 are taken)",
    )
    webhook_url: str = Field(
        "", description="POST the alerts as JSON to this http(s) URL; empty = none"
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="seconds; timeout of the webhook POST")

    @field_validator("exit_code")
    @classmethod
    def _free_exit_code(cls, value: int) -> int:
        if value in (1, 2, 3):
            raise ValueError("0 or 4..125 (1, 2 and 3 already mean error, usage and lock held)")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL, or empty")
        return value

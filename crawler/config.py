"""The crawler's one configuration: ``config.toml`` + ``CRAWLER_*`` env + CLI flags → frozen models.

There is one source of defaults: the field defaults of the models below. The shipped
``config.toml`` spells every one of them out (a test asserts it parses to exactly ``Config()``).

Precedence, lowest first: model defaults, the TOML file, ``CRAWLER_<SECTION>_<KEY>`` environment
variables, then ``overrides`` (the CLI flags). Types are strict: a TOML ``"5"`` is not an ``int``,
``true`` is not an ``int``; an ``int`` is accepted where a ``float`` is expected. Every problem
becomes a :class:`~crawler.errors.ConfigError` naming the dotted key, the value and what was
expected.

Each component receives only its own section (``cfg.fetch``, ``cfg.retry``, ...).
"""

from __future__ import annotations

import ipaddress
import os
import re
import reprlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from crawler.errors import ConfigError
from crawler.records import Category, Strategy

__all__ = [
    "AlertsConfig",
    "BreakerConfig",
    "Config",
    "CrawlConfig",
    "DegradationConfig",
    "FetchConfig",
    "LLMConfig",
    "LogConfig",
    "MetricsConfig",
    "RecrawlConfig",
    "RetryConfig",
    "StatusConfig",
    "StorageConfig",
    "ThrottleConfig",
    "is_loopback",
    "load_config",
]

ENV_PREFIX = "CRAWLER_"
# Scrapy's RETRY_HTTP_CODES: the statuses worth asking again ([retry] retry_http_codes).
DEFAULT_RETRY_CODES: tuple[int, ...] = (500, 502, 503, 504, 522, 524, 408, 429)
# Limits on what a config file may be, checked before and right after parsing, so that a hostile
# or broken file ends as a ConfigError (exit 2), never as a RecursionError or a 10 MB message.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 16  # tables and arrays inside each other; the schema needs 3
MAX_SHOWN_CHARS = 200  # of a bad value, in the error message

# Host, host:port, [v6]:port or *.host; checked after lower-casing. Matching is urls.py's job.
_DOMAIN_RE = re.compile(r"^(\*\.)?([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:(\d{1,5}))?$")


class _Section(BaseModel):
    """Shared model settings: frozen, no unknown keys, no type coercion, finite floats only."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )


class CrawlConfig(_Section):
    """``[crawl]``: what to crawl, how deep and how many pages, and where state and output go."""

    max_pages: int = Field(
        1000, ge=0, description="pages to store in the state dir, resumes included; 0 = no limit"
    )
    max_depth: int = Field(
        5, ge=0, description="seeds are depth 0; pages of depth <= max_depth are fetched"
    )
    allowed_domains: list[str] = Field(
        default_factory=list,
        description='extra hosts in scope besides the seeds\' host:port: "example.com" = that host '
        'on any port, "example.com:8080" = that port only, "*.example.com" = it and its '
        "subdomains",
    )
    include: list[str] = Field(
        default_factory=list,
        description="regexes (re.search on the absolute URL); if any, a URL must match one",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="regexes (re.search on the absolute URL); a match drops the URL (wins over "
        "include)",
    )
    respect_robots_txt: bool = Field(True, description="obey robots.txt (RFC 9309)")
    max_crawl_delay_s: float = Field(
        10.0, ge=0, description="seconds; cap on a robots.txt Crawl-delay"
    )
    concurrency: int = Field(16, ge=1, le=1024, description="requests in flight, all hosts")
    per_host_concurrency: int = Field(
        4, ge=1, le=256, description="requests in flight to one host:port"
    )
    user_agent: str = Field(
        "adaptive-crawler/0.1 (+https://github.com/adaptive-crawler/adaptive-crawler)",
        min_length=1,
        description="User-Agent header, also the robots.txt agent",
    )
    state_dir: str = Field(
        ".crawler-state", min_length=1, description="directory of the frontier, DLQ and lock"
    )
    out: str = Field("", description="results JSONL path; empty = <state_dir>/results.jsonl")
    summary_json: str = Field("", description="summary JSON path; empty = <state_dir>/summary.json")
    target_data: dict[str, str] = Field(
        default_factory=dict,
        description='field name -> CSS selector, extracted into each record\'s "data"',
    )
    recrawl: bool = Field(
        False,
        description="a rerun revisits the stored pages that are due ([recrawl]; "
        "docs/recrawl.md); crawler run --recrawl sets it",
    )

    @field_validator("allowed_domains", mode="before")
    @classmethod
    def _lower_domains(cls, value: object) -> object:
        if isinstance(value, list):
            return [v.strip().lower() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("allowed_domains")
    @classmethod
    def _check_domains(cls, value: list[str]) -> list[str]:
        for entry in value:
            match = _DOMAIN_RE.match(entry)
            port = match.group(5) if match else None
            if match is None or (port is not None and not 0 < int(port) <= 65535):
                raise ValueError(
                    f'host, host:port or "*.host" without scheme or path (bad entry {entry!r})'
                )
        return value

    @field_validator("include", "exclude")
    @classmethod
    def _check_regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"valid regular expressions ({pattern!r} does not compile: {exc})"
                ) from exc
        return value

    @field_validator("target_data")
    @classmethod
    def _check_selectors(cls, value: dict[str, str]) -> dict[str, str]:
        import soupsieve  # only a job with target_data pays for it

        for name, selector in value.items():
            try:
                soupsieve.compile(selector)
            except (soupsieve.SelectorSyntaxError, NotImplementedError) as exc:
                # soupsieve raises NotImplementedError for pseudo-elements such as "p::before".
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"valid CSS selectors ({name} = {selector!r}: {first})") from exc
        return value

    @property
    def out_path(self) -> Path:
        """Where results go: ``out``, or ``<state_dir>/results.jsonl`` when it is empty."""
        return Path(self.out) if self.out else Path(self.state_dir) / "results.jsonl"

    @property
    def summary_path(self) -> Path:
        """Where the summary goes: ``summary_json``, or ``<state_dir>/summary.json``."""
        return (
            Path(self.summary_json) if self.summary_json else Path(self.state_dir) / "summary.json"
        )


class FetchConfig(_Section):
    """``[fetch]``: limits on one HTTP exchange."""

    connect_timeout_s: float = Field(10.0, gt=0, description="seconds to open a connection")
    read_timeout_s: float = Field(
        30.0, gt=0, description="seconds; longest silence allowed between bytes"
    )
    total_timeout_s: float = Field(30.0, gt=0, description="seconds; cap on one whole request")
    max_response_bytes: int = Field(
        10_485_760, gt=0, description="bytes; cap on the decoded body (larger → CONTENT)"
    )
    max_redirects: int = Field(10, ge=0, description="redirect hops followed (more → REDIRECT)")
    allowed_content_types: list[str] = Field(
        default_factory=list,
        description='media-type prefixes stored, e.g. "text/html"; empty = any type',
    )
    block_markers: list[str] = Field(
        default_factory=list,
        description="your own case-insensitive phrases that mark a block page when they are in "
        "its title or visible text (→ BLOCKED), besides the built-in vendor fingerprints and "
        "phrase sets (docs/blocks.md)",
    )

    @field_validator("allowed_content_types", "block_markers", mode="before")
    @classmethod
    def _lower_all(cls, value: object) -> object:
        # Matching is against lower-cased text, so store the markers lower-cased once.
        if isinstance(value, list):
            return [v.lower() if isinstance(v, str) else v for v in value]
        return value


class RetryConfig(_Section):
    """``[retry]``: backoff, Retry-After and the retry budget."""

    max_retries: int = Field(3, ge=0, le=100, description="retries per URL after the first try")
    base_delay_s: float = Field(
        1.0, ge=0, description="seconds; backoff = base_delay_s * 2**retry, full jitter"
    )
    network_base_delay_s: float = Field(
        0.1, ge=0, description="seconds; base delay for connection-level failures"
    )
    max_delay_s: float = Field(20.0, ge=0, description="seconds; cap on one backoff delay")
    respect_retry_after: bool = Field(True, description="wait at least a server's Retry-After")
    max_retry_after_s: float = Field(
        120.0, ge=0, description="seconds; a longer Retry-After sends the URL to the DLQ"
    )
    retry_after_jitter_s: float = Field(
        0.25, ge=0, description="seconds; random extra wait after a Retry-After"
    )
    budget_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="retries <= this share of a host's requests per window; a retry beyond it "
        "waits, it is never dropped",
    )
    budget_window_s: float = Field(10.0, gt=0, description="seconds; window of the retry budget")
    budget_min_retries: int = Field(
        50,
        ge=1,
        description="retries always allowed per host per window (at least 1, so a waiting retry "
        "always gets its turn)",
    )
    global_max_retries: int = Field(
        0, ge=0, description="retries in the whole run; 0 = no global cap"
    )
    retry_http_codes: list[int] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_CODES),
        description="HTTP statuses that are retried",
    )
    strategies: dict[Category, Strategy] = Field(
        default_factory=dict,
        description="per-category recovery strategy override, e.g. { SERVER = "
        '"FAIL_FAST" }; keys: categories, values: RETRY, EXPONENTIAL_BACKOFF, CIRCUIT_BREAKER, '
        "FALLBACK, SKIP, FAIL_FAST",
    )

    @field_validator("retry_http_codes")
    @classmethod
    def _check_codes(cls, value: list[int]) -> list[int]:
        bad = [code for code in value if not 100 <= code <= 599]
        if bad:
            raise ValueError(f"HTTP status codes 100..599 (bad: {bad})")
        return value

    @field_validator("strategies", mode="before")
    @classmethod
    def _parse_strategies(cls, value: object) -> object:
        # TOML gives strings; strict mode wants the enums, so convert here with a clear message.
        if not isinstance(value, dict):
            return value
        parsed: dict[Category, Strategy] = {}
        for name, strategy in value.items():
            if not isinstance(name, str) or name.upper() not in Category.__members__:
                raise ValueError(
                    f"category names as keys ({name!r} is not one of: {', '.join(Category)})"
                )
            if not isinstance(strategy, str) or strategy.upper() not in Strategy.__members__:
                raise ValueError(
                    f"strategy names as values ({name} = {strategy!r} is not one of: "
                    f"{', '.join(Strategy)})"
                )
            parsed[Category(name.upper())] = Strategy(strategy.upper())
        return parsed


class BreakerConfig(_Section):
    """``[circuit_breaker]``: per ``host:port`` breaker."""

    failure_threshold: int = Field(
        5, ge=1, description="consecutive counted failures that open the breaker"
    )
    failure_rate_threshold: float = Field(
        0.8, gt=0, le=1, description="failure share over window_s that opens it (0 < x <= 1)"
    )
    window_s: float = Field(60.0, gt=0, description="seconds; window of the failure rate")
    min_calls: int = Field(20, ge=1, description="calls in the window before the rate counts")
    reset_timeout_s: float = Field(10.0, gt=0, description="seconds open before a half-open probe")
    max_reset_timeout_s: float = Field(
        300.0, gt=0, description="seconds; cap as the reset timeout doubles after failed probes"
    )
    half_open_max_calls: int = Field(1, ge=1, description="probe requests allowed while half-open")
    success_threshold: int = Field(
        3, ge=1, description="successes while half-open that close the breaker"
    )
    max_open_cycles: int = Field(
        3,
        ge=1,
        description="failed probes in a row, with no successful response since the breaker "
        "first opened, before the host is given up (→ DLQ)",
    )
    max_open_s: float = Field(
        30.0, gt=0, description="seconds; cap on one open period, Retry-After included"
    )
    alive_s: float = Field(
        2.0,
        gt=0,
        description="seconds after a page was served during which the host counts as alive: "
        "a run of failures does not open its breaker and a URL's failed first request does "
        "not count",
    )
    jitter_ratio: float = Field(
        0.1, ge=0, le=1, description="open periods are lengthened by up to this share at random"
    )


class ThrottleConfig(_Section):
    """``[throttle]``: adaptive per-host delay and concurrency (slow down fast, speed up slowly)."""

    enabled: bool = Field(True, description="adapt delay and concurrency per host")
    initial_concurrency: int = Field(
        2, ge=1, description="starting requests in flight per host (<= per_host_concurrency)"
    )
    min_delay_s: float = Field(0.0, ge=0, description="seconds; least delay between requests")
    max_delay_s: float = Field(30.0, ge=0, description="seconds; most delay between requests")
    calm_interval_s: float = Field(
        5.0, gt=0, description="seconds without trouble before speeding up one step"
    )
    decrease_factor: float = Field(
        0.5, gt=0, lt=1, description="concurrency multiplier on 429/503 (0 < x < 1)"
    )
    timeout_factor: float = Field(
        0.9, gt=0, le=1, description="concurrency multiplier on a timeout (0 < x <= 1)"
    )
    target_latency_s: float = Field(
        2.0, gt=0, description="seconds; slower responses slow the host down"
    )

    @field_validator("max_delay_s")
    @classmethod
    def _check_delays(cls, value: float, info: ValidationInfo) -> float:
        # min_delay_s is declared first, so it is already in info.data when it was valid.
        min_delay = info.data.get("min_delay_s")
        if min_delay is not None and value < min_delay:
            raise ValueError(f"a value >= throttle.min_delay_s ({min_delay})")
        return value


class LLMConfig(_Section):
    """``[llm]``: the OpenAI-compatible endpoint that advises on uncertain failures."""

    enabled: bool = Field(True, description="ask the LLM where the rules are unsure")
    base_url: str = Field(
        "", description='OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8080/v1"; empty = off'
    )
    model: str = Field("", description="model name sent to the endpoint; empty = off")
    api_key: SecretStr = Field(
        SecretStr(""), description="literal API key (prefer api_key_env); never logged"
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="environment variable holding the key when api_key is empty"
    )
    timeout_s: float = Field(10.0, gt=0, description="seconds; timeout of one LLM request")
    max_retries: int = Field(1, ge=0, le=10, description="retries of one LLM request")
    max_calls_per_run: int = Field(
        50, ge=0, description="LLM requests per run; then the rules stand in"
    )
    breaker_failure_threshold: int = Field(
        3, ge=1, description="consecutive LLM failures that open its breaker"
    )
    breaker_reset_s: float = Field(60.0, gt=0, description="seconds the LLM breaker stays open")
    structured_output: bool = Field(
        True, description="ask for JSON-schema structured output (off for servers without it)"
    )
    max_excerpt_chars: int = Field(
        2000, ge=0, description="characters of page / error text put into a prompt"
    )
    provider: Literal["endpoint", "local"] = Field(
        "endpoint",
        description='"endpoint" = base_url and model; "local" = start the bundled small model '
        "(local-llm extra) and use it",
    )
    judge_pages: Literal["auto", "on", "off"] = Field(
        "auto",
        description="ask the LLM about the page verdicts the rules are unsure of; auto = yes for "
        "an endpoint, no for the bundled local model (measured worse than the rules there: "
        "docs/blocks.md)",
    )

    @property
    def configured(self) -> bool:
        """True when the LLM is enabled and has an endpoint and a model."""
        return self.enabled and bool(self.base_url) and bool(self.model)

    def resolved_api_key(self, env: Mapping[str, str] | None = None) -> str:
        """The key to send: ``api_key`` if set, else the variable named by ``api_key_env``.

        Empty when neither is set (local servers such as llama.cpp or Ollama need none).
        """
        literal = self.api_key.get_secret_value()
        if literal:
            return literal
        source = os.environ if env is None else env
        return source.get(self.api_key_env, "") if self.api_key_env else ""


class StorageConfig(_Section):
    """``[storage]``: where the frontier, DLQ and per-host state live."""

    backend: Literal["sqlite", "redis"] = Field(
        "sqlite", description='"sqlite" (file in state_dir) or "redis" (shared by many workers)'
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="used when backend = redis")
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


class StatusConfig(_Section):
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


class Soft404Config(_Section):
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


class LogConfig(_Section):
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


class MetricsConfig(_Section):
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


class DegradationConfig(_Section):
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


class AlertsConfig(_Section):
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


class RecrawlConfig(_Section):
    """``[recrawl]``: revisits of stored pages, change detection, sitemaps (docs/recrawl.md).
    Used when ``[crawl] recrawl`` is on (validators and digests are recorded on every run)."""

    min_interval_s: float = Field(
        3600.0, ge=0, description="seconds; shortest revisit interval a page adapts to"
    )
    max_interval_s: float = Field(
        2_592_000.0, gt=0, description="seconds; longest revisit interval (30 days)"
    )
    initial_interval_s: float = Field(
        86_400.0, ge=0, description="seconds; a new page's interval (clamped to min..max)"
    )
    grow_factor: float = Field(
        1.4, ge=1, le=10, description="interval multiplier when a revisit finds no change"
    )
    shrink_factor: float = Field(
        0.8, gt=0, le=1, description="interval multiplier when a revisit finds a change"
    )
    intervals: dict[str, float] = Field(
        default_factory=dict,
        description='fixed intervals by URL regex (re.search, first match wins), e.g. { "/news/" '
        "= 3600.0 }; not adapted, not clamped",
    )
    schedule_slack_s: float = Field(
        600.0,
        ge=0,
        description="seconds; a page due this soon after a run starts is revisited by that run "
        "(cron start times drift)",
    )
    unchanged_lines: bool = Field(
        False,
        description='write a short line ({"url", ..., "change": "unchanged"}) per unchanged page',
    )
    digest_builtin: bool = Field(
        True,
        description="the content digest ignores times, dates with times, relative times, "
        "view/like counters and long random tokens (docs/recrawl.md)",
    )
    digest_ignore: list[str] = Field(
        default_factory=list,
        description="more regexes whose matches the content digest ignores (re.sub on the "
        "visible text and links)",
    )
    audit_every: int = Field(
        8,
        ge=0,
        description="every Nth revisit of a page is sent without validators, to check that the "
        "host's 304s are honest; 0 = never",
    )
    sitemaps: bool = Field(
        True, description="read the hosts' sitemaps (robots.txt Sitemap: lines, else /sitemap.xml)"
    )
    sitemap_max_files: int = Field(
        20, ge=1, le=10_000, description="sitemap files (index children included) per host per run"
    )
    sitemap_max_bytes: int = Field(
        52_428_800, gt=0, description="bytes; cap on one sitemap, uncompressed (gzip included)"
    )
    sitemap_max_urls: int = Field(
        50_000, ge=1, description="entries read from one sitemap file (the protocol's limit)"
    )
    hint_min_samples: int = Field(
        5, ge=1, description="checked hints (lastmod, validators) before a host's are judged"
    )
    hint_min_accuracy: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of a host's hints that must have predicted change correctly; below "
        "it the host's hints are ignored",
    )
    robots_max_age_s: float = Field(
        86_400.0, gt=0, description="seconds; robots.txt rules older than this are fetched again"
    )

    @field_validator("intervals")
    @classmethod
    def _check_intervals(cls, value: dict[str, float]) -> dict[str, float]:
        for pattern, seconds in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regexes as keys ({pattern!r}: {exc})") from None
            if seconds < 0:
                raise ValueError(f"seconds >= 0 as values ({pattern!r} = {seconds})")
        return value

    @field_validator("digest_ignore")
    @classmethod
    def _check_ignore(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regexes ({pattern!r}: {exc})") from None
        return value

    @field_validator("max_interval_s")
    @classmethod
    def _max_over_min(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("min_interval_s")
        if isinstance(low, int | float) and value < low:
            raise ValueError(f"at least min_interval_s ({low})")
        return value


class Config(_Section):
    """The whole configuration: one frozen model per TOML table."""

    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit_breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    throttle: ThrottleConfig = Field(default_factory=ThrottleConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    degradation: DegradationConfig = Field(default_factory=DegradationConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    soft404: Soft404Config = Field(default_factory=Soft404Config)
    recrawl: RecrawlConfig = Field(default_factory=RecrawlConfig)


def _sections() -> dict[str, type[_Section]]:
    """Section name → model class, in declaration order."""
    out: dict[str, type[_Section]] = {}
    for name, info in Config.model_fields.items():
        model = info.annotation
        assert isinstance(model, type)
        assert issubclass(model, _Section)
        out[name] = model
    return out


SECTIONS: Mapping[str, type[_Section]] = _sections()


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the validated configuration.

    ``path``: a TOML file (``None`` = built-in defaults, identical to the shipped ``config.toml``).
    ``env`` (default ``os.environ``): ``CRAWLER_<SECTION>_<KEY>`` sets ``section.key``; the value
    is parsed as a TOML value (``5``, ``true``, ``["a"]``) unless the key holds a string, where it
    is taken literally. Variables whose name starts with no known section are ignored.
    ``overrides``: dotted keys from CLI flags, e.g. ``{"crawl.max_pages": 5}``, applied last;
    ``None`` values are skipped (a flag that was not given).

    Raises :class:`ConfigError` for an unreadable file, invalid TOML, unknown sections or keys,
    wrong types and out-of-range values.
    """
    data: dict[str, Any] = _read_toml(Path(path)) if path is not None else {}
    _check_depth(data, str(path))
    for dotted, value in _env_settings(os.environ if env is None else env).items():
        _set(data, dotted, value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _check_key(dotted, value)
            _set(data, dotted, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError("config file", str(path), f"a readable TOML file ({reason})") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "config file", str(path), f"a TOML file of at most {MAX_CONFIG_BYTES} bytes"
        )
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.end]
        raise ConfigError(str(path), bad, f"valid TOML: not UTF-8 ({exc})") from exc
    except RecursionError as exc:  # tomllib recurses once per nested array or inline table
        raise ConfigError(
            str(path), _Shown("..."), f"valid TOML nested at most {MAX_CONFIG_DEPTH} levels deep"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        # The offending line is the most useful "value" a person can look at.
        line_match = re.search(r"at line (\d+)", str(exc))
        lines = raw.decode("utf-8").splitlines()
        value: object = None
        if line_match and 0 < int(line_match.group(1)) <= len(lines):
            value = _shown(lines[int(line_match.group(1)) - 1])
        raise ConfigError(str(path), value, f"valid TOML: {exc}") from exc


def _check_depth(data: dict[str, Any], source: str) -> None:
    """Refuse tables or arrays nested deeper than MAX_CONFIG_DEPTH (walked without recursion:
    ``[a.a.a…]`` headers build a deep dict that tomllib parses without recursing)."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, key, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            where = key[:MAX_SHOWN_CHARS] or source
            raise ConfigError(
                where, _Shown("..."), f"at most {MAX_CONFIG_DEPTH} nested tables or arrays"
            )
        if isinstance(value, dict):
            for name, item in value.items():
                stack.append((item, f"{key}.{name}" if key else str(name), depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{key}[{index}]", depth + 1))


class _Shown:
    """A value as the error message shows it: ``repr`` is this text, unquoted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = MAX_SHOWN_CHARS
_REPR.maxother = MAX_SHOWN_CHARS
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 8


def _shown(value: object) -> object:
    """``value`` itself when it is small, else a bounded stand-in for the error message: a bad
    value of 10 MB (or 2,000 levels) must not become a 10 MB (or recursing) message."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str | bytes) and len(value) <= MAX_SHOWN_CHARS:
        return value
    try:
        if len(repr(value)) <= MAX_SHOWN_CHARS:
            return value
        return _Shown(_REPR.repr(value))
    except RecursionError:
        return _Shown(f"<{type(value).__name__}>")


def _is_text_field(section: str, key: str) -> bool:
    """Whether an env value for this key is taken literally instead of parsed as TOML."""
    annotation = SECTIONS[section].model_fields[key].annotation
    return annotation in (str, SecretStr) or get_origin(annotation) is Literal


def _env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``CRAWLER_<SECTION>_<KEY>`` variables → ``{"section.key": value}``."""
    found: dict[str, Any] = {}
    # Longest section first so a prefix of another section name never wins.
    sections = sorted(SECTIONS, key=len, reverse=True)
    for name, raw in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not ours (e.g. CRAWLER_HOME of some wrapper script)
        key = rest[len(section) + 1 :]
        if key not in SECTIONS[section].model_fields:
            shown = (
                "<redacted>" if "KEY" in name.upper() or "TOKEN" in name.upper() else _shown(raw)
            )
            raise ConfigError(name, shown, f"one of: {_known_keys(section, env_style=True)}")
        found[f"{section}.{key}"] = raw if _is_text_field(section, key) else _parse_env(raw)
    return found


def _parse_env(raw: str) -> object:
    """A TOML value if ``raw`` is one (``5``, ``1.5``, ``true``, ``["a"]``), else the string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return raw


def _known_keys(section: str, *, env_style: bool = False) -> str:
    keys = list(SECTIONS[section].model_fields)
    if env_style:
        return ", ".join(f"{ENV_PREFIX}{section}_{k}".upper() for k in keys)
    return ", ".join(keys)


def _check_key(dotted: str, value: object) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ConfigError(
            dotted, _shown(value), f"a key in one of the sections: {', '.join(SECTIONS)}"
        )
    if key not in SECTIONS[section].model_fields:
        raise ConfigError(dotted, _shown(value), f"one of: {_known_keys(section)}")


def _set(data: dict[str, Any], dotted: str, value: object) -> None:
    section, _, key = dotted.partition(".")
    table = data.setdefault(section, {})
    if isinstance(table, dict):
        table[key] = value
    # Otherwise the file holds a non-table there; validation reports that key.


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else part
    return out


def _expected(error: Mapping[str, Any]) -> str:
    loc = error["loc"]
    kind = error["type"]
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return f"a section, one of: {', '.join(SECTIONS)}"
        return f"one of: {_known_keys(str(loc[0]))}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and len(loc) == 1:
        return "a TOML table"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "assertion_error":
        return str(error["msg"])
    return str(error["msg"]).removeprefix("Input should be ")


def _translate(exc: ValidationError) -> ConfigError:
    """First validation error → ConfigError; the rest are appended to ``expected``."""
    errors = exc.errors()
    first = errors[0]
    key = _dotted(first["loc"])[:MAX_SHOWN_CHARS]
    value = "<redacted>" if key.endswith(("api_key", "token")) else _shown(first.get("input"))
    expected = _expected(first)
    if len(errors) > 1:
        rest = "; ".join(f"{_dotted(e['loc'])}: {_expected(e)}" for e in errors[1:6])
        more = f"; and {len(errors) - 6} more" if len(errors) > 6 else ""
        expected += f" (also: {rest}{more})"
    if len(expected) > 5 * MAX_SHOWN_CHARS:
        expected = expected[: 5 * MAX_SHOWN_CHARS - 1] + "…"
    return ConfigError(key, value, expected)

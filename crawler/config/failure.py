"""``[retry]``, ``[circuit_breaker]``, ``[throttle]`` and ``[llm]``: the failure path's settings
(docs/failure-path.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from crawler.config.base import DEFAULT_RETRY_CODES, Section
from crawler.records import Category, Strategy


class RetryConfig(Section):
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


class BreakerConfig(Section):
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


class ThrottleConfig(Section):
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


class LLMConfig(Section):
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

"""The rule-based analyser: a failure record → its analysis (docs/failure-path.md), without any LLM.

It stands in whenever the LLM manager is disabled, unconfigured, over budget or failing, and it
decides alone where the classification is certain. The LLM manager serves the same
:class:`Analyser` interface.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from crawler.decide.classify import category_rule, failure_from_dict
from crawler.records import Action, Analysis, Category, FailureRecord, Severity

__all__ = ["RECOVERY_STEPS", "Analyser", "RuleAnalyser"]

log = logging.getLogger(__name__)

_MAX_DESCRIBED_MESSAGE = 200


class Analyser(Protocol):
    """Anything that can analyse an error: the rules here, or the LLM manager."""

    async def analyze_error(
        self, model: str, error_message: str, context: Mapping[str, Any] | None = None
    ) -> Analysis: ...


# What a person can do about each category. "{host}", "{url}" and "{status}" are filled in.
RECOVERY_STEPS: Mapping[str, tuple[str, ...]] = {
    "NETWORK": (
        "Check that {host} is up and accepts connections on its port",
        "Retry later; the crawler backs off and the host's circuit breaker limits the damage",
        "If it persists, check proxies, firewalls and network routes between here and {host}",
    ),
    "DNS": (
        "Check the spelling of the host name in {url}",
        "Resolve {host} by hand (dig / nslookup) to see whether the name exists",
        "Remove the seed or link if the domain no longer exists",
    ),
    "DNS_TEMPORARY": (
        "Check that this machine's DNS resolver is reachable and healthy",
        "Retry later; the failure looked temporary",
    ),
    "TIMEOUT": (
        "Measure how long {url} takes to answer (e.g. time curl -o /dev/null {url})",
        "Raise [fetch] read_timeout_s or total_timeout_s if the host is just slow",
        "Lower per-host concurrency so the host is not overloaded",
    ),
    "TLS": (
        "Inspect the certificate of {host} (openssl s_client -connect {host})",
        "Ask the site owner to renew or fix the certificate chain",
        "Drop the host from the crawl until its certificate is valid",
    ),
    "TLS_HANDSHAKE": (
        "Retry once later; the TLS handshake failure looked transient",
        "Check TLS versions and ciphers supported by {host}",
    ),
    "RATE_LIMIT": (
        "Lower [crawl] per_host_concurrency or raise [throttle] min_delay_s for {host}",
        "Honour the server's Retry-After; the crawler pauses {host} until then",
        "Ask the site owner for a higher quota or an API if the crawl must be faster",
    ),
    "SERVER": (
        "Retry later; HTTP {status} is a server-side failure on {host}",
        "Watch the host's circuit breaker in the status server",
        "Report the failure to the site owner if it persists",
    ),
    "CLIENT": (
        "Check that {url} is a valid request (HTTP {status})",
        "Fix or exclude the link pattern that produced it",
    ),
    "AUTH": (
        "Check whether {url} requires credentials or cookies (HTTP {status})",
        "Exclude the protected path with [crawl] exclude if it is not meant to be crawled",
        "Supply credentials only if the site owner allows crawling it",
    ),
    "NOT_FOUND": (
        "Check the page that linked to {url}: the link is broken",
        "Remove the URL from the seeds if it was given by hand",
    ),
    "BLOCKED": (
        "Open {url} in a browser to confirm the captcha or block page",
        "Slow down: lower per-host concurrency and raise the delay for {host}",
        "Ask the site owner to allow the crawler's user agent",
    ),
    "CONTENT": (
        "Check the size, type and encoding of {url}",
        "Raise [fetch] max_response_bytes or widen allowed_content_types if the page is wanted",
    ),
    "REDIRECT": (
        "Follow the redirect chain of {url} by hand (curl -IL) to find the loop",
        "Raise [fetch] max_redirects only if the chain is long but finite",
    ),
    "ROBOTS": (
        "robots.txt of {host} disallows {url}; respect it",
        "Exclude the path from the crawl to avoid requeueing it",
    ),
    "UNKNOWN": (
        "Read the exception chain in the DLQ entry (crawler dlq show ID)",
        "Retry the entry later with crawler dlq retry ID",
        "Report it if it looks like a crawler bug",
    ),
    "HOST_GIVEN_UP": (
        "Check whether {host} is up at all",
        "Re-queue the host's URLs later with crawler dlq retry --all",
        "Raise [circuit_breaker] max_open_cycles if the host is only slow to recover",
    ),
}

_GIVE_UP_URL = frozenset(
    {Category.NOT_FOUND, Category.CLIENT, Category.CONTENT, Category.REDIRECT, Category.ROBOTS}
)

_HUMAN = {
    Category.NETWORK: "Network failure",
    Category.DNS: "DNS failure",
    Category.TIMEOUT: "Timeout",
    Category.TLS: "TLS failure",
    Category.RATE_LIMIT: "Rate limited",
    Category.SERVER: "Server error",
    Category.CLIENT: "Client error",
    Category.AUTH: "Access refused",
    Category.NOT_FOUND: "Not found",
    Category.BLOCKED: "Blocked page",
    Category.CONTENT: "Unusable content",
    Category.REDIRECT: "Redirect failure",
    Category.ROBOTS: "Disallowed by robots.txt",
    Category.UNKNOWN: "Unexpected failure",
}


# Per category: (substring of the message or exception chain → error_type, ...), and the default.
_ERROR_TYPE_HINTS: Mapping[Category, tuple[tuple[tuple[str, str], ...], str]] = {
    Category.NETWORK: (
        (
            ("refused", "connection_refused"),
            ("reset", "connection_reset"),
            ("disconnect", "server_disconnected"),
            ("payload", "broken_payload"),
        ),
        "network_error",
    ),
    Category.TIMEOUT: ((("connect", "connect_timeout"), ("read", "read_timeout")), "timeout"),
    Category.CONTENT: (
        (
            ("decompress", "content_decompression"),
            ("too large", "content_too_large"),
            ("exceed", "content_too_large"),
            ("type", "content_wrong_type"),
            ("decod", "content_undecodable"),
        ),
        "content_error",
    ),
    Category.REDIRECT: (
        (("loop", "redirect_loop"), ("too many", "too_many_redirects")),
        "redirect_error",
    ),
    Category.ROBOTS: ((), "robots_disallowed"),
    Category.BLOCKED: ((("captcha", "captcha"),), "blocked_page"),
}


def _given_up(record: FailureRecord) -> bool:
    return bool(record.exception_chain) and record.exception_chain[0].startswith("HostGivenUp:")


def _error_type(record: FailureRecord) -> str:
    """A short stable name: ``http_503``, ``connection_refused``, ``dns_nxdomain``..."""
    if _given_up(record):
        return "host_given_up"
    if record.status_code is not None and record.category not in (
        Category.BLOCKED,
        Category.CONTENT,
    ):
        return f"http_{record.status_code}"
    if record.category is Category.DNS:
        return "dns_temporary" if record.retryable else "dns_nxdomain"
    if record.category is Category.TLS:
        return "tls_handshake" if record.retryable else "tls_certificate"
    hints, default = _ERROR_TYPE_HINTS.get(
        record.category, ((), f"{record.category.value.lower()}_error")
    )
    text = f"{record.message} {' '.join(record.exception_chain)}".lower()
    return next((name for hint, name in hints if hint in text), default)


def _action(record: FailureRecord) -> tuple[Action, float | None]:
    category = record.category
    if _given_up(record):
        return Action.GIVE_UP_HOST, None
    if record.retryable and record.retry_after_s is not None:
        return Action.WAIT, record.retry_after_s
    if category is Category.RATE_LIMIT:
        return Action.SLOW_DOWN_HOST, None
    if category in (Category.DNS, Category.TLS) and not record.retryable:
        return Action.GIVE_UP_HOST, None
    if category in _GIVE_UP_URL or not record.retryable:
        return Action.GIVE_UP_URL, None
    return Action.RETRY_LATER, None


def _steps_key(record: FailureRecord) -> str:
    if _given_up(record):
        return "HOST_GIVEN_UP"
    if record.category is Category.DNS and record.retryable:
        return "DNS_TEMPORARY"
    if record.category is Category.TLS and record.retryable:
        return "TLS_HANDSHAKE"
    return record.category.value


def _description(record: FailureRecord) -> str:
    status = f" (HTTP {record.status_code})" if record.status_code is not None else ""
    message = " ".join(record.message.split())
    if len(message) > _MAX_DESCRIBED_MESSAGE:
        message = message[: _MAX_DESCRIBED_MESSAGE - 1] + "…"
    where = record.url or "the request"
    host = f" on {record.host}" if record.host else ""
    wait = ""
    if record.retry_after_s is not None:
        wait = f"; the server asked to wait {record.retry_after_s:.0f}s"
    return f"{_HUMAN[record.category]} for {where}{host}{status}: {message}{wait}."


class RuleAnalyser:
    """Deterministic analysis from the failure record alone. Never raises."""

    source = "rules"

    def analyse(self, record: FailureRecord) -> Analysis:
        """The analysis of one record (the crawler's synchronous path)."""
        try:
            action, wait_s = _action(record)
            values = {
                "host": record.host or "the host",
                "url": record.url or "the URL",
                "status": record.status_code if record.status_code is not None else "-",
            }
            steps = tuple(step.format(**values) for step in RECOVERY_STEPS[_steps_key(record)])
            return Analysis(
                error_type=_error_type(record),
                severity=record.severity,
                description=_description(record),
                should_retry=record.retryable,
                suggested_action=action,
                recovery_steps=steps,
                source=self.source,
                wait_s=wait_s,
            )
        except Exception:  # defensive: an odd record must not break the failure path
            log.exception("rule analysis failed for %s", record.url)
            return Analysis(
                error_type="unknown_error",
                severity=Severity.MEDIUM,
                description=f"Unanalysed failure for {record.url or 'the request'}.",
                should_retry=False,
                suggested_action=Action.GIVE_UP_URL,
                recovery_steps=RECOVERY_STEPS["UNKNOWN"][:2],
                source=self.source,
            )

    async def analyze_error(
        self, model: str, error_message: str, context: Mapping[str, Any] | None = None
    ) -> Analysis:
        """:class:`Analyser` interface: reads ``context["failure"]`` (a record or its
        ``to_dict()``), else builds a record from ``context["category"]`` and the message.
        ``model`` is ignored: rules need no model."""
        return self.analyse(self.record_from_context(error_message, context or {}))

    @staticmethod
    def record_from_context(error_message: str, context: Mapping[str, Any]) -> FailureRecord:
        """The failure record an ``analyze_error`` call is about (UNKNOWN if nothing says)."""
        failure = context.get("failure")
        try:
            if isinstance(failure, FailureRecord):
                return failure
            if isinstance(failure, Mapping):
                return failure_from_dict(failure)
        except (TypeError, ValueError):
            log.warning("unreadable failure record in analysis context; using its category")
        try:
            category = Category(str(context.get("category", "UNKNOWN")).upper())
        except ValueError:
            category = Category.UNKNOWN
        rule = category_rule(category)
        status = context.get("status_code")
        return FailureRecord(
            category=category,
            severity=rule.severity,
            message=error_message or str(context.get("error", "")),
            url=str(context.get("url", "")),
            host=str(context.get("host", "")),
            status_code=status if isinstance(status, int) else None,
            retryable=bool(rule.retryable),
            certain=rule.certain,
            counts_for_breaker=rule.counts_for_breaker,
        )

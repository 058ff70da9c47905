"""``[crawl]`` and ``[fetch]``: what a crawl covers and how one request is made."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import (
    Field,
    field_validator,
)

from crawler.config.base import DOMAIN_RE, Section


class CrawlConfig(Section):
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
            match = DOMAIN_RE.match(entry)
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


class FetchConfig(Section):
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

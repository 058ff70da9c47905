"""``[recrawl]``: scheduled revisits (docs/recrawl.md)."""

from __future__ import annotations

import re

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
)

from crawler.config.base import Section


class RecrawlConfig(Section):
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
        description="every Nth answered revisit of a page (never the first) is sent without "
        "validators, to check that the host's 304s are honest; 0 = never",
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
        5,
        ge=1,
        description="a host's sitemap <lastmod> values that predicted a change and were checked by "
        "a revisit before they are judged (its 304s are judged apart: two that hid a change "
        "end conditional requests to the host)",
    )
    hint_min_accuracy: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of those <lastmod> values that must have been right; below it the "
        "host's lastmods no longer make pages due",
    )
    robots_max_age_s: float = Field(
        86_400.0,
        gt=0,
        description="seconds; robots.txt rules older than this are fetched again at the start of "
        "a recrawl run (a new process always fetches them again)",
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

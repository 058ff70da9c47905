"""Shared pieces of the config models: the strict section base and the patterns they share."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

# Scrapy's RETRY_HTTP_CODES: the statuses worth asking again ([retry] retry_http_codes).
DEFAULT_RETRY_CODES: tuple[int, ...] = (500, 502, 503, 504, 522, 524, 408, 429)

# Host, host:port, [v6]:port or *.host; checked after lower-casing. Matching is urls.py's job.
DOMAIN_RE = re.compile(r"^(\*\.)?([a-z0-9_-]+(\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(:(\d{1,5}))?$")


class Section(BaseModel):
    """Shared model settings: frozen, no unknown keys, no type coercion, finite floats only."""

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )

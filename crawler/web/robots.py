"""robots.txt rules (RFC 9309) through protego, and what a fetch outcome means for a host.

Google's documented handling, which RFC 9309 §2.3.1 also sets:
- 2xx: parse and obey (an unparsable file obeys whatever protego could read of it);
- 4xx (404, 410, 401, 403 included): no rules — everything is allowed;
- 5xx, 429 or unreachable: the whole host is disallowed for now; robots.txt is retried with the
  crawler's retry policy and, if it keeps failing, the host's URLs go to the DLQ.

Fetching robots.txt (with its own redirect limit of 5) is the crawler's job; this module only turns
its outcome into rules.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from crawler.errors import FetchError, HTTPStatusError

ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 §2.3.1.2: follow at least five
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The rules for one host; ``parser`` None means everything is allowed."""

    parser: Protego | None
    user_agent: str

    def allowed(self, url: str) -> bool:
        if self.parser is None:
            return True
        return bool(self.parser.can_fetch(url, self.user_agent))

    def crawl_delay(self) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(self.user_agent)
        if delay is None:
            rate = self.parser.request_rate(self.user_agent)
            if rate is not None and rate.requests:
                return float(rate.seconds) / float(rate.requests)
            return 0.0
        return max(0.0, float(delay))


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def robots_text(body: bytes) -> str:
    """The text protego parses, made of whatever bytes the server sent.

    RFC 9309 §2.5 asks for UTF-8 and at least 500 KiB: the first :data:`ROBOTS_MAX_BYTES` are
    read, and a line cut in two by that limit is dropped (half a rule could disallow too much or
    allow what the whole rule forbids). A byte order mark is skipped — protego would otherwise
    read ``\ufeffUser-agent`` as an unknown line and lose the first group, as it did — and a
    UTF-16 file with its BOM is decoded as such. NUL bytes are removed, undecodable bytes become
    U+FFFD (that line then matches nothing), and CR, LF and CRLF all end a line.
    """
    data = body[:ROBOTS_MAX_BYTES]
    if len(body) > ROBOTS_MAX_BYTES:
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        data = data[: cut + 1] if cut >= 0 else b""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", "replace")
    else:
        text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    return text.replace("\x00", "")


def rules_from_body(body: bytes, user_agent: str) -> RobotsRules:
    """The rules of a 2xx robots.txt body (see :func:`robots_text` for hostile bytes)."""
    return rules_from_text(robots_text(body), user_agent)


def rules_from_text(text: str, user_agent: str) -> RobotsRules:
    """The rules of a robots.txt text as :func:`robots_text` made it (stored and shared by
    workers: docs/shared-politeness.md); ``""`` allows everything."""
    return RobotsRules(Protego.parse(text), _product_token(user_agent))


def rules_from_failure(exc: FetchError, user_agent: str) -> RobotsRules | None:
    """Allow-all rules for a 4xx answer; None when the host must wait (5xx, 429, unreachable)."""
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    if status is not None and 400 <= status < 500 and status != 429:
        return RobotsRules(None, _product_token(user_agent))
    return None


def _product_token(user_agent: str) -> str:
    # RFC 9309 §2.2.1: match on the product token ("adaptive-crawler"), not the full header.
    token = user_agent.split("/", 1)[0].split(" ", 1)[0].strip()
    return token or user_agent

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


def rules_from_body(body: bytes, user_agent: str) -> RobotsRules:
    text = body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace")
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

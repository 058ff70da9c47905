"""adaptive-crawler: an LLM-assisted adaptive web crawler.

>>> from crawler import AdaptiveCrawler, load_config
>>> async def main() -> None:
...     async with AdaptiveCrawler(load_config("config.toml")) as crawler:
...         summary = await crawler.run(["https://example.com/"])
"""

from crawler.config import Config, load_config
from crawler.crawler import AdaptiveCrawler
from crawler.errors import (
    ConfigError,
    CrawlerError,
    FetchError,
    LLMError,
    LockHeldError,
    StorageError,
)
from crawler.records import (
    Analysis,
    Category,
    CrawlResult,
    CrawlSummary,
    DLQEntry,
    FailureRecord,
    PageRecord,
    Severity,
)

__all__ = [
    "AdaptiveCrawler",
    "Analysis",
    "Category",
    "Config",
    "ConfigError",
    "CrawlResult",
    "CrawlSummary",
    "CrawlerError",
    "DLQEntry",
    "FailureRecord",
    "FetchError",
    "LLMError",
    "LockHeldError",
    "PageRecord",
    "Severity",
    "StorageError",
    "load_config",
]
__version__ = "0.1.0"

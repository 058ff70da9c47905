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

from crawler.config.base import DEFAULT_RETRY_CODES
from crawler.config.crawl import CrawlConfig, FetchConfig
from crawler.config.failure import BreakerConfig, LLMConfig, RetryConfig, ThrottleConfig
from crawler.config.load import ENV_PREFIX, SECTIONS, Config, load_config
from crawler.config.operations import (
    AlertsConfig,
    DegradationConfig,
    LogConfig,
    MetricsConfig,
    Soft404Config,
    StatusConfig,
    StorageConfig,
    is_loopback,
)
from crawler.config.recrawl import RecrawlConfig

__all__ = [
    "DEFAULT_RETRY_CODES",
    "ENV_PREFIX",
    "SECTIONS",
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
    "Soft404Config",
    "StatusConfig",
    "StorageConfig",
    "ThrottleConfig",
    "is_loopback",
    "load_config",
]

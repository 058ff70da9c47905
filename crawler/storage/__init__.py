"""State stores behind one lease protocol (``base.Storage``); ``open_storage`` picks one."""

from __future__ import annotations

from pathlib import Path

from crawler.errors import ConfigError
from crawler.storage.base import FrontierCounts, Lease, Storage
from crawler.storage.sqlite import SQLiteStorage

__all__ = ["FrontierCounts", "Lease", "SQLiteStorage", "Storage", "open_storage"]

STATE_FILE = "state.sqlite3"


def open_storage(cfg_backend: str, state_dir: Path, redis_url: str = "") -> Storage:
    """The configured backend, not yet opened (``await storage.open()`` does that)."""
    if cfg_backend == "sqlite":
        return SQLiteStorage(Path(state_dir) / STATE_FILE)
    if cfg_backend == "redis":
        raise ConfigError(
            "storage.backend", "redis", "'sqlite' (the Redis backend is not built yet)"
        )
    raise ConfigError("storage.backend", cfg_backend, "'sqlite' or 'redis'")

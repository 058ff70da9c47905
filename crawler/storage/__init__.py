"""State stores behind one lease protocol (``base.Storage``); ``open_storage`` picks one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crawler.errors import ConfigError
from crawler.storage.base import FrontierCounts, Lease, Storage
from crawler.storage.hostledger import SLOT_TTL_S, HostLedger, MemoryHostLedger
from crawler.storage.sqlite import SQLiteStorage

__all__ = [
    "FrontierCounts",
    "HostLedger",
    "Lease",
    "SQLiteStorage",
    "Storage",
    "host_ledger",
    "open_storage",
]

STATE_FILE = "state.sqlite3"


def open_storage(
    cfg_backend: str,
    state_dir: Path,
    redis_url: str = "",
    *,
    lease_timeout_s: float = 300.0,
    read_only: bool = False,
    redis_unreachable_s: float = 120.0,
) -> Storage:
    """The configured backend, not yet opened (``await storage.open()`` does that).

    Redis: the keys' namespace is the ``namespace`` query parameter of ``redis_url`` when it has
    one, else derived from the absolute ``state_dir`` (see ``crawler.storage.redis``).

    ``read_only`` (commands that only read, beside a running crawl): SQLite opens its file
    read-only and leaves leases alone; Redis opens without touching the frontier or loading it
    (no state dir needed, docs/workers.md). ``redis_unreachable_s``: how long Redis calls wait
    out an outage."""
    if cfg_backend == "sqlite":
        return SQLiteStorage(Path(state_dir) / STATE_FILE, read_only=read_only)
    if cfg_backend == "redis":
        # redis-py is an optional extra: only a Redis crawl imports it.
        from crawler.storage.redis import RedisStorage, redis_target

        url, namespace = redis_target(redis_url, state_dir)
        return RedisStorage(
            url,
            namespace=namespace,
            lease_timeout_s=lease_timeout_s,
            unreachable_s=redis_unreachable_s,
            read_only=read_only,
        )
    raise ConfigError("storage.backend", cfg_backend, "'sqlite' or 'redis'")


def host_ledger(
    storage: Storage, clock: Callable[[], float], *, slot_ttl_s: float = SLOT_TTL_S
) -> HostLedger:
    """Where the crawl keeps its per-host politeness (docs/shared-politeness.md): shared through
    the server for Redis, in this process's memory otherwise. Open it after ``storage``."""
    make = getattr(storage, "host_ledger", None)
    if make is not None:
        ledger: HostLedger = make(slot_ttl_s=slot_ttl_s)
        return ledger
    return MemoryHostLedger(clock, slot_ttl_s=slot_ttl_s)

"""Opening a crawl's state for the commands that are not a crawl (``stats``, ``dlq ...``).

SQLite: the state lives in the state dir. Reading (``stats``, ``dlq list/show/export``) opens it
read-only and without the lock, so it works while a crawl runs; changing it (``dlq purge``, the
re-queue of ``dlq retry``) takes the lock and exits 3 while a crawl holds it.

Redis: the state lives on the server, shared by the workers (docs/workers.md). No state dir is
needed, from any machine: the crawl is named by ``[storage] redis_url`` (or ``--redis-url``) and
its ``?namespace=``. Reading opens read-only (no lease is touched, the frontier is not loaded);
changing the DLQ is one atomic script per command, safe while workers run, so no lock is taken.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from crawler.config import Config
from crawler.errors import ConfigError
from crawler.storage import Storage, open_storage
from crawler.storage.lock import StateLock

__all__ = ["READ_UNREACHABLE_S", "existing_state_dir", "open_state"]

# A read-only command waits this long at most for an unreachable Redis (a crawl waits
# [storage] redis_unreachable_s): an operator's typo should not hang the terminal for minutes.
READ_UNREACHABLE_S = 5.0


def existing_state_dir(cfg: Config) -> Path:
    """The state dir of an earlier run (ConfigError, exit 2, for one that is not). With Redis,
    any directory: it only names the default namespace."""
    state_dir = Path(cfg.crawl.state_dir)
    if cfg.storage.backend == "redis":
        return state_dir
    if not (state_dir / "lock").exists() and not any(state_dir.glob("state.*")):
        raise ConfigError("--state-dir", str(state_dir), "the state directory of an earlier run")
    return state_dir


@contextlib.asynccontextmanager
async def open_state(
    cfg: Config, state_dir: Path, *, read_only: bool = False
) -> AsyncIterator[Storage]:
    """The crawl's storage for a command: see the module docstring for what is locked."""
    shared = cfg.storage.backend == "redis"
    with contextlib.ExitStack() as stack:
        if not read_only and not shared:
            stack.enter_context(StateLock(state_dir))
        wait = cfg.storage.redis_unreachable_s
        storage = open_storage(
            cfg.storage.backend,
            state_dir,
            cfg.storage.redis_url,
            lease_timeout_s=cfg.storage.lease_timeout_s,
            read_only=read_only,
            redis_unreachable_s=min(wait, READ_UNREACHABLE_S) if read_only else wait,
        )
        await storage.open()
        try:
            yield storage
        finally:
            await storage.close()

"""The commands that are not a crawl (``stats``, ``dlq ...``) and how they open the state.

SQLite: the state lives in the state dir. Reading (``stats``, ``dlq list/show/export``) opens it
read-only and without the lock, so it works while a crawl runs; changing it (``dlq purge``, the
re-queue of ``dlq retry``) takes the lock and exits 3 while a crawl holds it.

Redis: the state lives on the server, shared by the workers (docs/workers.md). No state dir is
needed, from any machine: the crawl is named by ``[storage] redis_url`` (or ``--redis-url``) and
its ``?namespace=``. Reading opens read-only (no lease is touched, the frontier is not loaded);
changing the DLQ is one atomic script per command, safe while workers run, so no lock is taken.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from crawler.config import Config
from crawler.errors import ConfigError
from crawler.observe.alerts import load_history
from crawler.records import DLQEntry
from crawler.redact import json_for_terminal, redact_url, safe_for_terminal
from crawler.storage import Storage, open_storage
from crawler.storage.lock import StateLock

__all__ = [
    "READ_UNREACHABLE_S",
    "dlq",
    "dlq_ids",
    "existing_state_dir",
    "history",
    "open_state",
    "print_entries",
    "stats",
]

EXIT_OK = 0

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


async def history(cfg: Config, state_dir: Path, *, as_json: bool) -> int:
    async with open_state(cfg, state_dir, read_only=True) as storage:
        runs = await load_history(storage)
    if as_json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
        return EXIT_OK
    if not runs:
        print("no run kept in this state dir yet")
        return EXIT_OK
    table = Table(title=f"runs kept in {state_dir} (oldest first)")
    columns = ("finished", "duration s", "stored", "failed", "failure rate", "requests")
    for name in (*columns, "retries", "DLQ", "alerts"):
        table.add_column(name, justify="left" if name == "finished" else "right")
    for r in runs:
        table.add_row(
            r.finished_at + (" (stopped)" if r.stopped else ""),
            f"{r.duration_s:.1f}",
            str(r.pages_stored),
            str(r.pages_failed),
            f"{r.failure_rate:.1%}",
            str(r.requests),
            str(r.retries),
            str(r.dlq_items),
            str(r.alerts) if r.alerts else "",
        )
    Console(width=max(120, shutil.get_terminal_size().columns)).print(table)
    return EXIT_OK


async def stats(cfg: Config, state_dir: Path, *, as_json: bool) -> int:
    async with open_state(cfg, state_dir, read_only=True) as storage:
        counts = await storage.counts()
        entries = await storage.dlq_list()
    by_category: dict[str, int] = {}
    for e in entries:
        cat = str(e.error.get("category", "UNKNOWN"))
        by_category[cat] = by_category.get(cat, 0) + 1
    data = {
        "pending": counts.pending,
        "leased": counts.leased,
        "done": counts.done,
        "dead": counts.dead,
        "dlq_items": len(entries),
        "dlq_by_category": by_category,
    }
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for k, v in data.items():
            print(f"{k}: {v}")
    return EXIT_OK


def dlq_ids(args: argparse.Namespace) -> list[int] | None:
    """The entries ``dlq retry`` / ``purge`` act on: None for ``--all``."""
    if not args.all and not args.ids:
        raise ConfigError(f"dlq {args.dlq_command}", "", "--all or at least one entry ID")
    return None if args.all else list(args.ids)


async def dlq(cfg: Config, state_dir: Path, args: argparse.Namespace) -> int:
    """``dlq list/show/export/purge`` and ``dlq retry --requeue-only`` (the crawl of a plain
    ``dlq retry`` is the command line's)."""
    cmd = args.dlq_command
    if cmd == "retry":
        async with open_state(cfg, state_dir) as storage:
            n = await storage.dlq_requeue(dlq_ids(args))
            await storage.commit()
        print(f"re-queued {n} entries", file=sys.stderr)
        return EXIT_OK
    async with open_state(cfg, state_dir, read_only=cmd != "purge") as storage:
        if cmd == "list":
            entries = await storage.dlq_list(args.category, args.host, args.since)
            print_entries(entries, as_json=args.json)
        elif cmd == "show":
            entry = await storage.dlq_get(args.id)
            if entry is None:
                raise ConfigError("ID", args.id, "the id of an existing DLQ entry")
            print(json_for_terminal(entry.public_dict()))
        elif cmd == "purge":
            n = await storage.dlq_purge(dlq_ids(args))
            await storage.commit()
            print(f"purged {n} entries", file=sys.stderr)
        elif cmd == "export":
            entries = await storage.dlq_list()
            text = "".join(json_for_terminal(e.public_dict(), indent=None) + "\n" for e in entries)
            if args.out:
                await asyncio.to_thread(Path(args.out).write_text, text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            print(f"exported {len(entries)} entries", file=sys.stderr)
    return EXIT_OK


def print_entries(entries: Sequence[DLQEntry], *, as_json: bool) -> None:
    if as_json:
        print(json_for_terminal([e.public_dict() for e in entries]))
        return
    if not entries:
        print("the dead-letter queue is empty")
        return
    for e in entries:
        err = e.error
        status = err.get("status_code")
        # URL and message come from the web: escaped and cut to one readable line each.
        url = safe_for_terminal(redact_url(str(e.url)), limit=300)
        message = safe_for_terminal(str(err.get("message", "")), limit=300)
        category = safe_for_terminal(str(err.get("category", "?")), limit=12)
        print(
            f"{e.id:>5}  {category:<10} {status if status is not None else '-':>4}"
            f"  attempts={e.attempts}  {url}  — {message}"
        )

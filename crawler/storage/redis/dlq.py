"""The Redis backend's dead-letter queue: ``dead_letter`` and the ``dlq_*`` operations.

Keys (under the crawl's prefix, see ``crawler.storage.redis``): ``dlq`` hash entry id -> entry
JSON, ``dlq:url`` hash url -> id, ``dlq:seq`` the id counter. Every change is one Lua script, so
``crawler dlq retry`` and ``purge`` are safe while workers run: a re-queued URL goes back into
the shared frontier atomically and the next lease call of any worker may take it.

A mixin of :class:`~crawler.storage.redis.RedisStorage`; the methods name what they need from it
in :class:`_Store`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar, cast

from crawler.errors import StorageError
from crawler.records import DLQEntry, iso
from crawler.storage.base import Lease, dlq_entry, merge_previous, parse_since
from crawler.storage.redis.connect import Client

__all__ = ["DEAD_LETTER_RETRIES", "RedisDLQ"]

DEAD_LETTER_RETRIES = 5  # a concurrent DLQ change for the same URL makes dead_letter retry
T = TypeVar("T")


def _entry(entry_id: int | str, text: str) -> DLQEntry:
    data = json.loads(text)
    data["id"] = int(entry_id)
    return DLQEntry(**data)


class _Store(Protocol):
    url: str
    _clock: Callable[[], float]
    _held: dict[str, tuple[float, int]]

    def _key(self, name: str) -> str: ...
    def _conn(self) -> Client: ...
    def _acked(self) -> set[str]: ...
    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T: ...
    async def _script(self, name: str, args: Sequence[str | int | float]) -> Any: ...

    async def dlq_list(
        self,
        category: str | None = None,
        host: str | None = None,
        since: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[DLQEntry]: ...


class RedisDLQ:
    """The DLQ half of the Redis storage contract."""

    async def dead_letter(self: _Store, lease: Lease, attempts: int, entry: DLQEntry) -> DLQEntry:
        now = iso(self._clock())
        client = self._conn()
        dlq, by_url, url = self._key("dlq"), self._key("dlq:url"), lease.url
        for _ in range(DEAD_LETTER_RETRIES):
            stored = dlq_entry(lease, attempts, entry, now)
            old_id = cast("str | None", await self._call("dlq", lambda: client.hget(by_url, url)))
            if old_id:
                old = await self._call("dlq", functools.partial(client.hget, dlq, old_id))
                if old is not None:
                    merge_previous(stored, json.loads(old))
            text = json.dumps(stored.to_dict(), ensure_ascii=False)
            args: list[str | int | float] = [
                url,
                lease.depth,
                lease.host,
                attempts,
                old_id or "",
                text,
                lease.fence,
            ]
            new_id = int(await self._script("dead", args))
            if new_id == -2:
                # Our lease lapsed and another worker has leased or stored the URL since: the
                # outcome is theirs to record (docs/workers.md, "Fencing").
                self._held.pop(lease.url, None)
                return stored
            if new_id >= 0:  # -1: another worker changed this URL's entry meanwhile: again
                self._held.pop(lease.url, None)
                stored.id = new_id
                return stored
        raise StorageError(f"{self.url}: dead_letter of {lease.url} kept conflicting")

    async def dlq_count(self: _Store) -> int:
        client = self._conn()
        total = int(await self._call("dlq_count", lambda: client.hlen(self._key("dlq"))))
        if not self._acked():
            return total
        return len(await self.dlq_list())

    async def dlq_list(
        self: _Store,
        category: str | None = None,
        host: str | None = None,
        since: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[DLQEntry]:
        moment = parse_since(since) if since else None
        client = self._conn()
        rows = cast(
            "dict[str, str]", await self._call("dlq_list", lambda: client.hgetall(self._key("dlq")))
        )
        acked = self._acked()
        entries = sorted((_entry(i, text) for i, text in rows.items()), key=lambda e: e.id)
        chosen = [
            e
            for e in entries
            if e.url not in acked
            and (not category or str(e.error.get("category", "UNKNOWN")) == category.upper())
            and (not host or e.host == host)
            and (moment is None or parse_since(e.last_failed_at) >= moment)
        ]
        if limit is not None:
            return chosen[-limit:] if limit > 0 else []
        return chosen

    async def dlq_get(self: _Store, entry_id: int) -> DLQEntry | None:
        client = self._conn()
        text = cast(
            "str | None",
            await self._call("dlq_get", lambda: client.hget(self._key("dlq"), str(entry_id))),
        )
        if text is None:
            return None
        found = _entry(entry_id, text)
        return None if found.url in self._acked() else found

    async def dlq_requeue(self: _Store, ids: Sequence[int] | None) -> int:
        """Atomic (one script), so safe while workers run: they lease the URLs next."""
        args = ["*"] if ids is None else [str(i) for i in ids]
        if not args:
            return 0
        return int(await self._script("requeue", args))

    async def dlq_purge(self: _Store, ids: Sequence[int] | None = None) -> int:
        acked = sorted(self._acked())
        chosen = ["*"] if ids is None else [str(i) for i in ids]
        if not chosen:
            return 0
        return int(await self._script("purge", [len(acked), *acked, *chosen]))

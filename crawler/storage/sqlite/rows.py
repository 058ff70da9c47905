"""The rows under :class:`~crawler.storage.sqlite.SQLiteStorage`: the connection and its
in-memory counters, the shared plumbing, and the tables other than the frontier's own queue —
recrawl page states, the DLQ and metadata."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from crawler.errors import StorageError
from crawler.records import DLQEntry, PageState
from crawler.storage.base import (
    Lease,
    parse_since,
)
from crawler.storage.sqlite.schema import (
    CACHE_KIB,
    DONE,
    DUE_WHERE,
    IN_BATCH,
    LEASED,
    PAGES_SCHEMA,
    PENDING,
    SCHEMA,
    SCHEMA_VERSION,
)
from crawler.web.urls import host_key


def _page(url: str, due_at: float, state: str) -> PageState:
    try:
        data = json.loads(state)
    except ValueError:
        data = {}
    return PageState.from_json(url, float(due_at), data if isinstance(data, dict) else {})


class SQLiteRows:
    """The connection, the counters and the tables beside the queue; subclassed by
    :class:`~crawler.storage.sqlite.SQLiteStorage`, which adds the lifetime and the frontier."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._known: set[int] = set()
        self._counts = [0, 0, 0, 0, 0]  # indexed by status
        self._pending_by_host: dict[str, int] = {}  # hosts with pending URLs only
        # url -> (row id, host) of the rows this process leased: a settle (ack, nack, dead
        # letter) updates its row by id without first looking the URL up (~10 µs a page).
        self._leased: dict[str, tuple[int, str]] = {}
        self._dlq_may_have_rows = True  # False: an ack need not delete from an empty DLQ

    # -- opening --------------------------------------------------------------------------------
    def _check_version(self, db: sqlite3.Connection) -> int:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path}: schema version {version} was written by a newer crawler"
                f" (this one reads version {SCHEMA_VERSION})"
            )
        return version

    def _load_counts(self, db: sqlite3.Connection) -> None:
        self._counts = [0, 0, 0, 0, 0]
        for status, n in db.execute("SELECT status, count(*) FROM urls GROUP BY status"):
            self._counts[status] = n

    def _prepare(self, db: sqlite3.Connection) -> None:
        version = self._check_version(db)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA busy_timeout = 5000")  # a `crawler dlq ...` may write meanwhile
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        db.execute("BEGIN IMMEDIATE")
        if version == 0:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        if version < 3:
            for statement in PAGES_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            # Pages stored before version 3 get a state without validators or digest, due at
            # once: a recrawl fetches them in full and writes them again (docs/recrawl.md).
            db.execute(
                f"INSERT INTO pages (id, due_at, state) SELECT id, 0, '{{}}' FROM urls"
                f" WHERE status = {DONE}"
            )
        # Version 1 files need nothing but the number: ALIAS rows are new. (Their redirect
        # targets were stored as DONE, so pages_ok of an old state dir may count them.)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Leases belong to the process that took them; that process is gone.
        db.execute(f"UPDATE urls SET status = {PENDING} WHERE status = {LEASED}")
        db.execute("COMMIT")
        self._load_counts(db)
        self._pending_by_host = dict(
            db.execute(f"SELECT host, count(*) FROM urls WHERE status = {PENDING} GROUP BY host")
        )
        self._known = {hash(url) for (url,) in db.execute("SELECT url FROM urls")}
        self._leased = {}
        self._dlq_may_have_rows = db.execute("SELECT 1 FROM dlq LIMIT 1").fetchone() is not None

    # -- plumbing ------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError(f"{self.path}: the state database is not open")
        return self._db

    def _write(self) -> sqlite3.Connection:
        """The connection, inside the one open write transaction (begun on first use)."""
        if self.read_only:
            raise StorageError(f"{self.path}: opened read-only; this command cannot change it")
        db = self._conn()
        if not db.in_transaction:
            db.execute("BEGIN IMMEDIATE")
        return db

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate sqlite3's exceptions, once, into StorageError naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "not a database" in text or "malformed" in text:
                raise StorageError(
                    f"{self.path} is not a usable SQLite database ({text}); move it away to"
                    " start from an empty state"
                ) from exc
            raise StorageError(f"{self.path}: {what} failed: {text}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {what} failed: {exc}") from exc

    def _move(self, host: str, old: int | None, new: int, n: int = 1) -> None:
        """Keep the in-memory counters in step with a change of ``n`` rows of ``host``
        (``old`` None: new rows)."""
        if old is not None:
            self._counts[old] -= n
        self._counts[new] += n
        delta = (new == PENDING) - (old == PENDING)
        if delta:
            left = self._pending_by_host.get(host, 0) + delta * n
            if left > 0:
                self._pending_by_host[host] = left
            else:
                self._pending_by_host.pop(host, None)

    @staticmethod
    def _lease(row: tuple[Any, ...]) -> Lease:
        _id, url, depth, host, attempts, tries, next_attempt_at = row
        return Lease(url, depth, host, attempts, tries, next_attempt_at)

    def _mark_leased(self, db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[Lease]:
        db.executemany(f"UPDATE urls SET status = {LEASED} WHERE id = ?", [(r[0],) for r in rows])
        leases = [self._lease(r) for r in rows]
        for row, lease in zip(rows, leases, strict=True):
            self._move(lease.host, PENDING, LEASED)
            self._leased[lease.url] = (row[0], lease.host)
        return leases

    def _state(self, db: sqlite3.Connection, url: str) -> tuple[int, int, str] | None:
        """(id, status, host) of a known URL."""
        row = db.execute("SELECT id, status, host FROM urls WHERE url = ?", (url,)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _leased_row(self, db: sqlite3.Connection, lease: Lease) -> tuple[int, int, str]:
        """(id, status, host) of the lease's URL. A lease whose row is gone (a Lease built by hand,
        or a state dir swapped underneath) gets its row back, so the settle is not lost."""
        leased = self._leased.pop(lease.url, None)
        if leased is not None:  # leased by this process: nothing but a settle changes the row
            return leased[0], LEASED, leased[1]
        state = self._state(db, lease.url)
        if state is not None:
            return state
        cur = db.execute(
            f"INSERT INTO urls (url, host, depth, status) VALUES (?, ?, ?, {LEASED})",
            (lease.url, lease.host, lease.depth),
        )
        self._move(lease.host, None, LEASED)
        self._known.add(hash(lease.url))
        assert cur.lastrowid is not None
        return cur.lastrowid, LEASED, lease.host

    # -- recrawl -------------------------------------------------------------------------------
    async def get_pages(self, urls: Sequence[str]) -> dict[str, PageState]:
        out: dict[str, PageState] = {}
        wanted = [u for u in dict.fromkeys(urls) if hash(u) in self._known]
        with self._errors("get_pages"):
            db = self._conn()
            for i in range(0, len(wanted), IN_BATCH):
                chunk = wanted[i : i + IN_BATCH]
                rows = db.execute(
                    "SELECT u.url, p.due_at, p.state FROM urls u JOIN pages p ON p.id = u.id"
                    f" WHERE u.url IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                for url, due_at, state in rows:
                    out[url] = _page(url, due_at, state)
        return out

    async def put_page(self, page: PageState) -> None:
        state = json.dumps(page.to_json(), ensure_ascii=False, separators=(",", ":"))
        with self._errors("put_page"):
            db = self._write()
            leased = self._leased.get(page.url)
            if leased is not None:
                row_id = leased[0]
            else:
                found = self._state(db, page.url)
                if found is None:
                    raise StorageError(f"{self.path}: put_page of an unknown URL {page.url}")
                row_id = found[0]
            db.execute(
                "INSERT OR REPLACE INTO pages (id, due_at, state) VALUES (?, ?, ?)",
                (row_id, page.due_at, state),
            )

    async def requeue_due(self, now: float) -> int:
        with self._errors("requeue_due"):
            db = self._write()
            by_host = db.execute(
                f"SELECT host, count(*) FROM urls WHERE {DUE_WHERE} GROUP BY host", (now,)
            ).fetchall()
            if not by_host:
                return 0
            db.execute(
                f"UPDATE urls SET status = {PENDING}, tries = 0, next_attempt_at = 0"
                f" WHERE {DUE_WHERE}",
                (now,),
            )
        for host, n in by_host:
            self._move(host, DONE, PENDING, n)
        return sum(n for _, n in by_host)

    async def revisit_now(self, url: str) -> bool:
        if hash(url) not in self._known:
            return False
        with self._errors("revisit_now"):
            db = self._write()
            row = db.execute(
                "SELECT u.id, u.host FROM urls u JOIN pages p ON p.id = u.id"
                f" WHERE u.url = ? AND u.status = {DONE}",
                (url,),
            ).fetchone()
            if row is None:
                return False
            db.execute(
                f"UPDATE urls SET status = {PENDING}, tries = 0, next_attempt_at = 0 WHERE id = ?",
                (row[0],),
            )
        self._move(row[1], DONE, PENDING)
        return True

    async def page_count(self) -> int:
        with self._errors("page_count"):
            return int(self._conn().execute("SELECT count(*) FROM pages").fetchone()[0])

    # -- DLQ -----------------------------------------------------------------------------------
    @staticmethod
    def _entry(row_id: int, text: str) -> DLQEntry:
        data = json.loads(text)
        data["id"] = row_id
        return DLQEntry(**data)

    async def dlq_count(self) -> int:
        with self._errors("dlq_count"):
            return int(self._conn().execute("SELECT count(*) FROM dlq").fetchone()[0])

    async def dlq_list(
        self,
        category: str | None = None,
        host: str | None = None,
        since: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[DLQEntry]:
        where, params = [], []
        if category:
            where.append("category = ?")
            params.append(category.upper())
        if host:
            where.append("host = ?")
            params.append(host)
        sql = "SELECT id, entry, last_failed_at FROM dlq"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._errors("dlq_list"):
            rows = self._conn().execute(sql + " ORDER BY id", params).fetchall()
        if since:
            # Compared as instants, not strings: "Z", "+00:00" and naive UTC all mean the same.
            moment = parse_since(since)
            rows = [r for r in rows if parse_since(r[2]) >= moment]
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return [self._entry(r[0], r[1]) for r in rows]

    async def dlq_get(self, entry_id: int) -> DLQEntry | None:
        with self._errors("dlq_get"):
            row = self._conn().execute("SELECT id, entry FROM dlq WHERE id = ?", (entry_id,))
            found = row.fetchone()
        return None if found is None else self._entry(found[0], found[1])

    def _select_dlq(self, db: sqlite3.Connection, ids: Sequence[int] | None) -> list[Any]:
        if ids is None:
            return db.execute("SELECT id, entry FROM dlq ORDER BY id").fetchall()
        rows = [db.execute("SELECT id, entry FROM dlq WHERE id = ?", (i,)).fetchone() for i in ids]
        return [r for r in rows if r is not None]

    async def dlq_requeue(self, ids: Sequence[int] | None) -> int:
        with self._errors("dlq_requeue"):
            db = self._write()
            rows = self._select_dlq(db, ids)
            requeued = 0
            for row_id, text in rows:
                entry = self._entry(row_id, text)
                state = self._state(db, entry.url)
                if state is None:  # the URL row is the truth; rebuild it from the entry
                    host = entry.host or host_key(entry.url)
                    db.execute(
                        "INSERT INTO urls (url, host, depth, status, attempts)"
                        f" VALUES (?, ?, ?, {PENDING}, ?)",
                        (entry.url, host, entry.depth, entry.attempts),
                    )
                    self._move(host, None, PENDING)
                    self._known.add(hash(entry.url))
                    requeued += 1
                    continue
                url_id, status, host = state
                if status == LEASED:  # a worker holds it right now; it will settle it
                    continue
                requeued += 1
                db.execute(
                    f"UPDATE urls SET status = {PENDING}, tries = 0, next_attempt_at = 0"
                    " WHERE id = ?",
                    (url_id,),
                )
                self._move(host, status, PENDING)
        return requeued

    async def dlq_purge(self, ids: Sequence[int] | None = None) -> int:
        with self._errors("dlq_purge"):
            db = self._write()
            if ids is None:
                return db.execute("DELETE FROM dlq").rowcount
            before = db.total_changes
            db.executemany("DELETE FROM dlq WHERE id = ?", [(i,) for i in ids])
            return db.total_changes - before

    # -- meta ----------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> Any:
        with self._errors("get_meta"):
            row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    async def set_meta(self, key: str, value: Any) -> None:
        with self._errors("set_meta"):
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: Any) -> None:
        self._write().execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (key, json.dumps(value, ensure_ascii=False)),
        )

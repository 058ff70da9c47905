"""The embedded backend: the frontier, the DLQ and small metadata in one SQLite file.

The file is ``<state_dir>/state.sqlite3``, used by one process (the state dir's lock sees to
that) straight from the event loop: every call is a few index operations, far shorter than a
thread hop. Writes accumulate in ONE open transaction that :meth:`SQLiteStorage.commit` ends, so
new URLs, leases and acks are visible to this process at once and become durable together, with
the results file's offset, every few hundred pages (an autocommit per write would cost ~30 µs
each in WAL mode, ~150 µs with ``synchronous=FULL``).

``synchronous=NORMAL`` with WAL keeps every commit across a process crash; a power cut may lose
the last commits, which is safe because the results file is always written (and fsynced) before
the offset that covers it is committed: a file longer than its committed offset is cut back.

Memory: :meth:`is_known` is a set of the URLs' 64-bit ``hash()`` values, rebuilt at open, not a
set of strings; the UNIQUE index on ``urls.url`` stays the truth for every insert.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from crawler.errors import StorageError
from crawler.records import DLQEntry, iso
from crawler.storage.base import (
    FrontierCounts,
    Lease,
    dlq_entry,
    merge_previous,
)
from crawler.storage.sqlite.rows import SQLiteRows
from crawler.storage.sqlite.schema import (
    ALIAS,
    COLUMNS,
    DEAD,
    DONE,
    HOST_DUE_SQL,
    HOST_FRESH_SQL,
    HOST_NEXT_READY_SQL,
    LEASE_DUE_SQL,
    LEASE_FRESH_SQL,
    LEASED,
    NEXT_READY_SQL,
    OUT_OFFSET_KEY,
    PENDING,
    PER_HOST_COST,
    WALK_ALWAYS,
    at_most_per_host,
)
from crawler.web.urls import host_key

__all__ = ["SQLiteStorage"]


def _exclude(hosts: Sequence[str]) -> str:
    return f" AND host NOT IN ({','.join('?' * len(hosts))})" if hosts else ""


class SQLiteStorage(SQLiteRows):
    """The :class:`~crawler.storage.base.Storage` contract on one SQLite file.

    Nothing is opened in ``__init__``; :meth:`open` creates or opens the file and turns leases
    left by a dead run back into pending URLs. ``clock`` stamps DLQ entries that come without
    times.

    ``read_only``: open an existing file for reading only, beside a crawl that may be running
    (WAL lets readers see the last commit while it writes): no lock is needed, nothing is
    created, leases are left alone, and every write raises ``StorageError``. Counts are those
    of the moment it was opened.
    """

    shared = False  # one process: leases are never lost, batches may be large

    # -- lifetime ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create or open the file; a file that is not an SQLite database is a StorageError."""
        if self._db is not None:
            return
        if self.read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot create its directory: {exc}") from exc
        try:
            db = sqlite3.connect(self.path, isolation_level=None)  # we BEGIN/COMMIT ourselves
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the state database: {exc}") from exc
        self._db = db
        try:
            with self._errors("open"):
                self._prepare(db)
        except BaseException:
            self._db = None
            db.close()
            raise

    def _open_read_only(self) -> None:
        if not self.path.is_file():
            raise StorageError(f"{self.path}: no state database to read")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the state database: {exc}") from exc
        try:
            with self._errors("open"):
                db.execute("PRAGMA busy_timeout = 5000")
                if self._check_version(db) == 0:
                    raise StorageError(f"{self.path}: not an initialised state database")
                self._load_counts(db)
        except BaseException:
            db.close()
            raise
        self._db = db

    async def abort(self) -> None:
        """Close WITHOUT committing, as a killed process would: what is staged is rolled back
        (the results lines it covered were not written). Safe to call twice."""
        db, self._db = self._db, None
        if db is None:
            return
        try:
            if db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # closing without a commit loses the transaction anyway
        finally:
            db.close()
            self._known = set()
            self._leased = {}

    async def close(self) -> None:
        """Commit what is staged and close the file. Safe to call twice."""
        db, self._db = self._db, None
        if db is None:
            return
        try:
            with self._errors("close"):
                if db.in_transaction:
                    db.execute("COMMIT")
        finally:
            db.close()
            self._known = set()
            self._leased = {}

    async def fence_acks(self) -> set[str]:
        """One process holds every lease until it settles it: none is ever lost."""
        return set()

    async def commit(self, out_path: str | None = None, out_offset: int | None = None) -> None:
        """End the open transaction: every staged write, and the results file offset, at once."""
        if self.read_only:
            return  # nothing can be staged
        with self._errors("commit"):
            if out_path is not None and out_offset is not None:
                self._set_meta(OUT_OFFSET_KEY + out_path, out_offset)
            db = self._conn()
            if db.in_transaction:
                db.execute("COMMIT")

    async def out_offset(self, out_path: str) -> int | None:
        value = await self.get_meta(OUT_OFFSET_KEY + out_path)
        return None if value is None else int(value)

    # -- frontier ------------------------------------------------------------------------------
    def is_known(self, url: str) -> bool:
        """A set lookup of ``hash(url)``: O(1), no I/O. A 64-bit collision (about 3e-8 odds at
        a million URLs) would make one new URL look known; :meth:`add` itself is exact."""
        return hash(url) in self._known

    async def add(self, entries: Iterable[tuple[str, int]]) -> int:
        known = self._known
        certain: list[tuple[str, str, int]] = []  # hash unseen: surely new
        maybe: list[tuple[str, str, int]] = []  # hash seen: the UNIQUE index decides
        for url, depth in entries:
            h = hash(url)
            if h in known:
                maybe.append((url, "", depth))
            else:
                known.add(h)
                certain.append((url, host_key(url), depth))
        if not certain and not maybe:
            return 0
        with self._errors("add"):
            db = self._write()
            db.executemany(
                f"INSERT INTO urls (url, host, depth, status) VALUES (?, ?, ?, {PENDING})", certain
            )
            for url, _, depth in maybe:  # a duplicate, or (rarely) a 64-bit hash collision
                if db.execute("SELECT 1 FROM urls WHERE url = ?", (url,)).fetchone():
                    continue
                row = (url, host_key(url), depth)
                db.execute(
                    f"INSERT INTO urls (url, host, depth, status) VALUES (?, ?, ?, {PENDING})", row
                )
                certain.append(row)
        for _url, host, _depth in certain:
            self._move(host, None, PENDING)
        return len(certain)

    async def add_done(self, url: str, depth: int) -> bool:
        with self._errors("add_done"):
            db = self._write()
            state = self._state(db, url) if hash(url) in self._known else None
            if state is None:
                host = host_key(url)
                db.execute(
                    f"INSERT INTO urls (url, host, depth, status) VALUES (?, ?, ?, {ALIAS})",
                    (url, host, depth),
                )
                self._move(host, None, ALIAS)
                self._known.add(hash(url))
                return True
            row_id, status, host = state
            if status != PENDING:
                return False
            db.execute(f"UPDATE urls SET status = {ALIAS} WHERE id = ?", (row_id,))
        self._move(host, PENDING, ALIAS)
        return True

    async def lease(
        self, limit: int, now: float, exclude_hosts: Sequence[str] = (), *, per_host: int = 0
    ) -> list[Lease]:
        if limit <= 0 or not self._counts[PENDING]:
            return []
        with self._errors("lease"):
            db = self._write()
            hosts = self._hosts_to_query(exclude_hosts)
            if hosts is None:
                excluded = list(exclude_hosts)
                where = _exclude(excluded)
                fresh = db.execute(LEASE_FRESH_SQL.format(exclude=where), (*excluded, limit))
                rows = fresh.fetchall()
                due = db.execute(LEASE_DUE_SQL.format(exclude=where), (now, *excluded, limit))
                rows += due.fetchall()
            else:
                ids: list[int] = []
                for host in hosts:
                    ids += (i for (i,) in db.execute(HOST_FRESH_SQL, (host, limit)))
                    ids += (i for (i,) in db.execute(HOST_DUE_SQL, (host, now, limit)))
                ids = sorted(ids)[:limit]
                marks = ",".join("?" * len(ids))
                sql = f"SELECT {COLUMNS} FROM urls WHERE id IN ({marks})"
                rows = db.execute(sql, ids).fetchall()
            # Each query gives id order; the merge is the FIFO order of all ready URLs.
            rows.sort()
            if per_host > 0:
                rows = at_most_per_host(rows, per_host)
            return self._mark_leased(db, rows[:limit])

    def _hosts_to_query(self, exclude_hosts: Sequence[str]) -> list[str] | None:
        """The hosts to query one by one, or None to walk the ready index past the excluded
        hosts: a host that holds most of the frontier while it is paused would otherwise make
        every lease walk its URLs."""
        if not exclude_hosts:
            return None
        pending = self._pending_by_host
        excluded = set(exclude_hosts)
        blocked = sum(pending.get(h, 0) for h in excluded)
        if blocked < WALK_ALWAYS:
            return None
        others = [h for h in pending if h not in excluded]
        return others if len(others) * PER_HOST_COST < blocked else None

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        with self._errors("lease_url"):
            db = self._write()
            row = db.execute(f"SELECT {COLUMNS}, status FROM urls WHERE url = ?", (url,)).fetchone()
            if row is None:
                host = host_key(url)
                cur = db.execute(
                    f"INSERT INTO urls (url, host, depth, status) VALUES (?, ?, ?, {LEASED})",
                    (url, host, depth),
                )
                self._move(host, None, LEASED)
                self._known.add(hash(url))
                assert cur.lastrowid is not None
                self._leased[url] = (cur.lastrowid, host)
                return Lease(url, depth, host, 0, 0, 0.0)
            status = row[-1]
            if status == LEASED:
                return None
            db.execute(f"UPDATE urls SET status = {LEASED} WHERE id = ?", (row[0],))
        lease = self._lease(row[:-1])
        self._move(lease.host, status, LEASED)
        self._leased[url] = (row[0], lease.host)
        return lease

    async def next_ready_at(self, exclude_hosts: Sequence[str] = ()) -> float | None:
        with self._errors("next_ready_at"):
            db = self._conn()
            hosts = self._hosts_to_query(exclude_hosts)
            if hosts is None:
                excluded = list(exclude_hosts)
                sql = NEXT_READY_SQL.format(exclude=_exclude(excluded))
                values = [db.execute(sql, excluded).fetchone()[0]]
            else:
                values = [db.execute(HOST_NEXT_READY_SQL, (h,)).fetchone()[0] for h in hosts]
        found = [float(v) for v in values if v is not None]
        return min(found) if found else None

    async def ack(self, lease: Lease, attempts: int) -> None:
        with self._errors("ack"):
            db = self._write()
            row_id, status, host = self._leased_row(db, lease)
            db.execute(
                f"UPDATE urls SET status = {DONE}, attempts = ?, next_attempt_at = 0 WHERE id = ?",
                (attempts, row_id),
            )
            if self._dlq_may_have_rows:
                db.execute("DELETE FROM dlq WHERE url = ?", (lease.url,))
        self._move(host, status, DONE)

    async def nack(self, lease: Lease, not_before: float, attempts: int, tries: int) -> None:
        with self._errors("nack"):
            db = self._write()
            row_id, status, host = self._leased_row(db, lease)
            db.execute(
                f"UPDATE urls SET status = {PENDING}, next_attempt_at = ?, attempts = ?, tries = ?"
                " WHERE id = ?",
                (max(0.0, not_before), attempts, tries, row_id),
            )
        self._move(host, status, PENDING)

    async def dead_letter(self, lease: Lease, attempts: int, entry: DLQEntry) -> DLQEntry:
        now = iso(self._clock())
        self._dlq_may_have_rows = True
        with self._errors("dead_letter"):
            db = self._write()
            row_id, status, host = self._leased_row(db, lease)
            # A stored page whose revisit failed stays stored (docs/recrawl.md).
            kept = db.execute("SELECT 1 FROM pages WHERE id = ?", (row_id,)).fetchone()
            new_status = DONE if kept is not None else DEAD
            db.execute(
                "UPDATE urls SET status = ?, attempts = ? WHERE id = ?",
                (new_status, attempts, row_id),
            )
            stored = dlq_entry(lease, attempts, entry, now)
            old = db.execute("SELECT id, entry FROM dlq WHERE url = ?", (lease.url,)).fetchone()
            if old is not None:
                stored.id = old[0]
                merge_previous(stored, json.loads(old[1]))
            values = (
                stored.url,
                stored.host,
                str(stored.error.get("category", "UNKNOWN")),
                json.dumps(stored.to_dict(), ensure_ascii=False),
                stored.first_failed_at,
                stored.last_failed_at,
            )
            if old is None:
                cur = db.execute(
                    "INSERT INTO dlq (url, host, category, entry, first_failed_at, last_failed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    values,
                )
                assert cur.lastrowid is not None
                stored.id = cur.lastrowid
            else:
                db.execute(
                    "UPDATE dlq SET url = ?, host = ?, category = ?, entry = ?,"
                    " first_failed_at = ?, last_failed_at = ? WHERE id = ?",
                    (*values, stored.id),
                )
        self._move(host, status, new_status)
        return stored

    async def give_up_host(self, host: str) -> list[Lease]:
        with self._errors("give_up_host"):
            db = self._write()
            rows = db.execute(
                f"SELECT {COLUMNS} FROM urls INDEXED BY urls_host"
                f" WHERE host = ? AND status = {PENDING} ORDER BY id",
                (host,),
            ).fetchall()
            # One statement for what may be most of the frontier; same rows as the SELECT.
            db.execute(
                f"UPDATE urls SET status = {LEASED} WHERE host = ? AND status = {PENDING}", (host,)
            )
        self._move(host, PENDING, LEASED, len(rows))
        leases = [self._lease(r) for r in rows]
        self._leased.update(
            (lease.url, (r[0], host)) for r, lease in zip(rows, leases, strict=True)
        )
        return leases

    async def counts(self) -> FrontierCounts:
        """From counters kept in memory (initialised at open): no query."""
        pending, leased, done, dead, aliased = self._counts
        return FrontierCounts(pending, leased, done, dead, aliased)

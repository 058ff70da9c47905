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

import contextlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from crawler.errors import StorageError
from crawler.records import DLQEntry, PageState, iso
from crawler.storage.base import (
    FrontierCounts,
    Lease,
    dlq_entry,
    merge_previous,
    parse_since,
)
from crawler.web.urls import host_key

# 2: status ALIAS (a redirect's final URL, seen but never stored itself);
# 3: table pages (a stored page's recrawl state, docs/recrawl.md).
SCHEMA_VERSION = 3
# Page cache: the UNIQUE url index takes inserts at random places; with the default 2 MB
# cache most of them read a page at a million URLs. This keeps the hot index pages in memory.
CACHE_KIB = 32 * 1024

# URL states as stored in urls.status (small ints keep the index small).
PENDING, LEASED, DONE, DEAD, ALIAS = 0, 1, 2, 3, 4

_SCHEMA = """
CREATE TABLE urls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- discovery order: leases are FIFO by id
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    status INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    tries INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0
);
-- Lease scans: pending rows by next-attempt time, then id, with host riding along, so
-- exclude_hosts is checked in the index without reading the table row.
CREATE INDEX urls_ready ON urls (status, next_attempt_at, id, host);
-- One host's pending URLs: give_up_host, and leases when most pending URLs are excluded.
CREATE INDEX urls_host ON urls (host, status, next_attempt_at);
CREATE TABLE dlq (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    category TEXT NOT NULL,
    entry TEXT NOT NULL,  -- DLQEntry.to_dict() as JSON (its id is the row id)
    first_failed_at TEXT NOT NULL,
    last_failed_at TEXT NOT NULL
);
CREATE INDEX dlq_category ON dlq (category);
CREATE INDEX dlq_host ON dlq (host);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Version 3. One row per stored page, keyed by its urls.id; the state is PageState.to_json().
_PAGES_SCHEMA = """
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    due_at REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX pages_due ON pages (due_at);
"""
_DUE_WHERE = (
    f"status = {DONE} AND id IN (SELECT id FROM pages INDEXED BY pages_due WHERE due_at <= ?)"
)

_COLUMNS = "id, url, depth, host, attempts, tries, next_attempt_at"

# Fresh URLs (never deferred, or re-queued) have next_attempt_at = 0: equality on both index
# columns walks the index in id order with no sort, however many rows are pending.
_LEASE_FRESH_SQL = (
    f"SELECT {_COLUMNS} FROM urls INDEXED BY urls_ready"
    f" WHERE status = {PENDING} AND next_attempt_at = 0{{exclude}} ORDER BY id LIMIT ?"
)
# Deferred URLs whose time has come: a range on the index, sorted by id. Only the deferred ones
# that are ready are sorted, not the whole frontier.
_LEASE_DUE_SQL = (
    f"SELECT {_COLUMNS} FROM urls INDEXED BY urls_ready WHERE status = {PENDING}"
    " AND next_attempt_at > 0 AND next_attempt_at <= ?{exclude} ORDER BY id LIMIT ?"
)
_NEXT_READY_SQL = (
    f"SELECT min(next_attempt_at) FROM urls INDEXED BY urls_ready"
    f" WHERE status = {PENDING}{{exclude}}"
)
# The same three for one host, when walking past the excluded hosts would cost more. Ids only:
# the index covers them, and only the ids that win the merge are read from the table.
_HOST_FRESH_SQL = (
    "SELECT id FROM urls INDEXED BY urls_host"
    f" WHERE host = ? AND status = {PENDING} AND next_attempt_at = 0 ORDER BY id LIMIT ?"
)
_HOST_DUE_SQL = (
    f"SELECT id FROM urls INDEXED BY urls_host WHERE host = ? AND status = {PENDING}"
    " AND next_attempt_at > 0 AND next_attempt_at <= ? ORDER BY id LIMIT ?"
)
_HOST_NEXT_READY_SQL = (
    "SELECT min(next_attempt_at) FROM urls INDEXED BY urls_host"
    f" WHERE host = ? AND status = {PENDING}"
)
# A walk of the ready index skips an excluded URL in well under a microsecond; two indexed
# queries for one host cost some 20 µs. Walk unless the excluded hosts hold this many pending
# URLs per host left to query (and at least _WALK_ALWAYS in all).
_PER_HOST_COST = 40
_WALK_ALWAYS = 5000

_OUT_OFFSET_KEY = "out_offset:"
_IN_BATCH = 500  # URLs per "IN (...)" query (SQLite's default limit on variables is 32,766)


def _page(url: str, due_at: float, state: str) -> PageState:
    try:
        data = json.loads(state)
    except ValueError:
        data = {}
    return PageState.from_json(url, float(due_at), data if isinstance(data, dict) else {})


def _exclude(hosts: Sequence[str]) -> str:
    return f" AND host NOT IN ({','.join('?' * len(hosts))})" if hosts else ""


def _at_most_per_host(rows: list[tuple[Any, ...]], per_host: int) -> list[tuple[Any, ...]]:
    """The first ``per_host`` rows of each host (``rows`` are in FIFO order)."""
    taken: dict[str, int] = {}
    kept = []
    for row in rows:
        n = taken.get(row[3], 0)  # row[3]: host (see _COLUMNS)
        if n < per_host:
            taken[row[3]] = n + 1
            kept.append(row)
    return kept


class SQLiteStorage:
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
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        if version < 3:
            for statement in _PAGES_SCHEMA.split(";"):
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
                self._set_meta(_OUT_OFFSET_KEY + out_path, out_offset)
            db = self._conn()
            if db.in_transaction:
                db.execute("COMMIT")

    async def out_offset(self, out_path: str) -> int | None:
        value = await self.get_meta(_OUT_OFFSET_KEY + out_path)
        return None if value is None else int(value)

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
                fresh = db.execute(_LEASE_FRESH_SQL.format(exclude=where), (*excluded, limit))
                rows = fresh.fetchall()
                due = db.execute(_LEASE_DUE_SQL.format(exclude=where), (now, *excluded, limit))
                rows += due.fetchall()
            else:
                ids: list[int] = []
                for host in hosts:
                    ids += (i for (i,) in db.execute(_HOST_FRESH_SQL, (host, limit)))
                    ids += (i for (i,) in db.execute(_HOST_DUE_SQL, (host, now, limit)))
                ids = sorted(ids)[:limit]
                marks = ",".join("?" * len(ids))
                sql = f"SELECT {_COLUMNS} FROM urls WHERE id IN ({marks})"
                rows = db.execute(sql, ids).fetchall()
            # Each query gives id order; the merge is the FIFO order of all ready URLs.
            rows.sort()
            if per_host > 0:
                rows = _at_most_per_host(rows, per_host)
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
        if blocked < _WALK_ALWAYS:
            return None
        others = [h for h in pending if h not in excluded]
        return others if len(others) * _PER_HOST_COST < blocked else None

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        with self._errors("lease_url"):
            db = self._write()
            row = db.execute(
                f"SELECT {_COLUMNS}, status FROM urls WHERE url = ?", (url,)
            ).fetchone()
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
                sql = _NEXT_READY_SQL.format(exclude=_exclude(excluded))
                values = [db.execute(sql, excluded).fetchone()[0]]
            else:
                values = [db.execute(_HOST_NEXT_READY_SQL, (h,)).fetchone()[0] for h in hosts]
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
                f"SELECT {_COLUMNS} FROM urls INDEXED BY urls_host"
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

    # -- recrawl -------------------------------------------------------------------------------
    async def get_pages(self, urls: Sequence[str]) -> dict[str, PageState]:
        out: dict[str, PageState] = {}
        wanted = [u for u in dict.fromkeys(urls) if hash(u) in self._known]
        with self._errors("get_pages"):
            db = self._conn()
            for i in range(0, len(wanted), _IN_BATCH):
                chunk = wanted[i : i + _IN_BATCH]
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
                f"SELECT host, count(*) FROM urls WHERE {_DUE_WHERE} GROUP BY host", (now,)
            ).fetchall()
            if not by_host:
                return 0
            db.execute(
                f"UPDATE urls SET status = {PENDING}, tries = 0, next_attempt_at = 0"
                f" WHERE {_DUE_WHERE}",
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

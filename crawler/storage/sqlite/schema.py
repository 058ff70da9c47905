"""The SQLite state file's schema and the statements the frontier runs often (see
:mod:`crawler.storage.sqlite`)."""

from __future__ import annotations

from typing import Any

# 2: status ALIAS (a redirect's final URL, seen but never stored itself);
# 3: table pages (a stored page's recrawl state, docs/recrawl.md).
SCHEMA_VERSION = 3
# Page cache: the UNIQUE url index takes inserts at random places; with the default 2 MB
# cache most of them read a page at a million URLs. This keeps the hot index pages in memory.
CACHE_KIB = 32 * 1024

# URL states as stored in urls.status (small ints keep the index small).
PENDING, LEASED, DONE, DEAD, ALIAS = 0, 1, 2, 3, 4

SCHEMA = """
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
PAGES_SCHEMA = """
CREATE TABLE pages (
    id INTEGER PRIMARY KEY,
    due_at REAL NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX pages_due ON pages (due_at);
"""
DUE_WHERE = (
    f"status = {DONE} AND id IN (SELECT id FROM pages INDEXED BY pages_due WHERE due_at <= ?)"
)

COLUMNS = "id, url, depth, host, attempts, tries, next_attempt_at"

# Fresh URLs (never deferred, or re-queued) have next_attempt_at = 0: equality on both index
# columns walks the index in id order with no sort, however many rows are pending.
LEASE_FRESH_SQL = (
    f"SELECT {COLUMNS} FROM urls INDEXED BY urls_ready"
    f" WHERE status = {PENDING} AND next_attempt_at = 0{{exclude}} ORDER BY id LIMIT ?"
)
# Deferred URLs whose time has come: a range on the index, sorted by id. Only the deferred ones
# that are ready are sorted, not the whole frontier.
LEASE_DUE_SQL = (
    f"SELECT {COLUMNS} FROM urls INDEXED BY urls_ready WHERE status = {PENDING}"
    " AND next_attempt_at > 0 AND next_attempt_at <= ?{exclude} ORDER BY id LIMIT ?"
)
NEXT_READY_SQL = (
    f"SELECT min(next_attempt_at) FROM urls INDEXED BY urls_ready"
    f" WHERE status = {PENDING}{{exclude}}"
)
# The same three for one host, when walking past the excluded hosts would cost more. Ids only:
# the index covers them, and only the ids that win the merge are read from the table.
HOST_FRESH_SQL = (
    "SELECT id FROM urls INDEXED BY urls_host"
    f" WHERE host = ? AND status = {PENDING} AND next_attempt_at = 0 ORDER BY id LIMIT ?"
)
HOST_DUE_SQL = (
    f"SELECT id FROM urls INDEXED BY urls_host WHERE host = ? AND status = {PENDING}"
    " AND next_attempt_at > 0 AND next_attempt_at <= ? ORDER BY id LIMIT ?"
)
HOST_NEXT_READY_SQL = (
    "SELECT min(next_attempt_at) FROM urls INDEXED BY urls_host"
    f" WHERE host = ? AND status = {PENDING}"
)
# A walk of the ready index skips an excluded URL in well under a microsecond; two indexed
# queries for one host cost some 20 µs. Walk unless the excluded hosts hold this many pending
# URLs per host left to query (and at least WALK_ALWAYS in all).
PER_HOST_COST = 40
WALK_ALWAYS = 5000

OUT_OFFSET_KEY = "out_offset:"
IN_BATCH = 500  # URLs per "IN (...)" query (SQLite's default limit on variables is 32,766)


def at_most_per_host(rows: list[tuple[Any, ...]], per_host: int) -> list[tuple[Any, ...]]:
    """The first ``per_host`` of each host's ``COLUMNS`` rows (in FIFO order): a lease's cap."""
    taken: dict[str, int] = {}
    kept = []
    for row in rows:
        n = taken.get(row[3], 0)  # row[3]: host
        if n < per_host:
            taken[row[3]] = n + 1
            kept.append(row)
    return kept

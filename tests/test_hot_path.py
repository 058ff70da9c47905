"""Keeps the per-page fast paths honest (issue 6): each shortcut must give the answer the slow
path would have given, and must actually skip the slow work.

* (the page classifier's pre-check has its own property test in tests/test_blocks.py)
* SQLite settles a lease it handed out by row id (no lookup by URL) and skips the DLQ delete
  while the DLQ is empty; a DLQ entry from an earlier run must still go when its URL is stored.
* A known link costs a set lookup: ``is_known`` and an ``add`` of known URLs touch no table.
"""

from __future__ import annotations

from pathlib import Path

from crawler.records import DLQEntry
from crawler.storage import SQLiteStorage


# -- SQLite: settling by id, skipping the empty DLQ ---------------------------------------------
def url(n: int) -> str:
    return f"http://h{n % 3}.test:8080/p{n}"


def _statements(store: SQLiteStorage) -> list[str]:
    """Start recording the SQL statements ``store`` runs from now on."""
    seen: list[str] = []
    assert store._db is not None
    store._db.set_trace_callback(seen.append)
    return seen


async def test_settling_a_lease_of_this_process_needs_no_lookup(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "state.sqlite3")
    await store.open()
    try:
        await store.add([(url(n), 0) for n in range(4)])
        leases = await store.lease(4, 0.0)
        statements = _statements(store)
        await store.ack(leases[0], 1)
        await store.nack(leases[1], 5.0, 1, 1)
        assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]
        assert not any("SELECT" in s or "dlq" in s for s in statements)
        counts = await store.counts()
        assert (counts.pending, counts.leased, counts.done) == (1, 2, 1)
    finally:
        await store.close()


async def test_a_dlq_entry_of_an_earlier_run_goes_when_its_url_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    first = SQLiteStorage(path)
    await first.open()
    await first.add([(url(1), 0), (url(2), 0)])
    failed, _ = await first.lease(2, 0.0)
    entry = DLQEntry(
        id=0,
        url=failed.url,
        attempts=1,
        error={"category": "SERVER", "message": "HTTP 503", "status_code": 503},
        analysis={},
        first_failed_at="",
        last_failed_at="",
    )
    await first.dead_letter(failed, 1, entry)
    await first.close()

    second = SQLiteStorage(path)  # the flag comes from the file, not from memory
    await second.open()
    try:
        assert await second.dlq_requeue(None) == 1
        leases = {lease.url: lease for lease in await second.lease(5, 0.0)}
        assert set(leases) == {url(1), url(2)}  # url(2) was leased by the dead run
        await second.ack(leases[url(1)], 2)
        assert await second.dlq_list() == []
    finally:
        await second.close()


async def test_a_lease_from_before_a_reopen_still_settles(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SQLiteStorage(path)
    await store.open()
    await store.add([(url(1), 0)])
    (lease,) = await store.lease(1, 0.0)
    await store.commit()
    await store.close()
    await store.open()  # the lease's row is pending again; settling it looks the URL up
    try:
        await store.ack(lease, 1)
        counts = await store.counts()
        assert (counts.pending, counts.leased, counts.done) == (0, 0, 1)
    finally:
        await store.close()


async def test_known_links_cost_no_query(tmp_path: Path) -> None:
    store = SQLiteStorage(tmp_path / "state.sqlite3")
    await store.open()
    try:
        await store.add([(url(n), 0) for n in range(10)])
        statements = _statements(store)
        assert all(store.is_known(url(n)) for n in range(10))
        assert not store.is_known(url(10))
        assert statements == []
    finally:
        await store.close()

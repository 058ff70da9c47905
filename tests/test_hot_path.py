"""Keeps the per-page fast paths honest (issue 6): each shortcut must give the answer the slow
path would have given, and must actually skip the slow work.

* ``may_contain_words`` clears ordinary pages before ``looks_blocked`` runs: it must never say
  "no" to a page that ``looks_blocked`` flags.
* SQLite settles a lease it handed out by row id (no lookup by URL) and skips the DLQ delete
  while the DLQ is empty; a DLQ entry from an earlier run must still go when its URL is stored.
* A known link costs a set lookup: ``is_known`` and an ``add`` of known URLs touch no table.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.decide.blocks import (
    BLOCK_SCAN_CHARS,
    DEFAULT_BLOCK_MARKERS,
    looks_blocked,
    may_contain_words,
)
from crawler.records import DLQEntry
from crawler.storage import SQLiteStorage
from crawler.web.parse import decode_body

MARKERS = list(DEFAULT_BLOCK_MARKERS)

# Page fragments: the markers' words in any case, markup between or around them, whitespace,
# and characters that are more than one byte of UTF-8 or that lower-case to ASCII letters.
_WORDS = sorted({w for m in MARKERS for w in m.split()} | {"you", "are", "a", "cf", "chl"})
_fragment = st.one_of(
    st.sampled_from(_WORDS).flatmap(
        lambda w: st.sampled_from([w, w.upper(), w.title(), w.replace("i", "\u0130")])
    ),
    st.sampled_from(
        [
            " ",
            "\n",
            "\t ",
            "<b>",
            "</b>",
            "<title>",
            "</title>",
            "<script>x</script>",
            "<p>",
            "<style>.c{}</style>",
            "<a href='/captcha-help'>",
            "é",
            "€",
            "😀",
            "\u212aelvin",
            "-",
            "\u2028",
            "<",
            ">",
            "...",
        ]
    ),
)


@st.composite
def _phrase(draw: st.DrawFn) -> str:
    """A marker phrase as a page may show it: any case, markup or breaks between its words."""
    words = draw(st.sampled_from(MARKERS)).split()
    out = draw(st.sampled_from(["", "<b>", " "]))
    for word in words:
        out += draw(st.sampled_from([word, word.upper(), word.title()]))
        out += draw(st.sampled_from([" ", "\n  ", " <i>", "</i> ", "-", ""]))
    return out


_page_text = st.lists(st.one_of(_fragment, _phrase()), max_size=30).map("".join)


def _decoded(body: bytes) -> tuple[str, str]:
    return decode_body(body, "text/html; charset=utf-8")


@settings(max_examples=400, deadline=None)
@given(_page_text, st.lists(st.sampled_from(MARKERS), min_size=1, max_size=4), st.booleans())
def test_may_contain_words_never_clears_a_block_page(
    text: str, markers: list[str], error_status: bool
) -> None:
    body = text.encode("utf-8")
    decoded, encoding = _decoded(body)
    status = 403 if error_status else 200
    if looks_blocked(decoded, markers, status):
        assert may_contain_words(body, decoded, encoding, markers, BLOCK_SCAN_CHARS)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["x", "é", "€", "😀"]),
    st.integers(BLOCK_SCAN_CHARS - 40, BLOCK_SCAN_CHARS + 5),
    st.sampled_from(["captcha", "CAPTCHA", "Access <i>Denied</i>"]),
    st.booleans(),
)
def test_the_scanned_head_covers_the_characters_looks_blocked_reads(
    filler: str, pad: int, marker: str, bom: bool
) -> None:
    # A title makes the page's text count (a marker in the title alone is enough), and the
    # marker sits right at the edge of the first BLOCK_SCAN_CHARS characters.
    text = "<title>" + filler * pad + marker + "</title>"
    body = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    decoded, encoding = _decoded(body)
    if looks_blocked(decoded, MARKERS, 403):
        assert may_contain_words(body, decoded, encoding, MARKERS, BLOCK_SCAN_CHARS)


def test_an_ordinary_page_is_cleared_and_a_block_page_is_not() -> None:
    ordinary = ("<html><title>Café – news</title><p>" + "Lorem ipsum dolor. " * 800).encode()
    block = b"<html><title>Just a moment...</title><p>Checking your browser</p></html>"
    for body, expected in ((ordinary, False), (block, True)):
        decoded, encoding = _decoded(body)
        assert may_contain_words(body, decoded, encoding, MARKERS, BLOCK_SCAN_CHARS) is expected
        assert looks_blocked(decoded, MARKERS) is expected


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

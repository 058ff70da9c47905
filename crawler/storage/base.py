"""The storage contract: a lease protocol over the frontier, plus the DLQ and a little metadata.

One URL's life in storage::

    add ─► pending ─lease─► leased ─ack─────────► done
              ▲               │  └─dead_letter──► dead (one DLQ entry per URL)
              └──nack(not_before)┘
    dlq_requeue: dead ─► pending (tries reset to 0, attempts kept, DLQ entry kept until an ack)
    requeue_due / revisit_now: done ─► pending (a recrawl's revisit; tries 0, attempts kept)

A stored page also has a :class:`~crawler.records.PageState` (validators, digest, due time:
docs/recrawl.md), written with its ack. A URL that has one stays done when it is dead-lettered:
a failed revisit records the failure in the DLQ without losing the stored page.

Writes are staged and made durable together by :meth:`Storage.commit`, which also records how many
bytes of the results file are covered by the committed acks (``out_offset``): on resume the results
file is cut back to that offset, so a crash between writing lines and committing neither repeats nor
tears a record. A lease that was never acked or nacked (the process died) is pending again when the
storage is next opened (SQLite) or when its lease expires (Redis).

Every backend passes the same contract suite (``tests/test_storage_contract.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from crawler.errors import ConfigError
from crawler.records import DLQEntry, PageState


@dataclass(slots=True)
class Lease:
    """A URL handed to one worker. ``url`` is the normalised URL, the frontier's key."""

    url: str
    depth: int
    host: str  # "host:port", as urls.host_key gives it
    attempts: int  # requests made for this URL so far, across resumes and DLQ retries
    tries: int  # requests made since it was added or last re-queued from the DLQ (the retry count)
    not_before: float = 0.0  # the next-attempt time it had when leased
    # The lease's fencing token (a shared store's counter; 0: unfenced): an ack, nack or dead
    # letter with a token that no longer holds the URL is refused (docs/workers.md, "Fencing").
    fence: int = 0


@dataclass(frozen=True, slots=True)
class FrontierCounts:
    pending: int  # waiting, ready or not
    leased: int
    done: int  # stored: each has a line in the results file
    dead: int  # failed for good (their DLQ entries may have been purged since)
    aliased: int = 0  # a redirect's final URL: seen, never stored as a page of its own


class Storage(Protocol):
    """What the crawler needs from a state store. All methods may raise ``StorageError``."""

    # True when other processes lease from the same frontier (Redis): the scheduler then leases
    # only what it can start, at most ``per_host`` a host, so that workers share the work.
    shared: bool

    async def open(self) -> None:
        """Create or open the store; leases left by a dead run become pending again."""

    async def close(self) -> None:
        """Commit what is staged and release every resource."""

    async def abort(self) -> None:
        """Release every resource WITHOUT committing what is staged (the results file could not
        be written, so the acks that cover its lines must not become durable)."""

    # -- frontier --------------------------------------------------------------------------
    def is_known(self, url: str) -> bool:
        """True when ``url`` (normalised) is already in the frontier in any state. O(1), no I/O."""

    async def add(self, entries: Iterable[tuple[str, int]]) -> int:
        """Stage new URLs ``(normalised url, depth)``; known ones are skipped. Returns how many
        were new. New URLs are immediately visible to :meth:`lease`."""

    async def add_done(self, url: str, depth: int) -> bool:
        """Record ``url`` as seen (a redirect's final URL, an *alias*): a later link to it is not
        fetched, and it does not count as a stored page. A known URL that is still pending (not
        leased) becomes an alias too; one leased, done or dead is left alone. Returns True when
        the URL's state changed."""

    async def lease(
        self, limit: int, now: float, exclude_hosts: Sequence[str] = (), *, per_host: int = 0
    ) -> list[Lease]:
        """Up to ``limit`` pending URLs whose next-attempt time is ``<= now``, oldest first
        (breadth-first by discovery order), skipping hosts in ``exclude_hosts``. ``per_host``
        > 0: at most that many of one host, its oldest (a shared store's fair split)."""

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        """Lease one given URL now, whatever its state or next-attempt time (adding it when
        unknown): ``AdaptiveCrawler.crawl(url)`` fetches on request. None when it is leased
        already."""

    async def next_ready_at(self, exclude_hosts: Sequence[str] = ()) -> float | None:
        """The earliest next-attempt time among pending URLs (None when none is pending)."""

    async def ack(self, lease: Lease, attempts: int) -> None:
        """The URL was stored: mark it done with its final attempt count; drop its DLQ entry."""

    async def nack(self, lease: Lease, not_before: float, attempts: int, tries: int) -> None:
        """Return the URL to pending, not to be leased before ``not_before`` (epoch seconds).
        A deferral passes the lease's own counts; a retry passes them incremented."""

    async def dead_letter(self, lease: Lease, attempts: int, entry: DLQEntry) -> DLQEntry:
        """The URL failed for good: mark it dead and store (or update) its DLQ entry.
        ``entry.id`` is assigned by the store; an existing entry for the URL is updated in
        place (attempts, error, analysis, last_failed_at; history appended). A URL with a page
        state (a stored page whose revisit failed) is marked done instead: its page is kept."""

    async def give_up_host(self, host: str) -> list[Lease]:
        """Lease every pending URL of ``host`` at once (ready or not), so the caller can
        dead-letter them when the host is given up."""

    async def fence_acks(self) -> set[str]:
        """Called before the results lines of the staged acks are written: the URLs whose lease
        was lost meanwhile (a shared store's lease expired and was reclaimed). Their staged acks
        and page states are dropped; the caller drops their lines. The other staged acks' leases
        are held until the next :meth:`commit`. A store of one process loses no lease: empty."""

    async def commit(self, out_path: str | None = None, out_offset: int | None = None) -> None:
        """Make everything staged durable in one transaction, with the results file offset."""

    async def out_offset(self, out_path: str) -> int | None:
        """The committed byte offset of the results file at ``out_path`` (None if never set)."""

    async def counts(self) -> FrontierCounts: ...

    # -- DLQ -------------------------------------------------------------------------------
    async def dlq_list(
        self,
        category: str | None = None,
        host: str | None = None,
        since: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[DLQEntry]:
        """Entries filtered by category, host ("host:port") and last failure time (ISO 8601),
        oldest first; ``limit``: only the newest ``limit`` of them."""

    async def dlq_count(self) -> int:
        """How many DLQ entries there are (the summary's ``dlq_items``)."""

    async def dlq_get(self, entry_id: int) -> DLQEntry | None: ...

    async def dlq_requeue(self, ids: Sequence[int] | None) -> int:
        """Make the entries' URLs pending again (all entries when ``ids`` is None); returns how
        many. Entries stay until their URL is acked."""

    async def dlq_purge(self, ids: Sequence[int] | None = None) -> int:
        """Delete entries (all when ``ids`` is None); their URLs stay dead."""

    # -- recrawl: the states of stored pages (docs/recrawl.md) ---------------------------------
    async def get_pages(self, urls: Sequence[str]) -> dict[str, PageState]:
        """The page states of those of ``urls`` (normalised) that have one."""

    async def put_page(self, page: PageState) -> None:
        """Stage ``page`` (replacing the URL's state), durable at the next commit: written in
        the same batch as the ack or results line it goes with."""

    async def requeue_due(self, now: float) -> int:
        """Every done URL whose page is due by ``now`` becomes pending again (``tries`` 0,
        ``attempts`` kept, ready at once, in discovery order): a recrawl run's revisits.
        Returns how many."""

    async def revisit_now(self, url: str) -> bool:
        """One done URL with a page state becomes pending now (a sitemap said it changed).
        False when the URL is not done or has no page state."""

    async def page_count(self) -> int:
        """Stored pages (each has content in the results file), whether being revisited or
        not: the summary's ``pages_ok``. Counts what is committed."""

    # -- small metadata (seeds, out path, run history, recrawl hints, LLM verdict cache) --------
    async def get_meta(self, key: str) -> Any:
        """A JSON value stored under ``key``, or None."""

    async def set_meta(self, key: str, value: Any) -> None:
        """Stage a JSON value under ``key`` (durable at the next commit)."""


# -- what every backend does the same way with DLQ entries --------------------------------------
def dlq_entry(lease: Lease, attempts: int, entry: DLQEntry, now: str) -> DLQEntry:
    """The entry a backend stores for ``lease``: the caller's entry with the lease's facts and
    the times and history it may lack filled in (``id`` 0 until the backend assigns one)."""
    return DLQEntry(
        id=0,
        url=lease.url,
        attempts=attempts,
        error=entry.error,
        analysis=entry.analysis,
        first_failed_at=entry.first_failed_at or now,
        last_failed_at=entry.last_failed_at or now,
        depth=lease.depth,
        host=entry.host or lease.host,
        context=entry.context,
        history=list(entry.history)
        or [{"at": entry.last_failed_at or now, "attempt": attempts, "error": entry.error}],
    )


def merge_previous(stored: DLQEntry, previous: Mapping[str, Any]) -> None:
    """A URL that fails for good again keeps its first failure time and its whole history."""
    stored.first_failed_at = previous.get("first_failed_at") or stored.first_failed_at
    stored.history = list(previous.get("history", [])) + stored.history


def parse_since(since: str) -> datetime:
    """``dlq list --since``: an ISO 8601 time (UTC when it names no zone)."""
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise ConfigError("--since", since, "an ISO 8601 date or time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

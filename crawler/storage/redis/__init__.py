"""The shared backend: the frontier, the DLQ and small metadata in Redis, for many workers.

Every worker process (on any machine) opens a :class:`RedisStorage` on the same server and
namespace; they lease from one frontier. A lease is a member of a sorted set scored by its expiry
(``lease_timeout_s`` after it was taken) and names its owner (one random token per open store): a
worker that dies loses nothing, its URLs are pending again as soon as any worker's next lease call
finds their lease expired (Crawlee's Redis request queue reclaims stale leases the same way;
scrapy-redis pops without a lease and loses in-flight URLs). Every state change is one Lua script,
so it is atomic across workers.

Keys, all under ``crawler:{<namespace>}:`` (the braces are a cluster hash tag, keeping one crawl's
keys in one slot of a Redis Cluster: docs/redis-cluster.md; connect.py opens a cluster)::

    urls       hash  url -> "seq|depth|status|attempts|tries|next_attempt_at|owner|host"
    seq        counter of discovery order (FIFO: leases go by seq)
    q:<host>   zset  the host's ready URLs, scored by seq
    d:<host>   zset  the host's deferred URLs, scored by next_attempt_at
    heads      zset  host -> lowest seq in q:<host> (present while that queue is not empty)
    nexts      zset  host -> earliest time in d:<host>
    leases     zset  url -> lease expiry
    counts     hash  p, l, d, x, a: pending, leased, done, dead, aliased (redirect targets)
    dlq        hash  entry id -> DLQEntry JSON;  dlq:url hash url -> id;  dlq:seq counter
    meta       hash  key -> JSON;  offsets hash "<machine>:<results path>" -> committed bytes
    pages      hash  url -> PageState JSON (a stored page's recrawl state, docs/recrawl.md)
    due        zset  url -> due time, of the stored pages not being revisited right now
    pages:v    string "1" once the pages of an older state have been given states

Per-host queues make ``exclude_hosts`` cost one entry of ``heads`` per excluded host, however many
URLs it holds. A deferred URL is promoted to its host's ready queue, at its discovery place, by the
first lease call whose ``now`` has passed its time (so workers' clocks should roughly agree).

What is written when (the contract's "staged until commit", shared with other workers):

* ``ack``, ``put_page``, ``set_meta`` and the results file offset are staged in this process and
  sent in ONE script (lua/commit.lua) at :meth:`RedisStorage.commit`: an ack must never be durable
  before the results line it covers. Staged acks count in :meth:`counts` and hide their DLQ
  entries at once.
* ``add`` is staged too (new URLs cost no round trip), and the staged URLs are sent before any call
  that leases (``lease``, ``lease_url``, ``give_up_host``, ``add_done``): a URL must be in the
  shared frontier before it can be leased atomically. So a new URL is visible to this process's
  next lease at once, and to other workers after that lease or the next commit.
* Leases and the rest (``nack``, ``dead_letter``, DLQ operations) are written through.
* Each commit also renews the leases this process holds that have used half their time, so a
  long-staged ack or a slow fetch does not lose its lease.

Between workers, final outcomes win: an ack or dead letter is applied even if the lease had lapsed
(the page was stored, or the failure happened); a nack is ignored when another worker has leased
the URL since, or settled it. A lapsed lease that another worker re-fetched yields a second record
of that page in the other worker's results file: keep ``lease_timeout_s`` above the longest fetch.

Durability is the server's: run it with ``appendonly yes`` for a crash of the server itself.
Needs Redis >= 6.2 (``ZADD LT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from crawler.errors import ConfigError, StorageError
from crawler.records import DLQEntry, PageState, iso
from crawler.storage.base import (
    FrontierCounts,
    Lease,
    dlq_entry,
    merge_previous,
    parse_since,
)
from crawler.storage.hostledger import SLOT_TTL_S
from crawler.storage.redis.connect import Client, connect
from crawler.storage.redis.hosts import RedisHostLedger

# The same timestamps and --since parsing as the embedded backend (one definition of each).
from crawler.web.urls import host_key

_Arg = str | int | float  # what a script takes in ARGV
NAMESPACE_PARAM = "namespace"  # redis_url query parameter naming the crawl's namespace
# Expired leases reclaimed per lease call: bounds one script's run when many workers died.
RECLAIM_BATCH = 1000
DEAD_LETTER_RETRIES = 5  # a concurrent DLQ change for the same URL makes dead_letter retry

# -- Lua ------------------------------------------------------------------------------------------
# The scripts are package files (lua/*.lua): prelude.lua (shared helpers) is put in front of each.
# requeue and purge also get dlq_ids.lua. RECLAIM_BATCH_N in a script is the reclaim bound.
_SCRIPT_PARTS: dict[str, tuple[str, ...]] = {
    "lease": ("lease",),
    "next_ready": ("next_ready",),
    "add": ("add",),
    "add_done": ("add_done",),
    "lease_url": ("lease_url",),
    "nack": ("nack",),
    "dead": ("dead",),
    "give_up": ("give_up",),
    "ack": ("ack",),
    "renew": ("renew",),
    "release": ("release",),
    "requeue": ("dlq_ids", "requeue"),
    "purge": ("dlq_ids", "purge"),
    "requeue_due": ("revisit_fn", "requeue_due"),
    "revisit": ("revisit_fn", "revisit"),
    "commit": ("fn:add", "fn:ack", "fn:renew", "commit"),  # "fn:x": x.lua as part_x(ARGV)
}
REQUEUE_BATCH = 1000  # due pages requeued per script call (bounds one script's run)


def _lua(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def _part(part: str) -> str:
    if not part.startswith("fn:"):
        return _lua(part)
    name = part.removeprefix("fn:")  # the script's body, as a function of its own ARGV
    return f"local function part_{name}(ARGV)\n{_lua(name)}\nend\n"


def _scripts() -> dict[str, str]:
    """Each script's full source: the prelude, then its parts."""
    prelude = _lua("prelude")
    return {
        name: (prelude + "".join(_part(part) for part in parts)).replace(
            "RECLAIM_BATCH_N", str(RECLAIM_BATCH)
        )
        for name, parts in _SCRIPT_PARTS.items()
    }


# -- helpers ---------------------------------------------------------------------------------------
async def _to_the_end(send: Coroutine[Any, Any, None]) -> bool:
    """Await ``send`` to its end even when the caller is cancelled meanwhile, and say whether it
    was (the caller re-raises after its bookkeeping). A write cut off mid-flight would leave it
    unknown whether Redis applied it; waiting a round trip longer makes the outcome known. The
    write's own exception propagates."""
    task = asyncio.ensure_future(send)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done() or task.cancelled():
            await asyncio.wait([task])
        if task.cancelled():
            raise
        task.result()  # the write's own error wins over the cancellation
        return True
    return False


def namespace_for(state_dir: str | Path) -> str:
    """The default namespace of a crawl: the SHA-1 of its state directory's absolute path, so
    workers on several machines that use the same state dir path share one frontier."""
    return hashlib.sha1(str(Path(state_dir).resolve()).encode()).hexdigest()


def redis_target(redis_url: str, state_dir: str | Path) -> tuple[str, str]:
    """``(url for redis-py, namespace)``. A ``namespace`` query parameter in ``redis_url`` names
    the crawl explicitly (``redis://host:6379/0?namespace=shop``), so workers with different state
    dirs (e.g. several on one machine, each with its own lock and results file) share a frontier;
    without it the namespace is :func:`namespace_for` the state dir."""
    parts = urlsplit(redis_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == NAMESPACE_PARAM]
    if not names:
        return redis_url, namespace_for(state_dir)
    if not names[-1] or any(c in names[-1] for c in "{}"):
        raise ConfigError("storage.redis_url", redis_url, "a non-empty namespace without braces")
    rest = urlencode([(k, v) for k, v in query if k != NAMESPACE_PARAM])
    return urlunsplit(parts._replace(query=rest)), names[-1]


def _lease(url: str, raw: str) -> Lease:
    _seq, depth, _status, attempts, tries, nat, _owner, host = raw.split("|", 7)
    return Lease(url, int(depth), host, int(attempts), int(tries), float(nat))


def _leases(flat: Sequence[str]) -> list[Lease]:
    return [_lease(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _page_json(page: PageState) -> str:
    return json.dumps(page.to_json(), ensure_ascii=False, separators=(",", ":"))


def _page_from(url: str, due_at: float, text: str) -> PageState:
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    return PageState.from_json(url, due_at, data if isinstance(data, dict) else {})


def _entry(entry_id: int | str, text: str) -> DLQEntry:
    data = json.loads(text)
    data["id"] = int(entry_id)
    return DLQEntry(**data)


class RedisStorage:
    """The :class:`~crawler.storage.base.Storage` contract on a Redis server, shared by workers.

    ``url`` is a redis-py URL (``redis://``, ``rediss://``, ``unix://``); ``namespace`` keeps one
    crawl's keys apart from another's on the same server (see :func:`redis_target`). ``clock``
    times leases and stamps DLQ entries that come without times. Nothing connects in
    ``__init__``; :meth:`open` does.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        clock: Callable[[], float] = time.time,
        lease_timeout_s: float = 300.0,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.lease_timeout_s = lease_timeout_s
        self._clock = clock
        self._prefix = f"crawler:{{{namespace}}}:"
        self._offset_field = socket.gethostname() + ":"  # results files are per machine
        self._client: Client | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._owner = ""
        self._known: set[int] = set()  # hash() of every URL this process knows of
        self._held: dict[str, float] = {}  # url -> expiry of the leases this process holds
        # Staged until commit (dicts keep their order). Acks remember the lease they settle.
        self._adds: dict[str, tuple[int, str]] = {}  # url -> (depth, host)
        self._acks: dict[str, tuple[Lease, int]] = {}  # url -> (lease, attempts)
        self._meta: dict[str, str] = {}  # key -> JSON
        self._pages: dict[str, PageState] = {}  # url -> page state
        self._committing_acks: dict[str, tuple[Lease, int]] = {}  # the batch being sent
        self._delta = [0, 0, 0, 0]  # what staged writes change in counts (p, l, d, x)
        self._committed_offsets: dict[str, int] = {}
        # Serialises sending staged writes with each other and with counts(), so the counts
        # never see a batch both in Redis and still staged.
        self._flush_lock = asyncio.Lock()

    # -- lifetime ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, reclaim expired leases and load the set of known URLs."""
        if self._client is not None:
            return
        with self._errors("open"):
            client = await connect(self.url)  # one server or a cluster (connect.py)
        self._client = client
        self._scripts = {name: client.register_script(body) for name, body in _scripts().items()}
        self._owner = uuid.uuid4().hex
        try:
            with self._errors("open"):
                clock = self._clock()
                await self._script("lease", [repr(clock), repr(clock), "0", self._owner, 0])
                known: set[int] = set()
                migrate = not await client.exists(self._key("pages:v"))
                done: list[str] = []
                async for url, raw in client.hscan_iter(self._key("urls"), count=10_000):
                    known.add(hash(url))
                    if migrate and raw.split("|", 3)[2] == "2":
                        done.append(url)
                self._known = known
                if migrate:
                    await self._give_states(done)
        except BaseException:
            self._client = None
            await client.aclose()
            raise

    async def _give_states(self, done: list[str]) -> None:
        """A state written before page states existed: its stored pages get an empty state,
        due at once (a recrawl fetches them in full). Idempotent, so workers may race on it."""
        client = self._conn()
        for i in range(0, len(done), REQUEUE_BATCH):
            chunk = done[i : i + REQUEUE_BATCH]
            async with client.pipeline(transaction=False) as pipe:
                for url in chunk:
                    pipe.hsetnx(self._key("pages"), url, "{}")
                pipe.zadd(self._key("due"), dict.fromkeys(chunk, 0), nx=True)
                await pipe.execute()
        await client.set(self._key("pages:v"), "1")

    async def close(self) -> None:
        """Commit what is staged, return the leases still held to the queue untouched, and
        disconnect. Safe to call twice."""
        if self._client is None:
            return
        try:
            await self.commit()
            if self._held:
                with self._errors("close"):
                    await self._script("release", [self._owner, *self._held])
        finally:
            await self.abort()

    async def abort(self) -> None:
        """Disconnect WITHOUT committing, as a killed process would: staged writes are lost and
        the leases this process holds return to the queue when they expire."""
        client, self._client = self._client, None
        self._adds, self._acks, self._meta, self._pages = {}, {}, {}, {}
        self._delta = [0, 0, 0, 0]
        self._held = {}
        self._known = set()
        if client is not None:
            with self._errors("close"):
                await client.aclose()

    async def commit(self, out_path: str | None = None, out_offset: int | None = None) -> None:
        """Send every staged write, and the results file offset, in one script (lua/commit.lua,
        atomic on a cluster too); renew the leases that have used half their time."""
        async with self._lock():
            await self._commit(out_path, out_offset)

    async def _commit(self, out_path: str | None, out_offset: int | None) -> None:
        self._conn()
        clock = self._clock()
        renew = [u for u, exp in self._held.items() if exp - clock < self.lease_timeout_s / 2]
        offset = None
        if (
            out_path is not None
            and out_offset is not None
            and self._committed_offsets.get(out_path) != out_offset
        ):
            offset = (out_path, out_offset)
        if not (self._adds or self._acks or self._meta or self._pages or offset or renew):
            return
        # Swap the batch out first: other tasks stage into fresh dicts while it is sent.
        adds, acks, meta, pages = self._adds, self._acks, self._meta, self._pages
        self._adds, self._acks, self._meta, self._pages = {}, {}, {}, {}
        self._committing_acks = acks
        expiry = clock + self.lease_timeout_s

        sections: list[list[_Arg]] = [  # lua/commit.lua's ARGV, section by section
            [x for url, (d, h) in adds.items() for x in (url, d, h)],
            [x for url, (le, n) in acks.items() for x in (url, le.depth, le.host, n)],
            [x for item in meta.items() for x in item],
            [x for u, p in pages.items() for x in (u, _page_json(p), repr(p.due_at))],
            [self._offset_field + offset[0], offset[1]] if offset else [],
            [repr(expiry), self._owner, *renew] if renew else [],
        ]
        args = [*(len(section) for section in sections), *itertools.chain(*sections)]

        async def send() -> None:
            with self._errors("commit"):
                await self._script("commit", args)

        try:
            cancelled = await _to_the_end(send())
        except BaseException:
            # Not sent: the batch goes back in front of what was staged meanwhile.
            self._adds = {**adds, **self._adds}
            self._acks = {**acks, **self._acks}
            self._meta = {**meta, **self._meta}
            self._pages = {**pages, **self._pages}
            raise
        finally:
            self._committing_acks = {}
        self._delta[0] -= len(adds)
        self._delta[1] += len(acks)
        self._delta[2] -= len(acks)
        for url in renew:
            if url in self._held:
                self._held[url] = expiry
        if offset:
            self._committed_offsets[offset[0]] = offset[1]
        if cancelled:
            raise asyncio.CancelledError

    async def out_offset(self, out_path: str) -> int | None:
        """The committed byte offset of this machine's results file at ``out_path``."""
        with self._errors("out_offset"):
            value = await self._conn().hget(self._key("offsets"), self._offset_field + out_path)
        return None if value is None else int(value)

    # -- shared politeness ---------------------------------------------------------------------
    def host_ledger(self, *, slot_ttl_s: float = SLOT_TTL_S) -> RedisHostLedger:
        """The per-host politeness state of this crawl, shared with every worker (an async
        context manager; open it after this store, close it before)."""
        return RedisHostLedger(
            self._conn(), self._prefix, owner=self._owner, url=self.url, slot_ttl_s=slot_ttl_s
        )

    # -- plumbing ------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self._prefix + name

    def _conn(self) -> Client:
        if self._client is None:
            raise StorageError(f"{self.url}: the Redis store is not open")
        return self._client

    def _lock(self) -> asyncio.Lock:
        self._conn()
        return self._flush_lock

    async def _script(self, name: str, args: Sequence[_Arg], client: Any = None) -> Any:
        return await self._scripts[name](keys=[self._prefix], args=args, client=client)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translate redis-py's exceptions, once, into StorageError naming the server."""
        try:
            yield
        except RedisError as exc:
            raise StorageError(f"{self.url}: {what} failed: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"{self.url}: {what} failed: {exc}") from exc

    async def _flush_adds(self) -> None:
        """Send the staged new URLs: they must be in the shared frontier to be leased."""
        async with self._lock():
            if not self._adds:
                return
            adds, self._adds = self._adds, {}
            try:
                with self._errors("add"):
                    await self._script("add", [x for u, (d, h) in adds.items() for x in (u, d, h)])
            except BaseException:
                self._adds = {**adds, **self._adds}
                raise
            self._delta[0] -= len(adds)

    def _hold(self, leases: list[Lease], expiry: float) -> list[Lease]:
        for lease in leases:
            self._held[lease.url] = expiry
        return leases

    # -- frontier ------------------------------------------------------------------------------
    def is_known(self, url: str) -> bool:
        """A set lookup of ``hash(url)`` (known at open or since, in this process): O(1), no
        I/O. A URL another worker added since this one opened reads as unknown; :meth:`add`
        then stages it and the commit keeps one copy."""
        return hash(url) in self._known

    async def add(self, entries: Iterable[tuple[str, int]]) -> int:
        """Stage new URLs. The count is of URLs new to this process; one another worker added
        meanwhile is counted here too, and skipped by the commit."""
        self._conn()
        new = 0
        maybe: dict[str, int] = {}  # hash seen before: Redis decides (a duplicate, or a collision)
        for url, depth in entries:
            h = hash(url)
            if h in self._known:
                if url not in self._adds:
                    maybe.setdefault(url, depth)
                continue
            self._known.add(h)
            self._adds[url] = (depth, host_key(url))
            new += 1
        if maybe:
            with self._errors("add"):
                async with self._conn().pipeline(transaction=False) as pipe:
                    for url in maybe:
                        pipe.hexists(self._key("urls"), url)
                    exists = await pipe.execute()
            for (url, depth), found in zip(maybe.items(), exists, strict=True):
                if not found and url not in self._adds:
                    self._adds[url] = (depth, host_key(url))
                    new += 1
        self._delta[0] += new
        return new

    async def add_done(self, url: str, depth: int) -> bool:
        await self._flush_adds()
        with self._errors("add_done"):
            changed = await self._script("add_done", [url, depth, host_key(url)])
        self._known.add(hash(url))
        return bool(changed)

    async def lease(self, limit: int, now: float, exclude_hosts: Sequence[str] = ()) -> list[Lease]:
        if limit <= 0:
            self._conn()
            return []
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        args: list[_Arg] = [
            repr(now),
            repr(clock),
            repr(expiry),
            self._owner,
            limit,
            *exclude_hosts,
        ]
        with self._errors("lease"):
            flat = await self._script("lease", args)
        return self._hold(_leases(flat), expiry)

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        staged = self._acks.pop(url, None)
        if staged is not None:  # acked in this uncommitted batch: still leased to us in Redis
            lease, attempts = staged
            self._delta[1] += 1
            self._delta[2] -= 1
            self._held[url] = 0.0  # renewed at the next commit
            return Lease(url, lease.depth, lease.host, attempts, lease.tries, 0.0)
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        args: list[_Arg] = [url, depth, host_key(url), repr(clock), repr(expiry), self._owner]
        with self._errors("lease_url"):
            raw = await self._script("lease_url", args)
        self._known.add(hash(url))
        if raw is None:
            return None
        return self._hold([_lease(url, raw)], expiry)[0]

    async def next_ready_at(self, exclude_hosts: Sequence[str] = ()) -> float | None:
        """The earliest next-attempt time among pending URLs; 0.0 when one is ready now. Also
        the expiry of the earliest lease another worker holds: until it is settled, that URL
        may come back (if the worker died) or bring new links."""
        excluded = set(exclude_hosts)
        if any(host not in excluded for _, host in self._adds.values()):
            return 0.0
        with self._errors("next_ready_at"):
            value = await self._script("next_ready", [self._owner, *exclude_hosts])
        return None if value is None else float(value)

    async def ack(self, lease: Lease, attempts: int) -> None:
        """Stage the ack: it becomes durable with the commit that covers the results line."""
        self._conn()
        self._acks[lease.url] = (lease, attempts)
        self._held.pop(lease.url, None)
        self._delta[1] -= 1
        self._delta[2] += 1

    async def nack(self, lease: Lease, not_before: float, attempts: int, tries: int) -> None:
        args: list[_Arg] = [
            lease.url,
            lease.depth,
            lease.host,
            repr(max(0.0, not_before)),
            attempts,
            tries,
            self._owner,
        ]
        with self._errors("nack"):
            await self._script("nack", args)
        self._held.pop(lease.url, None)

    async def dead_letter(self, lease: Lease, attempts: int, entry: DLQEntry) -> DLQEntry:
        now = iso(self._clock())
        client = self._conn()
        for _ in range(DEAD_LETTER_RETRIES):
            stored = dlq_entry(lease, attempts, entry, now)
            with self._errors("dead_letter"):
                old_id = cast("str | None", await client.hget(self._key("dlq:url"), lease.url))
                old = await client.hget(self._key("dlq"), old_id) if old_id else None
                if old is not None:
                    merge_previous(stored, json.loads(old))
                text = json.dumps(stored.to_dict(), ensure_ascii=False)
                args: list[_Arg] = [
                    lease.url,
                    lease.depth,
                    lease.host,
                    attempts,
                    old_id or "",
                    text,
                ]
                new_id = int(await self._script("dead", args))
            if new_id >= 0:  # else another worker changed this URL's entry meanwhile: again
                self._held.pop(lease.url, None)
                stored.id = new_id
                return stored
        raise StorageError(f"{self.url}: dead_letter of {lease.url} kept conflicting")

    async def give_up_host(self, host: str) -> list[Lease]:
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        with self._errors("give_up_host"):
            flat = await self._script("give_up", [host, repr(clock), repr(expiry), self._owner])
        return self._hold(_leases(flat), expiry)

    async def counts(self) -> FrontierCounts:
        """The shared counters, plus what this process has staged."""
        async with self._lock():
            with self._errors("counts"):
                values = await self._conn().hmget(self._key("counts"), ["p", "l", "d", "x", "a"])
            pending, leased, done, dead, aliased = (
                int(v or 0) + d for v, d in zip(values, [*self._delta, 0], strict=True)
            )
        return FrontierCounts(pending, leased, done, dead, aliased)

    # -- recrawl -------------------------------------------------------------------------------
    async def get_pages(self, urls: Sequence[str]) -> dict[str, PageState]:
        out: dict[str, PageState] = {}
        wanted: list[str] = []
        for url in dict.fromkeys(urls):
            staged = self._pages.get(url)
            if staged is not None:
                out[url] = staged
            elif hash(url) in self._known:
                wanted.append(url)
        client = self._conn()
        for i in range(0, len(wanted), REQUEUE_BATCH):
            chunk = wanted[i : i + REQUEUE_BATCH]
            with self._errors("get_pages"):
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hmget(self._key("pages"), chunk)
                    pipe.zmscore(self._key("due"), chunk)
                    states, dues = await pipe.execute()
            for url, state, due in zip(chunk, states, dues, strict=True):
                if state is not None:
                    out[url] = _page_from(url, 0.0 if due is None else float(due), state)
        return out

    async def put_page(self, page: PageState) -> None:
        self._conn()
        self._pages[page.url] = page

    async def requeue_due(self, now: float) -> int:
        requeued = 0
        while True:
            with self._errors("requeue_due"):
                examined, n = await self._script("requeue_due", [repr(now), REQUEUE_BATCH])
            requeued += int(n)
            if int(examined) < REQUEUE_BATCH:
                return requeued

    async def revisit_now(self, url: str) -> bool:
        with self._errors("revisit_now"):
            return bool(await self._script("revisit", [url]))

    async def page_count(self) -> int:
        with self._errors("page_count"):
            return int(await self._conn().hlen(self._key("pages")))

    # -- DLQ -----------------------------------------------------------------------------------
    def _acked(self) -> set[str]:
        """URLs acked in a batch not yet in Redis: their DLQ entries are gone for this process."""
        return set(self._acks) | set(self._committing_acks)

    async def dlq_count(self) -> int:
        with self._errors("dlq_count"):
            total = int(await self._conn().hlen(self._key("dlq")))
        acked = self._acked()
        if not acked:
            return total
        return len(await self.dlq_list())

    async def dlq_list(
        self,
        category: str | None = None,
        host: str | None = None,
        since: str | None = None,
        *,
        limit: int | None = None,
    ) -> list[DLQEntry]:
        moment = parse_since(since) if since else None
        with self._errors("dlq_list"):
            rows = cast("dict[str, str]", await self._conn().hgetall(self._key("dlq")))
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

    async def dlq_get(self, entry_id: int) -> DLQEntry | None:
        with self._errors("dlq_get"):
            text = cast("str | None", await self._conn().hget(self._key("dlq"), str(entry_id)))
        if text is None:
            return None
        found = _entry(entry_id, text)
        return None if found.url in self._acked() else found

    async def dlq_requeue(self, ids: Sequence[int] | None) -> int:
        args = ["*"] if ids is None else [str(i) for i in ids]
        if not args:
            return 0
        with self._errors("dlq_requeue"):
            return int(await self._script("requeue", args))

    async def dlq_purge(self, ids: Sequence[int] | None = None) -> int:
        acked = sorted(self._acked())
        chosen = ["*"] if ids is None else [str(i) for i in ids]
        if not chosen:
            return 0
        with self._errors("dlq_purge"):
            return int(await self._script("purge", [len(acked), *acked, *chosen]))

    # -- meta ----------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> Any:
        text = self._meta.get(key)
        if text is None:
            with self._errors("get_meta"):
                text = cast("str | None", await self._conn().hget(self._key("meta"), key))
        return None if text is None else json.loads(text)

    async def set_meta(self, key: str, value: Any) -> None:
        self._conn()
        self._meta[key] = json.dumps(value, ensure_ascii=False)

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
    fence      hash  url -> fencing token of its current lease;  fence:seq counter of tokens
    commit:<owner>  string  the number of the owner's last commit (expires after a day)
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
* A background task renews the leases this process holds once they have used half their time
  (it wakes every quarter of ``lease_timeout_s``), so a fetch slower than ``lease_timeout_s``
  keeps its lease while the worker is alive; a dead worker's leases expire.

Leases are fenced (docs/workers.md, "Fencing"): every lease carries a token, a counter that grows
with every lease of any URL. Before the crawler writes a batch of results lines it calls
:meth:`RedisStorage.fence_acks`, which checks that each staged ack's lease still holds its URL
with its token and extends it past the commit; an ack whose lease was lost (reclaimed, maybe
leased and stored by another worker) is dropped with its page state, and the crawler drops its
results line. The commit's ack script checks the tokens again and refuses stale ones. A nack or
dead letter of a lost lease is ignored when another worker has leased or stored the URL since.

A Redis that restarts or is unreachable for a while is waited for (``outage.py``).

Durability is the server's: run it with ``appendonly yes`` for a crash of the server itself.
Needs Redis >= 6.2 (``ZADD LT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from crawler.errors import ConfigError, StorageError
from crawler.records import PageState
from crawler.storage.base import FrontierCounts, Lease
from crawler.storage.hostledger import SLOT_TTL_S
from crawler.storage.redis.connect import Client, connect
from crawler.storage.redis.dlq import DEAD_LETTER_RETRIES, RedisDLQ
from crawler.storage.redis.hosts import RedisHostLedger
from crawler.storage.redis.leases import RedisLeases
from crawler.storage.redis.outage import OUTAGE_ERRORS, Outage
from crawler.web.urls import host_key

_Arg = str | int | float  # what a script takes in ARGV
T = TypeVar("T")
log = logging.getLogger("crawler")
NAMESPACE_PARAM = "namespace"  # redis_url query parameter naming the crawl's namespace
# Expired leases reclaimed per lease call: bounds one script's run when many workers died.
RECLAIM_BATCH = 1000
COMMIT_MARK_TTL_S = 86_400  # how long a worker's commit marker outlives its last commit
__all__ = ["DEAD_LETTER_RETRIES", "RedisStorage", "namespace_for", "redis_target"]

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
    "commit": ("fn:add", "fn:ack", "commit"),  # "fn:x": x.lua as part_x(ARGV)
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
    record, _, fence = raw.rpartition("|")  # the lease script appends the fencing token
    _seq, depth, _status, attempts, tries, nat, _owner, host = record.split("|", 7)
    return Lease(url, int(depth), host, int(attempts), int(tries), float(nat), int(fence))


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


class RedisStorage(RedisLeases, RedisDLQ):
    """The :class:`~crawler.storage.base.Storage` contract on a Redis server, shared by workers.

    ``url`` is a redis-py URL (``redis://``, ``rediss://``, ``unix://``); ``namespace`` keeps one
    crawl's keys apart from another's on the same server (see :func:`redis_target`). ``clock``
    times leases and stamps DLQ entries that come without times. ``unreachable_s``: how long
    calls wait for a Redis that does not answer (``outage.py``). ``read_only``: for commands
    beside running workers (``crawler stats``, ``dlq list``): :meth:`open` only checks that the
    namespace holds a crawl, and every write raises. Nothing connects in ``__init__``;
    :meth:`open` does.
    """

    shared = True  # other processes lease from the same frontier: lease in small batches

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        clock: Callable[[], float] = time.time,
        lease_timeout_s: float = 300.0,
        unreachable_s: float = 120.0,
        read_only: bool = False,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.lease_timeout_s = lease_timeout_s
        self.read_only = read_only
        self.outage = Outage(url, unreachable_s)
        self._clock = clock
        self._prefix = f"crawler:{{{namespace}}}:"
        self._offset_field = socket.gethostname() + ":"  # results files are per machine
        self._client: Client | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._owner = ""
        self._known: set[int] = set()  # hash() of every URL this process knows of
        # url -> (expiry, fencing token) of the leases this process holds, acked ones included
        # until their ack is committed.
        self._held: dict[str, tuple[float, int]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._commits = 0  # this owner's commits: the number its commit marker names
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
        # One server or a cluster (connect.py). No retries inside redis-py: a command is sent
        # again only by Outage.call, which knows whether sending it twice is safe.
        client = await self._call("open", lambda: connect(self.url, retry=Retry(NoBackoff(), 0)))
        self._client = client
        self._scripts = {name: client.register_script(body) for name, body in _scripts().items()}
        self._owner = uuid.uuid4().hex
        try:
            if self.read_only:
                await self._check_crawl()
                return
            clock = self._clock()
            await self._script("lease", [repr(clock), repr(clock), "0", self._owner, 0, 0])
            await self._call("open", self._load_known)
            self._renewer = asyncio.create_task(self._renew_loop())
        except BaseException:
            self._client = None
            await client.aclose()
            raise

    async def _check_crawl(self) -> None:
        """A read-only open of a namespace nobody crawled is a mistake (a typo in it)."""
        client = self._conn()
        found = await self._call("open", lambda: client.exists(self._key("seq"), self._key("meta")))
        if not found:
            raise ConfigError(
                "storage.redis_url",
                self.url,
                f"a server and namespace that hold a crawl (namespace {self.namespace!r} is empty)",
            )

    async def _load_known(self) -> None:
        client = self._conn()
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

    async def _give_states(self, done: list[str]) -> None:
        """A state written before page states existed: its stored pages get an empty state,
        due at once (a recrawl fetches them in full). Idempotent, so workers may race on it."""
        client = self._conn()
        for i in range(0, len(done), REQUEUE_BATCH):  # called through _call: retried whole
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
                await self._script("release", [self._owner, *self._held])
        finally:
            await self.abort()

    async def abort(self) -> None:
        """Disconnect WITHOUT committing, as a killed process would: staged writes are lost and
        the leases this process holds return to the queue when they expire."""
        client, self._client = self._client, None
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        self._adds, self._acks, self._meta, self._pages = {}, {}, {}, {}
        self._delta = [0, 0, 0, 0]
        self._held = {}
        self._known = set()
        if client is not None:
            with contextlib.suppress(*OUTAGE_ERRORS):  # a server that is gone is closed
                await client.aclose()

    async def commit(self, out_path: str | None = None, out_offset: int | None = None) -> None:
        """Send every staged write, and the results file offset, in one script (lua/commit.lua,
        atomic on a cluster too). An ack whose
        lease was lost since :meth:`fence_acks` (a worker stalled for ``lease_timeout_s``
        between the two) is refused by Redis and logged as an error: its line was written."""
        if self.read_only:
            return  # nothing can be staged
        async with self._lock():
            await self._commit(out_path, out_offset)

    async def _commit(self, out_path: str | None, out_offset: int | None) -> None:
        offset = None
        if (
            out_path is not None
            and out_offset is not None
            and self._committed_offsets.get(out_path) != out_offset
        ):
            offset = (out_path, out_offset)
        if not (self._adds or self._acks or self._meta or self._pages or offset):
            return
        # Swap the batch out first: other tasks stage into fresh dicts while it is sent.
        adds, acks, meta, pages = self._adds, self._acks, self._meta, self._pages
        self._adds, self._acks, self._meta, self._pages = {}, {}, {}, {}
        self._committing_acks = acks
        self._commits += 1
        mark = str(self._commits)
        refused: list[str] = []

        sections: list[list[_Arg]] = [  # lua/commit.lua's ARGV, section by section
            [x for url, (d, h) in adds.items() for x in (url, d, h)],
            [x for url, (le, n) in acks.items() for x in (url, le.depth, le.host, n, le.fence)],
            [x for item in meta.items() for x in item],
            [x for u, p in pages.items() for x in (u, _page_json(p), repr(p.due_at))],
            [self._offset_field + offset[0], offset[1]] if offset else [],
            ["commit:" + self._owner, mark, COMMIT_MARK_TTL_S],
        ]
        args = [*(len(section) for section in sections), *itertools.chain(*sections)]

        async def send_once() -> None:
            # Sent directly (a client, not None): send() decides whether to send it again.
            refused.extend(await self._script("commit", args, self._conn()))

        async def landed() -> bool:
            """After a lost connection: did the transaction run? Its marker says."""
            client, key = self._conn(), self._key("commit:" + self._owner)
            return bool(await self._call("commit", lambda: client.get(key)) == mark)

        async def send() -> None:
            delay = 0.1
            while True:
                try:
                    await send_once()
                except OUTAGE_ERRORS as exc:
                    await self.outage.wait("commit", exc, delay)
                    delay = min(5.0, delay * 2)
                    if await landed():
                        return
                    continue
                except (RedisError, OSError) as exc:
                    raise StorageError(f"{self.url}: commit failed: {exc}") from exc
                self.outage.recovered()
                return

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
        for url, (lease, _) in acks.items():
            if self._held.get(url, (0.0, -1))[1] == lease.fence:
                del self._held[url]
        for url in refused:
            log.error(
                "The lease of %s was lost between writing its results line and the commit "
                "(this worker stalled for lease_timeout_s): another worker may store it too",
                url,
            )
        if offset:
            self._committed_offsets[offset[0]] = offset[1]
        if cancelled:
            raise asyncio.CancelledError

    async def out_offset(self, out_path: str) -> int | None:
        """The committed byte offset of this machine's results file at ``out_path``."""
        client, field = self._conn(), self._offset_field + out_path
        value = await self._call("out_offset", lambda: client.hget(self._key("offsets"), field))
        return None if value is None else int(value)

    # -- shared politeness ---------------------------------------------------------------------
    def host_ledger(self, *, slot_ttl_s: float = SLOT_TTL_S) -> RedisHostLedger:
        """The per-host politeness state of this crawl, shared with every worker (an async
        context manager; open it after this store, close it before)."""
        return RedisHostLedger(
            self._conn(),
            self._prefix,
            owner=self._owner,
            url=self.url,
            slot_ttl_s=slot_ttl_s,
            outage=self.outage,
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

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(f"{self.url}: the store was opened read-only")

    async def _script(self, name: str, args: Sequence[_Arg], client: Any = None) -> Any:
        """Run script ``name``; queue it when ``client`` is a pipeline. Scripts write: a
        read-only store refuses. Run alone, the call waits out a Redis outage (every script is
        safe to send twice, see outage.py)."""
        self._writable()
        script = self._scripts[name]
        if client is not None:
            return await script(keys=[self._prefix], args=args, client=client)
        return await self._call(name, lambda: script(keys=[self._prefix], args=args))

    async def _call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()``, waiting out a Redis outage; Redis errors become StorageError."""
        return await self.outage.call(what, fn)

    async def _flush_adds(self) -> None:
        """Send the staged new URLs: they must be in the shared frontier to be leased."""
        async with self._lock():
            if not self._adds:
                return
            adds, self._adds = self._adds, {}
            try:
                await self._script("add", [x for u, (d, h) in adds.items() for x in (u, d, h)])
            except BaseException:
                self._adds = {**adds, **self._adds}
                raise
            self._delta[0] -= len(adds)

    def _hold(self, leases: list[Lease], expiry: float) -> list[Lease]:
        for lease in leases:
            self._held[lease.url] = (expiry, lease.fence)
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

            async def check() -> list[Any]:
                async with self._conn().pipeline(transaction=False) as pipe:
                    for url in maybe:
                        pipe.hexists(self._key("urls"), url)
                    return await pipe.execute()

            exists = await self._call("add", check)
            for (url, depth), found in zip(maybe.items(), exists, strict=True):
                if not found and url not in self._adds:
                    self._adds[url] = (depth, host_key(url))
                    new += 1
        self._delta[0] += new
        return new

    async def add_done(self, url: str, depth: int) -> bool:
        await self._flush_adds()
        changed = await self._script("add_done", [url, depth, host_key(url)])
        self._known.add(hash(url))
        return bool(changed)

    async def lease(
        self, limit: int, now: float, exclude_hosts: Sequence[str] = (), *, per_host: int = 0
    ) -> list[Lease]:
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
            max(0, per_host),
            *exclude_hosts,
        ]
        flat = await self._script("lease", args)
        return self._hold(_leases(flat), expiry)

    async def lease_url(self, url: str, depth: int = 0) -> Lease | None:
        staged = self._acks.pop(url, None)
        if staged is not None:  # acked in this uncommitted batch: still leased to us in Redis
            lease, attempts = staged
            self._delta[1] += 1
            self._delta[2] -= 1
            self._held[url] = (0.0, lease.fence)  # renewed before the next commit
            return Lease(url, lease.depth, lease.host, attempts, lease.tries, 0.0, lease.fence)
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        args: list[_Arg] = [url, depth, host_key(url), repr(clock), repr(expiry), self._owner]
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
        value = await self._script("next_ready", [self._owner, *exclude_hosts])
        return None if value is None else float(value)

    async def ack(self, lease: Lease, attempts: int) -> None:
        """Stage the ack: it becomes durable with the commit that covers the results line."""
        self._conn()
        self._writable()
        self._acks[lease.url] = (lease, attempts)  # its lease stays held until the commit
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
            lease.fence,
        ]
        await self._script("nack", args)
        self._held.pop(lease.url, None)

    async def give_up_host(self, host: str) -> list[Lease]:
        await self._flush_adds()
        clock = self._clock()
        expiry = clock + self.lease_timeout_s
        flat = await self._script("give_up", [host, repr(clock), repr(expiry), self._owner])
        return self._hold(_leases(flat), expiry)

    async def counts(self) -> FrontierCounts:
        """The shared counters, plus what this process has staged."""
        client = self._conn()
        async with self._lock():
            values = await self._call(
                "counts", lambda: client.hmget(self._key("counts"), ["p", "l", "d", "x", "a"])
            )
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

            async def read(chunk: list[str] = chunk) -> list[Any]:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.hmget(self._key("pages"), chunk)
                    pipe.zmscore(self._key("due"), chunk)
                    return await pipe.execute()

            states, dues = await self._call("get_pages", read)
            for url, state, due in zip(chunk, states, dues, strict=True):
                if state is not None:
                    out[url] = _page_from(url, 0.0 if due is None else float(due), state)
        return out

    async def put_page(self, page: PageState) -> None:
        self._conn()
        self._writable()
        self._pages[page.url] = page

    async def requeue_due(self, now: float) -> int:
        requeued = 0
        while True:
            examined, n = await self._script("requeue_due", [repr(now), REQUEUE_BATCH])
            requeued += int(n)
            if int(examined) < REQUEUE_BATCH:
                return requeued

    async def revisit_now(self, url: str) -> bool:
        return bool(await self._script("revisit", [url]))

    async def page_count(self) -> int:
        client = self._conn()
        return int(await self._call("page_count", lambda: client.hlen(self._key("pages"))))

    # -- DLQ -----------------------------------------------------------------------------------
    def _acked(self) -> set[str]:
        """URLs acked in a batch not yet in Redis: their DLQ entries are gone for this process."""
        return set(self._acks) | set(self._committing_acks)

    # -- meta ----------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> Any:
        text = self._meta.get(key)
        if text is None:
            client, meta = self._conn(), self._key("meta")
            text = cast("str | None", await self._call("get_meta", lambda: client.hget(meta, key)))
        return None if text is None else json.loads(text)

    async def set_meta(self, key: str, value: Any) -> None:
        self._conn()
        self._writable()
        self._meta[key] = json.dumps(value, ensure_ascii=False)

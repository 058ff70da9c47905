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
import itertools
import json
import logging
import uuid
from typing import Any, cast

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from crawler.errors import ConfigError, StorageError
from crawler.storage.hostledger import SLOT_TTL_S
from crawler.storage.redis.connect import connect
from crawler.storage.redis.dlq import DEAD_LETTER_RETRIES, RedisDLQ
from crawler.storage.redis.frontier import RedisFrontier
from crawler.storage.redis.hosts import RedisHostLedger
from crawler.storage.redis.leases import RedisLeases
from crawler.storage.redis.outage import OUTAGE_ERRORS
from crawler.storage.redis.scripts import (
    REQUEUE_BATCH,
    namespace_for,
    page_json,
    redis_target,
    scripts,
    to_the_end,
)

_Arg = str | int | float  # what a script takes in ARGV
log = logging.getLogger("crawler")
COMMIT_MARK_TTL_S = 86_400  # how long a worker's commit marker outlives its last commit
__all__ = ["DEAD_LETTER_RETRIES", "RedisStorage", "namespace_for", "redis_target"]


class RedisStorage(RedisFrontier, RedisLeases, RedisDLQ):
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

    # -- lifetime ------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect, reclaim expired leases and load the set of known URLs."""
        if self._client is not None:
            return
        # One server or a cluster (connect.py). No retries inside redis-py: a command is sent
        # again only by Outage.call, which knows whether sending it twice is safe.
        client = await self._call("open", lambda: connect(self.url, retry=Retry(NoBackoff(), 0)))
        self._client = client
        self._scripts = {name: client.register_script(body) for name, body in scripts().items()}
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
            [x for u, p in pages.items() for x in (u, page_json(p), repr(p.due_at))],
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
            cancelled = await to_the_end(send())
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

"""The shared backend: the frontier, the DLQ and small metadata in Redis, for many workers.

Every worker process (on any machine) opens a :class:`RedisStorage` on the same server and
namespace; they lease from one frontier. A lease is a member of a sorted set scored by its expiry
(``lease_timeout_s`` after it was taken) and names its owner (one random token per open store): a
worker that dies loses nothing, its URLs are pending again as soon as any worker's next lease call
finds their lease expired (Crawlee's Redis request queue reclaims stale leases the same way;
scrapy-redis pops without a lease and loses in-flight URLs). Every state change is one Lua script,
so it is atomic across workers.

Keys, all under ``crawler:{<namespace>}:`` (the braces are a cluster hash tag, keeping one crawl's
keys in one slot)::

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

Per-host queues make ``exclude_hosts`` cost one entry of ``heads`` per excluded host, however many
URLs it holds. A deferred URL is promoted to its host's ready queue, at its discovery place, by the
first lease call whose ``now`` has passed its time (so workers' clocks should roughly agree).

What is written when (the contract's "staged until commit", shared with other workers):

* ``ack``, ``set_meta`` and the results file offset are staged in this process and sent in ONE
  MULTI/EXEC at :meth:`RedisStorage.commit`: an ack must never be durable before the results line
  it covers. Staged acks count in :meth:`counts` and hide their DLQ entries at once.
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
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from crawler.errors import ConfigError, StorageError
from crawler.records import DLQEntry, iso
from crawler.storage.base import (
    FrontierCounts,
    Lease,
    dlq_entry,
    merge_previous,
    parse_since,
)

# The same timestamps and --since parsing as the embedded backend (one definition of each).
from crawler.web.urls import host_key

_Arg = str | int | float  # what a script takes in ARGV
NAMESPACE_PARAM = "namespace"  # redis_url query parameter naming the crawl's namespace
# Expired leases reclaimed per lease call: bounds one script's run when many workers died.
RECLAIM_BATCH = 1000
DEAD_LETTER_RETRIES = 5  # a concurrent DLQ change for the same URL makes dead_letter retry

# -- Lua ------------------------------------------------------------------------------------------
# Shared by every script. A record keeps next_attempt_at as the string Python sent: Lua numbers
# print with 14 digits, which would round epoch times.
_LUA_PRELUDE = """
local P = KEYS[1]
local URLS, COUNTS, LEASES = P .. 'urls', P .. 'counts', P .. 'leases'
local HEADS, NEXTS = P .. 'heads', P .. 'nexts'
local FIELDS = {'p', 'l', 'd', 'x', 'a'}

local function get(url)
  local raw = redis.call('HGET', URLS, url)
  if not raw then return nil end
  local seq, depth, status, attempts, tries, nat, owner, host = string.match(raw,
    '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return {seq = seq, depth = depth, status = tonumber(status), attempts = attempts,
          tries = tries, nat = nat, owner = owner, host = host}
end

local function put(url, r)
  local raw = table.concat(
    {r.seq, r.depth, r.status, r.attempts, r.tries, r.nat, r.owner, r.host}, '|')
  redis.call('HSET', URLS, url, raw)
  return raw
end

local function new_record(depth, host, attempts)
  return {seq = redis.call('INCR', P .. 'seq'), depth = depth, status = 0,
          attempts = attempts, tries = 0, nat = '0', owner = '', host = host}
end

local function move(old, new, n)
  n = n or 1
  if old ~= nil then redis.call('HINCRBY', COUNTS, FIELDS[old + 1], -n) end
  redis.call('HINCRBY', COUNTS, FIELDS[new + 1], n)
end

local function fix_head(host)
  local first = redis.call('ZRANGE', P .. 'q:' .. host, 0, 0, 'WITHSCORES')
  if first[1] then redis.call('ZADD', HEADS, first[2], host)
  else redis.call('ZREM', HEADS, host) end
end

local function fix_next(host)
  local first = redis.call('ZRANGE', P .. 'd:' .. host, 0, 0, 'WITHSCORES')
  if first[1] then redis.call('ZADD', NEXTS, first[2], host)
  else redis.call('ZREM', NEXTS, host) end
end

local function enqueue(url, r)
  if tonumber(r.nat) > 0 then
    redis.call('ZADD', P .. 'd:' .. r.host, r.nat, url)
    redis.call('ZADD', NEXTS, 'LT', r.nat, r.host)
  else
    redis.call('ZADD', P .. 'q:' .. r.host, r.seq, url)
    redis.call('ZADD', HEADS, 'LT', r.seq, r.host)
  end
end

local function dequeue(url, r)
  if redis.call('ZREM', P .. 'q:' .. r.host, url) == 1 then fix_head(r.host) end
  if redis.call('ZREM', P .. 'd:' .. r.host, url) == 1 then fix_next(r.host) end
end

local function lease(url, r, owner, expiry)
  r.status = 1
  r.owner = owner
  redis.call('ZADD', LEASES, expiry, url)
  return put(url, r)
end

local function unlease(url, owner)
  local r = get(url)
  if r and r.status == 1 and (owner == nil or r.owner == owner) then
    r.status = 0
    r.owner = ''
    put(url, r)
    enqueue(url, r)
    move(1, 0)
    redis.call('ZREM', LEASES, url)
  end
end

local function reclaim(clock)
  local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', clock, 'LIMIT', 0, RECLAIM_BATCH_N)
  for _, url in ipairs(expired) do
    unlease(url, nil)
    redis.call('ZREM', LEASES, url)
  end
end

local function excluded_from(first)
  local set, n = {}, 0
  for i = first, #ARGV do set[ARGV[i]] = true; n = n + 1 end
  return set, n
end
""".replace("RECLAIM_BATCH_N", str(RECLAIM_BATCH))

# ARGV: now, clock, expiry, owner, limit, excluded hosts...
_LUA_LEASE = """
reclaim(ARGV[2])
local now, expiry, owner, limit = ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5])
local excluded, n_excl = excluded_from(6)
for _, host in ipairs(redis.call('ZRANGEBYSCORE', NEXTS, '-inf', now)) do
  local dkey = P .. 'd:' .. host
  for _, url in ipairs(redis.call('ZRANGEBYSCORE', dkey, '-inf', now)) do
    local r = get(url)
    if r then
      redis.call('ZADD', P .. 'q:' .. host, r.seq, url)
      redis.call('ZADD', HEADS, 'LT', r.seq, host)
    end
  end
  redis.call('ZREMRANGEBYSCORE', dkey, '-inf', now)
  fix_next(host)
end
local out, taken = {}, 0
while taken < limit do
  -- The best host is the first not excluded; everything it has below the second best's head
  -- comes next in FIFO order. n_excl + 2 entries always hold both when they exist.
  local heads = redis.call('ZRANGE', HEADS, 0, n_excl + 1, 'WITHSCORES')
  local best, bound = nil, '+inf'
  for i = 1, #heads, 2 do
    if not excluded[heads[i]] then
      if best == nil then best = heads[i] else bound = '(' .. heads[i + 1]; break end
    end
  end
  if best == nil then break end
  local qkey = P .. 'q:' .. best
  local urls = redis.call('ZRANGEBYSCORE', qkey, '-inf', bound, 'LIMIT', 0, limit - taken)
  if #urls > 0 then redis.call('ZREMRANGEBYRANK', qkey, 0, #urls - 1) end
  fix_head(best)
  for _, url in ipairs(urls) do
    local r = get(url)
    if r then
      out[#out + 1] = url
      out[#out + 1] = lease(url, r, owner, expiry)
      move(0, 1)
    end
  end
  taken = taken + #urls
end
return out
"""

# ARGV: owner, excluded hosts...
_LUA_NEXT_READY = """
local excluded, n_excl = excluded_from(2)
local heads = redis.call('ZRANGE', HEADS, 0, n_excl)
for _, host in ipairs(heads) do
  if not excluded[host] then return '0' end
end
local best = nil
local nexts = redis.call('ZRANGE', NEXTS, 0, n_excl, 'WITHSCORES')
for i = 1, #nexts, 2 do
  if not excluded[nexts[i]] then best = nexts[i + 1]; break end
end
-- Another worker's lease comes back at its expiry if that worker dies, and its page may bring
-- new links: the caller is not finished while one is out.
local leases = redis.call('ZRANGE', LEASES, 0, RECLAIM_BATCH_N, 'WITHSCORES')
for i = 1, #leases, 2 do
  local r = get(leases[i])
  if r and r.status == 1 and r.owner ~= ARGV[1] and not excluded[r.host] then
    if best == nil or tonumber(leases[i + 1]) < tonumber(best) then best = leases[i + 1] end
    break
  end
end
return best
""".replace("RECLAIM_BATCH_N", str(RECLAIM_BATCH))

# ARGV: (url, depth, host) triples
_LUA_ADD = """
local added = 0
for i = 1, #ARGV, 3 do
  local url = ARGV[i]
  if redis.call('HEXISTS', URLS, url) == 0 then
    local r = new_record(ARGV[i + 1], ARGV[i + 2], 0)
    put(url, r)
    enqueue(url, r)
    move(nil, 0)
    added = added + 1
  end
end
return added
"""

# ARGV: url, depth, host
_LUA_ADD_DONE = """
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], 0)
else
  if r.status ~= 0 then return 0 end
  dequeue(url, r)
  old = 0
end
r.status = 4
put(url, r)
move(old, 4)
return 1
"""

# ARGV: url, depth, host, clock, expiry, owner
_LUA_LEASE_URL = """
reclaim(ARGV[4])
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], 0)
else
  if r.status == 1 then return false end
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
move(old, 1)
return lease(url, r, ARGV[6], ARGV[5])
"""

# ARGV: url, depth, host, next_attempt_at, attempts, tries, owner
_LUA_NACK = """
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], ARGV[5])
else
  -- Our lease lapsed and another worker took the URL (or settled it): it is theirs now.
  if r.status >= 2 or (r.status == 1 and r.owner ~= ARGV[7]) then return 0 end
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
r.status, r.nat, r.attempts, r.tries, r.owner = 0, ARGV[4], ARGV[5], ARGV[6], ''
put(url, r)
enqueue(url, r)
move(old, 0)
redis.call('ZREM', LEASES, url)
return 1
"""

# ARGV: url, depth, host, attempts, expected DLQ id of the url ('' for none), entry JSON
_LUA_DEAD = """
local url = ARGV[1]
local current = redis.call('HGET', P .. 'dlq:url', url) or ''
if current ~= ARGV[5] then return -1 end
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], ARGV[4])
else
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
r.status, r.attempts, r.owner = 3, ARGV[4], ''
put(url, r)
move(old, 3)
redis.call('ZREM', LEASES, url)
local id = current
if id == '' then id = redis.call('INCR', P .. 'dlq:seq') end
redis.call('HSET', P .. 'dlq', id, ARGV[6])
redis.call('HSET', P .. 'dlq:url', url, id)
return tonumber(id)
"""

# ARGV: host, clock, expiry, owner
_LUA_GIVE_UP = """
reclaim(ARGV[2])
local host = ARGV[1]
local qkey, dkey = P .. 'q:' .. host, P .. 'd:' .. host
local items = {}
for _, key in ipairs({qkey, dkey}) do
  for _, url in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    local r = get(url)
    if r then items[#items + 1] = {tonumber(r.seq), url, r} end
  end
end
table.sort(items, function(a, b) return a[1] < b[1] end)
redis.call('DEL', qkey, dkey)
redis.call('ZREM', HEADS, host)
redis.call('ZREM', NEXTS, host)
local out = {}
for _, item in ipairs(items) do
  out[#out + 1] = item[2]
  out[#out + 1] = lease(item[2], item[3], ARGV[4], ARGV[3])
end
if #items > 0 then move(0, 1, #items) end
return out
"""

# ARGV: (url, depth, host, attempts) quadruples
_LUA_ACK = """
for i = 1, #ARGV, 4 do
  local url = ARGV[i]
  local r = get(url)
  local old = nil
  if r == nil then
    r = new_record(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  else
    if r.status == 0 then dequeue(url, r) end
    old = r.status
  end
  r.status, r.attempts, r.nat, r.owner = 2, ARGV[i + 3], '0', ''
  put(url, r)
  move(old, 2)
  redis.call('ZREM', LEASES, url)
  local id = redis.call('HGET', P .. 'dlq:url', url)
  if id then
    redis.call('HDEL', P .. 'dlq', id)
    redis.call('HDEL', P .. 'dlq:url', url)
  end
end
return 1
"""

# ARGV: expiry, owner, urls...
_LUA_RENEW = """
for i = 3, #ARGV do
  local r = get(ARGV[i])
  if r and r.status == 1 and r.owner == ARGV[2] then
    redis.call('ZADD', LEASES, 'XX', ARGV[1], ARGV[i])
  end
end
return 1
"""

# ARGV: owner, urls... (the leases a closing store still holds go back as they were)
_LUA_RELEASE = """
for i = 2, #ARGV do unlease(ARGV[i], ARGV[1]) end
return 1
"""

# Entry ids to act on: ARGV from `first` on, or every entry when that is '*'.
_LUA_DLQ_IDS = """
local function dlq_ids(first)
  if ARGV[first] ~= '*' then
    local ids = {}
    for i = first, #ARGV do ids[#ids + 1] = ARGV[i] end
    return ids
  end
  local ids = redis.call('HKEYS', P .. 'dlq')
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  return ids
end
"""

# ARGV: '*' | ids...
_LUA_REQUEUE = """
local n = 0
for _, id in ipairs(dlq_ids(1)) do
  local raw = redis.call('HGET', P .. 'dlq', id)
  if raw then
    local e = cjson.decode(raw)
    local r = get(e.url)
    if r == nil then  -- the URL record is the truth; rebuild it from the entry
      r = new_record(tostring(e.depth or 0), e.host or '', tostring(e.attempts or 0))
      put(e.url, r)
      enqueue(e.url, r)
      move(nil, 0)
      n = n + 1
    elseif r.status ~= 1 then  -- a leased one is settled by the worker holding it
      if r.status == 0 then dequeue(e.url, r) end
      local old = r.status
      r.status, r.tries, r.nat, r.owner = 0, 0, '0', ''
      put(e.url, r)
      enqueue(e.url, r)
      move(old, 0)
      n = n + 1
    end
  end
end
return n
"""

# ARGV: k, k urls whose entries stay (acked in a batch not yet committed), then '*' | ids...
_LUA_PURGE = """
local keep, k = {}, tonumber(ARGV[1])
for i = 2, k + 1 do keep[ARGV[i]] = true end
local n = 0
for _, id in ipairs(dlq_ids(k + 2)) do
  local raw = redis.call('HGET', P .. 'dlq', id)
  if raw then
    local url = cjson.decode(raw).url
    if not keep[url] then
      redis.call('HDEL', P .. 'dlq', id)
      if redis.call('HGET', P .. 'dlq:url', url) == id then
        redis.call('HDEL', P .. 'dlq:url', url)
      end
      n = n + 1
    end
  end
end
return n
"""

_SCRIPTS = {
    "lease": _LUA_LEASE,
    "next_ready": _LUA_NEXT_READY,
    "add": _LUA_ADD,
    "add_done": _LUA_ADD_DONE,
    "lease_url": _LUA_LEASE_URL,
    "nack": _LUA_NACK,
    "dead": _LUA_DEAD,
    "give_up": _LUA_GIVE_UP,
    "ack": _LUA_ACK,
    "renew": _LUA_RENEW,
    "release": _LUA_RELEASE,
    "requeue": _LUA_DLQ_IDS + _LUA_REQUEUE,
    "purge": _LUA_DLQ_IDS + _LUA_PURGE,
}


# -- helpers ---------------------------------------------------------------------------------------
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
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._owner = ""
        self._known: set[int] = set()  # hash() of every URL this process knows of
        self._held: dict[str, float] = {}  # url -> expiry of the leases this process holds
        # Staged until commit (dicts keep their order). Acks remember the lease they settle.
        self._adds: dict[str, tuple[int, str]] = {}  # url -> (depth, host)
        self._acks: dict[str, tuple[Lease, int]] = {}  # url -> (lease, attempts)
        self._meta: dict[str, str] = {}  # key -> JSON
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
        try:
            client = aioredis.Redis.from_url(self.url, decode_responses=True)
        except ValueError as exc:
            raise ConfigError("storage.redis_url", self.url, f"a redis:// URL ({exc})") from None
        self._client = client
        self._scripts = {
            name: client.register_script(_LUA_PRELUDE + body) for name, body in _SCRIPTS.items()
        }
        self._owner = uuid.uuid4().hex
        try:
            with self._errors("open"):
                await client.ping()
                clock = self._clock()
                await self._script("lease", [repr(clock), repr(clock), "0", self._owner, 0])
                known: set[int] = set()
                async for url, _ in client.hscan_iter(self._key("urls"), count=10_000):
                    known.add(hash(url))
                self._known = known
        except BaseException:
            self._client = None
            await client.aclose()
            raise

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
        self._adds, self._acks, self._meta = {}, {}, {}
        self._delta = [0, 0, 0, 0]
        self._held = {}
        self._known = set()
        if client is not None:
            with self._errors("close"):
                await client.aclose()

    async def commit(self, out_path: str | None = None, out_offset: int | None = None) -> None:
        """Send every staged write, and the results file offset, in one MULTI/EXEC; renew the
        leases that have used half their time."""
        async with self._lock():
            await self._commit(out_path, out_offset)

    async def _commit(self, out_path: str | None, out_offset: int | None) -> None:
        client = self._conn()
        clock = self._clock()
        renew = [u for u, exp in self._held.items() if exp - clock < self.lease_timeout_s / 2]
        offset = None
        if (
            out_path is not None
            and out_offset is not None
            and self._committed_offsets.get(out_path) != out_offset
        ):
            offset = (out_path, out_offset)
        if not (self._adds or self._acks or self._meta or offset or renew):
            return
        # Swap the batch out first: other tasks stage into fresh dicts while it is sent.
        adds, acks, meta = self._adds, self._acks, self._meta
        self._adds, self._acks, self._meta = {}, {}, {}
        self._committing_acks = acks
        expiry = clock + self.lease_timeout_s
        try:
            with self._errors("commit"):
                pipe = client.pipeline(transaction=True)
                if adds:
                    args = [x for url, (d, h) in adds.items() for x in (url, d, h)]
                    await self._script("add", args, pipe)
                if acks:
                    args = [
                        x
                        for url, (le, attempts) in acks.items()
                        for x in (url, le.depth, le.host, attempts)
                    ]
                    await self._script("ack", args, pipe)
                if meta:
                    pipe.hset(self._key("meta"), mapping=cast("dict[Any, Any]", meta))
                if offset:
                    pipe.hset(self._key("offsets"), self._offset_field + offset[0], offset[1])
                if renew:
                    await self._script("renew", [repr(expiry), self._owner, *renew], pipe)
                await pipe.execute()
        except BaseException:
            # Not sent: the batch goes back in front of what was staged meanwhile.
            self._adds = {**adds, **self._adds}
            self._acks = {**acks, **self._acks}
            self._meta = {**meta, **self._meta}
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

    async def out_offset(self, out_path: str) -> int | None:
        """The committed byte offset of this machine's results file at ``out_path``."""
        with self._errors("out_offset"):
            value = await self._conn().hget(self._key("offsets"), self._offset_field + out_path)
        return None if value is None else int(value)

    # -- plumbing ------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self._prefix + name

    def _conn(self) -> aioredis.Redis:
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
                pipe = self._conn().pipeline(transaction=False)
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

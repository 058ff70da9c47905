-- Shared by every script. A record keeps next_attempt_at as the string Python sent: Lua numbers
-- print with 14 digits, which would round epoch times.
local P = KEYS[1]
local URLS, COUNTS, LEASES = P .. 'urls', P .. 'counts', P .. 'leases'
local HEADS, NEXTS = P .. 'heads', P .. 'nexts'
-- url -> the fencing token of its current lease (docs/workers.md, "Fencing").
local FENCE = P .. 'fence'
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

-- A lease's record as the caller gets it: the URL's record, '|', the lease's fencing token (a
-- counter: every lease of any URL gets a new one).
local function lease(url, r, owner, expiry)
  r.status = 1
  r.owner = owner
  redis.call('ZADD', LEASES, expiry, url)
  local token = redis.call('INCR', FENCE .. ':seq')
  redis.call('HSET', FENCE, url, token)
  return put(url, r) .. '|' .. token
end

-- True when the lease with `token` still holds `url` (token '0': a caller without a token).
local function holds(url, r, token)
  if token == '0' then return true end
  return r ~= nil and r.status == 1 and redis.call('HGET', FENCE, url) == token
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
    redis.call('HDEL', FENCE, url)
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

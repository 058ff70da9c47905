-- One commit, atomic: what a worker staged since its last commit (see RedisStorage.commit).
-- ARGV: six section sizes, then the sections in order: add's ARGV, ack's ARGV, meta (key, JSON)
-- pairs, pages (url, JSON, due) triples, offsets (field, bytes) pairs, and the worker's commit
-- marker (key suffix, value, TTL s; read back after a lost reply, see RedisStorage._commit).
-- add and ack are those scripts' bodies, each made a function of its ARGV (part_add, part_ack).
-- One script rather than a MULTI/EXEC of scripts: inside EXEC a node that lacks a script
-- (a new primary after a failover, a SCRIPT FLUSH) fails that EVALSHA and applies the rest; a
-- script that is not loaded fails whole, before it writes, and is loaded and sent again.
-- Returns ack's answer: the URLs whose ack was refused (their lease was lost).
local at = 6
local function take(n)
  local out = {}
  for i = 1, tonumber(n) do out[i] = ARGV[at + i] end
  at = at + tonumber(n)
  return out
end
local adds = take(ARGV[1])
local acks = take(ARGV[2])
local meta = take(ARGV[3])
local pages = take(ARGV[4])
local offsets = take(ARGV[5])
local marker = take(ARGV[6])

local refused = {}
if #adds > 0 then part_add(adds) end
if #acks > 0 then refused = part_ack(acks) end
for i = 1, #meta, 2 do redis.call('HSET', P .. 'meta', meta[i], meta[i + 1]) end
for i = 1, #pages, 3 do
  redis.call('HSET', P .. 'pages', pages[i], pages[i + 1])
  redis.call('ZADD', P .. 'due', pages[i + 2], pages[i])
end
for i = 1, #offsets, 2 do redis.call('HSET', P .. 'offsets', offsets[i], offsets[i + 1]) end
if #marker > 0 then redis.call('SET', P .. marker[1], marker[2], 'EX', marker[3]) end
return refused

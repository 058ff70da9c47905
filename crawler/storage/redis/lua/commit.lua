-- One commit, atomic: what a worker staged since its last commit (see RedisStorage.commit).
-- ARGV: six section sizes, then the sections in order: add's ARGV, ack's ARGV, meta (key, JSON)
-- pairs, pages (url, JSON, due) triples, offsets (field, bytes) pairs, renew's ARGV.
-- add, ack and renew are those scripts' bodies, each made a function of its ARGV (part_add ...).
-- One script rather than a MULTI/EXEC of scripts: inside EXEC a node that lacks a script
-- (a new primary after a failover, a SCRIPT FLUSH) fails that EVALSHA and applies the rest; a
-- script that is not loaded fails whole, before it writes, and is loaded and sent again.
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
local renew = take(ARGV[6])

local result = 0
if #adds > 0 then part_add(adds) end
if #acks > 0 then result = part_ack(acks) end
for i = 1, #meta, 2 do redis.call('HSET', P .. 'meta', meta[i], meta[i + 1]) end
for i = 1, #pages, 3 do
  redis.call('HSET', P .. 'pages', pages[i], pages[i + 1])
  redis.call('ZADD', P .. 'due', pages[i + 2], pages[i])
end
for i = 1, #offsets, 2 do redis.call('HSET', P .. 'offsets', offsets[i], offsets[i + 1]) end
if #renew > 0 then part_renew(renew) end
return result

-- A batch of what workers learnt about hosts (crawler/storage/hostledger.py, Note), then the
-- renewal of the slots this worker still holds. Applied in order, atomically.
-- ARGV: n_notes, slot_ttl_s, then per note 10 fields:
--   host, token, pause_s, has_text (0/1), robots_text, robots_failures, robots_wait_s, park,
--   breaker expected version ('' none), breaker blob
-- then (host, token) pairs to renew.
-- Returns per breaker write: host, landed (1/0), version now stored, its blob when not landed.
local P = KEYS[1]
local n, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.6f', x) end
local out = {}
local i = 3
for _ = 1, n do
  local host, token, pause = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local H = P .. 'h:' .. host
  if token ~= '' then
    redis.call('ZREM', H .. ':s', token)
    redis.call('ZREM', H .. ':p', token)
    if redis.call('HGET', H, 'rtok') == token then redis.call('HDEL', H, 'rtok') end
  end
  if pause > 0 then
    local old = tonumber(redis.call('HGET', H, 'pause') or '0')
    if now + pause > old then redis.call('HSET', H, 'pause', fmt(now + pause)) end
  end
  if ARGV[i + 3] == '1' then
    redis.call('HSET', H, 'rtext', ARGV[i + 4], 'rat', fmt(now), 'rfail', 0, 'rretry', 0)
    redis.call('HDEL', H, 'rtok')
  end
  local rfail = tonumber(ARGV[i + 5])
  if rfail > 0 then
    redis.call('HSET', H, 'rfail', rfail, 'rretry', fmt(now + tonumber(ARGV[i + 6])))
  end
  if ARGV[i + 7] ~= '' then redis.call('HSETNX', H, 'parked', ARGV[i + 7]) end
  if ARGV[i + 8] ~= '' then
    local bv = tonumber(redis.call('HGET', H, 'bv') or '0')
    if bv == tonumber(ARGV[i + 8]) then
      redis.call('HSET', H, 'bv', bv + 1, 'bs', ARGV[i + 9])
      out[#out + 1] = host; out[#out + 1] = 1; out[#out + 1] = bv + 1; out[#out + 1] = ''
    else
      out[#out + 1] = host; out[#out + 1] = 0; out[#out + 1] = bv
      out[#out + 1] = redis.call('HGET', H, 'bs') or ''
    end
  end
  i = i + 10
end
while i < #ARGV do
  local H = P .. 'h:' .. ARGV[i]
  local expiry = fmt(now + ttl)
  redis.call('ZADD', H .. ':s', 'XX', expiry, ARGV[i + 1])
  redis.call('ZADD', H .. ':p', 'XX', expiry, ARGV[i + 1])
  i = i + 2
end
return out

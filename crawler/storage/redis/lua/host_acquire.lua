-- One worker asks for a slot on a host (crawler/storage/hostledger.py says what each guard is).
-- Time is the server's (TIME), so workers' clocks never need to agree. Keys of the host:
--   h:<host>    hash  pause, last, rtok, rtext, rat, rfail, rretry, parked, bv, bs
--   h:<host>:s  zset  slot token -> expiry;   h:<host>:p  zset  probe token -> expiry
-- ARGV: host, limit, spacing_s, probe_limit, robots (0/1), force (0/1), known_version, token,
--       slot_ttl_s, robots_max_age_s, full_recheck_s, robots_recheck_s, probe_recheck_s
-- Returns: token|'', wait_s ('-1': not in this run), reason, robots_text, has_text, rfail,
--          robots_wait_s, parked, pause_s, breaker version, breaker blob|'', server time
local H = KEYS[1] .. 'h:' .. ARGV[1]
local S, PR = H .. ':s', H .. ':p'
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.6f', x) end
redis.call('ZREMRANGEBYSCORE', S, '-inf', now)
redis.call('ZREMRANGEBYSCORE', PR, '-inf', now)
local f = redis.call('HMGET', H, 'pause', 'last', 'rtok', 'rtext', 'rat', 'rfail', 'rretry',
                     'parked', 'bv', 'bs')
local pause, last = tonumber(f[1] or '0'), tonumber(f[2] or '')
local rtok = f[3]
if rtok and not redis.call('ZSCORE', S, rtok) then rtok = false end -- its slot expired
local rat, rfail, rretry = tonumber(f[5] or '0'), tonumber(f[6] or '0'), tonumber(f[7] or '0')
local bv = tonumber(f[9] or '0')
local limit, spacing, probe_limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local robots, force = ARGV[5] == '1', ARGV[6] == '1'
local text = false
if robots and f[4] and now - rat < tonumber(ARGV[10]) then text = f[4] end
local blob = ''
if bv ~= tonumber(ARGV[7]) and f[10] then blob = f[10] end

local function view(token, wait, reason)
  return {token, wait, reason, text or '', text and 1 or 0, rfail,
          fmt(math.max(0, rretry - now)), f[8] or '', fmt(math.max(0, pause - now)), bv, blob,
          fmt(now)}
end

if f[8] then return view('', '-1', 'host parked') end
if robots then
  if text then return view('', '0', 'robots.txt known') end
  if rtok then return view('', ARGV[12], 'robots.txt is being fetched') end
  if rretry > now then
    return view('', fmt(rretry - now), 'robots.txt failed; waiting to try again')
  end
end
if pause > now then return view('', fmt(pause - now), 'paused by Retry-After') end
if not force then
  if redis.call('ZCARD', S) >= limit then
    return view('', fmt(math.max(tonumber(ARGV[11]), spacing)), 'throttle')
  end
  if last and now < last + spacing then return view('', fmt(last + spacing - now), 'throttle') end
end
if probe_limit > 0 and redis.call('ZCARD', PR) >= probe_limit then
  return view('', ARGV[13], 'circuit breaker probe taken')
end
local token, expiry = ARGV[8], fmt(now + tonumber(ARGV[9]))
redis.call('ZADD', S, expiry, token)
redis.call('HSET', H, 'last', fmt(now))
if probe_limit > 0 then redis.call('ZADD', PR, expiry, token) end
if robots then redis.call('HSET', H, 'rtok', token) end
return view(token, '0', '')

-- ARGV: now, clock, expiry, owner, limit, per_host (0: no cap), excluded hosts...
reclaim(ARGV[2])
local now, expiry, owner, limit = ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5])
local per_host = tonumber(ARGV[6])
local excluded, n_excl = excluded_from(7)
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
  local want = limit - taken
  if per_host > 0 then
    -- A host's cap is all it gets from this call (its oldest URLs): it is left out from here on.
    want, bound = math.min(want, per_host), '+inf'
    excluded[best] = true
    n_excl = n_excl + 1
  end
  local urls = redis.call('ZRANGEBYSCORE', qkey, '-inf', bound, 'LIMIT', 0, want)
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

-- ARGV: now, limit. Up to `limit` pages due by `now` leave the due index (their settle puts them
-- back); the done ones become pending. Returns {examined, requeued}.
local urls = redis.call('ZRANGEBYSCORE', DUE, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, url in ipairs(urls) do
  redis.call('ZREM', DUE, url)
  n = n + revisit(url)
end
return {#urls, n}

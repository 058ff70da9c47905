-- ARGV: url. A stored (done) page becomes pending now.
local url = ARGV[1]
if redis.call('HEXISTS', P .. 'pages', url) == 0 then return 0 end
local n = revisit(url)
if n == 1 then redis.call('ZREM', DUE, url) end
return n

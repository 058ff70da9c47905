-- ARGV: (url, depth, host) triples
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

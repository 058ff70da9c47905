-- ARGV: host, clock, expiry, owner
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

-- ARGV: k, k urls whose entries stay (acked in a batch not yet committed), then '*' | ids...
local keep, k = {}, tonumber(ARGV[1])
for i = 2, k + 1 do keep[ARGV[i]] = true end
local n = 0
for _, id in ipairs(dlq_ids(k + 2)) do
  local raw = redis.call('HGET', P .. 'dlq', id)
  if raw then
    local url = cjson.decode(raw).url
    if not keep[url] then
      redis.call('HDEL', P .. 'dlq', id)
      if redis.call('HGET', P .. 'dlq:url', url) == id then
        redis.call('HDEL', P .. 'dlq:url', url)
      end
      n = n + 1
    end
  end
end
return n

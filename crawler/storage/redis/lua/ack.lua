-- ARGV: (url, depth, host, attempts, fencing token) quintuples. Returns the URLs whose ack was
-- refused: their lease was lost (reclaimed, maybe leased and stored by another worker since).
local function ack(url, depth, host, attempts)
  local r = get(url)
  local old = nil
  if r == nil then
    r = new_record(depth, host, attempts)
  else
    if r.status == 0 then dequeue(url, r) end
    old = r.status
  end
  r.status, r.attempts, r.nat, r.owner = 2, attempts, '0', ''
  put(url, r)
  move(old, 2)
  redis.call('ZREM', LEASES, url)
  redis.call('HDEL', FENCE, url)
  local id = redis.call('HGET', P .. 'dlq:url', url)
  if id then
    redis.call('HDEL', P .. 'dlq', id)
    redis.call('HDEL', P .. 'dlq:url', url)
  end
end

local refused = {}
for i = 1, #ARGV, 5 do
  local url = ARGV[i]
  if holds(url, get(url), ARGV[i + 4]) then
    ack(url, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  else
    refused[#refused + 1] = url
  end
end
return refused

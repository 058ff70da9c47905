-- ARGV: url, depth, host, attempts, expected DLQ id of the url ('' for none), entry JSON,
-- fencing token. Returns the entry's id; -1: the URL's entry changed meanwhile (read it again);
-- -2: the lease was lost and another worker has leased or stored the URL since (theirs now).
local url = ARGV[1]
local current = redis.call('HGET', P .. 'dlq:url', url) or ''
if current ~= ARGV[5] then return -1 end
local r = get(url)
if ARGV[7] ~= '0' and r ~= nil and (r.status == 2 or r.status == 1) and not holds(url, r, ARGV[7]) then
  return -2
end
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], ARGV[4])
else
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
-- A stored page whose revisit failed stays done, due at the next recrawl (docs/recrawl.md).
local status = 3
if redis.call('HEXISTS', P .. 'pages', url) == 1 then
  status = 2
  redis.call('ZADD', P .. 'due', 'NX', 0, url)
end
r.status, r.attempts, r.owner = status, ARGV[4], ''
put(url, r)
move(old, status)
redis.call('ZREM', LEASES, url)
redis.call('HDEL', FENCE, url)
local id = current
if id == '' then id = redis.call('INCR', P .. 'dlq:seq') end
redis.call('HSET', P .. 'dlq', id, ARGV[6])
redis.call('HSET', P .. 'dlq:url', url, id)
return tonumber(id)

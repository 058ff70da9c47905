-- ARGV: (url, depth, host, attempts) quadruples
for i = 1, #ARGV, 4 do
  local url = ARGV[i]
  local r = get(url)
  local old = nil
  if r == nil then
    r = new_record(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  else
    if r.status == 0 then dequeue(url, r) end
    old = r.status
  end
  r.status, r.attempts, r.nat, r.owner = 2, ARGV[i + 3], '0', ''
  put(url, r)
  move(old, 2)
  redis.call('ZREM', LEASES, url)
  local id = redis.call('HGET', P .. 'dlq:url', url)
  if id then
    redis.call('HDEL', P .. 'dlq', id)
    redis.call('HDEL', P .. 'dlq:url', url)
  end
end
return 1

-- ARGV: url, depth, host, next_attempt_at, attempts, tries, owner, fencing token
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], ARGV[5])
else
  -- Our lease lapsed and another worker took the URL (or settled it): it is theirs now.
  if r.status >= 2 or (r.status == 1 and (r.owner ~= ARGV[7] or not holds(url, r, ARGV[8]))) then
    return 0
  end
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
r.status, r.nat, r.attempts, r.tries, r.owner = 0, ARGV[4], ARGV[5], ARGV[6], ''
put(url, r)
enqueue(url, r)
move(old, 0)
redis.call('ZREM', LEASES, url)
redis.call('HDEL', FENCE, url)
return 1

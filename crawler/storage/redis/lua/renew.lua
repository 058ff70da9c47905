-- ARGV: expiry, owner, then (url, fencing token) pairs. Extends the leases still held with those
-- tokens (an expired one that no other worker has reclaimed yet too: nobody else has it).
-- Returns the URLs whose lease was lost.
local lost = {}
for i = 3, #ARGV, 2 do
  local url = ARGV[i]
  local r = get(url)
  if r and r.status == 1 and r.owner == ARGV[2] and holds(url, r, ARGV[i + 1]) then
    redis.call('ZADD', LEASES, 'XX', ARGV[1], url)
  else
    lost[#lost + 1] = url
  end
end
return lost

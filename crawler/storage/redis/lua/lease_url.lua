-- ARGV: url, depth, host, clock, expiry, owner
reclaim(ARGV[4])
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], 0)
else
  if r.status == 1 then return false end
  if r.status == 0 then dequeue(url, r) end
  old = r.status
end
move(old, 1)
return lease(url, r, ARGV[6], ARGV[5])

-- ARGV: expiry, owner, urls...
for i = 3, #ARGV do
  local r = get(ARGV[i])
  if r and r.status == 1 and r.owner == ARGV[2] then
    redis.call('ZADD', LEASES, 'XX', ARGV[1], ARGV[i])
  end
end
return 1

-- ARGV: owner, excluded hosts...
local excluded, n_excl = excluded_from(2)
local heads = redis.call('ZRANGE', HEADS, 0, n_excl)
for _, host in ipairs(heads) do
  if not excluded[host] then return '0' end
end
local best = nil
local nexts = redis.call('ZRANGE', NEXTS, 0, n_excl, 'WITHSCORES')
for i = 1, #nexts, 2 do
  if not excluded[nexts[i]] then best = nexts[i + 1]; break end
end
-- Another worker's lease comes back at its expiry if that worker dies, and its page may bring
-- new links: the caller is not finished while one is out.
local leases = redis.call('ZRANGE', LEASES, 0, RECLAIM_BATCH_N, 'WITHSCORES')
for i = 1, #leases, 2 do
  local r = get(leases[i])
  if r and r.status == 1 and r.owner ~= ARGV[1] and not excluded[r.host] then
    if best == nil or tonumber(leases[i + 1]) < tonumber(best) then best = leases[i + 1] end
    break
  end
end
return best

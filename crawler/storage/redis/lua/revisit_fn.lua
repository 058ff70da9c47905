-- A done URL becomes pending again, ready at once with a fresh retry count (a recrawl's
-- revisit). Returns 1 when it did.
local DUE = P .. 'due'

local function revisit(url)
  local r = get(url)
  if r == nil or r.status ~= 2 then return 0 end
  r.status, r.tries, r.nat, r.owner = 0, 0, '0', ''
  put(url, r)
  enqueue(url, r)
  move(2, 0)
  return 1
end

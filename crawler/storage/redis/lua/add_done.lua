-- ARGV: url, depth, host
local url = ARGV[1]
local r = get(url)
local old = nil
if r == nil then
  r = new_record(ARGV[2], ARGV[3], 0)
else
  if r.status ~= 0 then return 0 end
  dequeue(url, r)
  old = 0
end
r.status = 4
put(url, r)
move(old, 4)
return 1

-- Entry ids to act on: ARGV from `first` on, or every entry when that is '*'.
local function dlq_ids(first)
  if ARGV[first] ~= '*' then
    local ids = {}
    for i = first, #ARGV do ids[#ids + 1] = ARGV[i] end
    return ids
  end
  local ids = redis.call('HKEYS', P .. 'dlq')
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  return ids
end

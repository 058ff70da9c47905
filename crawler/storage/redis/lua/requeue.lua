-- ARGV: '*' | ids...
local n = 0
for _, id in ipairs(dlq_ids(1)) do
  local raw = redis.call('HGET', P .. 'dlq', id)
  if raw then
    local e = cjson.decode(raw)
    local r = get(e.url)
    if r == nil then  -- the URL record is the truth; rebuild it from the entry
      r = new_record(tostring(e.depth or 0), e.host or '', tostring(e.attempts or 0))
      put(e.url, r)
      enqueue(e.url, r)
      move(nil, 0)
      n = n + 1
    elseif r.status ~= 1 then  -- a leased one is settled by the worker holding it
      if r.status == 0 then dequeue(e.url, r) end
      local old = r.status
      r.status, r.tries, r.nat, r.owner = 0, 0, '0', ''
      put(e.url, r)
      enqueue(e.url, r)
      move(old, 0)
      n = n + 1
    end
  end
end
return n

-- Budgets shared by the replicas of a cluster: spend and reservations of
-- several budgets (a key's, its tenant's) in their periods, checked and
-- held at once.
--
-- KEYS, four per budget period:
--   base    hash: s = spend (nano-USD), r = reserved, and one field per
--           replica, s:<replica id> = that replica's own settled spend
--   base:l  sorted set: reservation id -> lease end (ms)
--   base:a  hash: reservation id -> nano-USD held
--   base:c  set: the capped reservation in flight (held less than its
--           worst case because less was left): while there is one, no
--           other capped reservation is granted, so that requests overrun
--           a budget by at most what one of them costs beyond its hold
-- ARGV[1]  mode: "reserve", "left" (release what is due and report) or
--          "settle" (end reservation ARGV[5])
-- ARGV[2]  now in ms, or "" for Redis's own clock (TIME)
-- ARGV[3]  this replica's field, "s:<replica id>"
-- ARGV[4]  reserve: the nano-USD wanted
-- ARGV[5]  reserve, settle: the reservation id ("" settles none)
-- ARGV[6]  reserve: the lease, ms
-- then per budget, three: max (nano-USD), this replica's own spend
-- (kept in its store: Redis's field never stays below it, so a Redis
-- that lost its data is refilled), and when its keys expire (ms).
--
-- Returns {ok, held, lease end, then s, r per budget}; a refused
-- reservation has ok 0 and held = the index (from 1) of the budget with
-- nothing left (or with a capped reservation in flight).
local mode, field = ARGV[1], ARGV[3]
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[2])
end
local id = ARGV[5]
local n = #KEYS / 4
local out = {}
local left, at = 0, 0
for i = 1, n do
  local h, l, a, c = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local max, mine = tonumber(ARGV[3 * i + 4]), tonumber(ARGV[3 * i + 5])
  -- Reservations whose lease ended (their replica died before settling)
  -- hold nothing any more. (Settling releases only its own.)
  if mode ~= 'settle' then
    local due = redis.call('ZRANGEBYSCORE', l, '-inf', now, 'LIMIT', 0, 256)
    for _, d in ipairs(due) do
      local amt = redis.call('HGET', a, d)
      if amt then
        redis.call('HINCRBY', h, 'r', -tonumber(amt))
        redis.call('HDEL', a, d)
      end
      redis.call('ZREM', l, d)
      redis.call('SREM', c, d)
    end
  elseif id ~= '' then
    local amt = redis.call('HGET', a, id)
    if amt then
      redis.call('HINCRBY', h, 'r', -tonumber(amt))
      redis.call('HDEL', a, id)
      redis.call('ZREM', l, id)
      redis.call('SREM', c, id)
    end
  end
  local own = tonumber(redis.call('HGET', h, field) or '0')
  if mine > own then
    redis.call('HSET', h, field, string.format('%.0f', mine))
    redis.call('HINCRBY', h, 's', string.format('%.0f', mine - own))
  end
  local s = tonumber(redis.call('HGET', h, 's') or '0')
  local r = tonumber(redis.call('HGET', h, 'r') or '0')
  out[2 * i - 1], out[2 * i] = s, r
  local v = max - s - r
  if at == 0 or v < left then
    left, at = v, i
  end
end

local ok, held, lease = 1, 0, 0
if mode == 'reserve' then
  local want = tonumber(ARGV[4])
  local capped = {}
  if left > 0 and want > left then
    for i = 1, n do
      capped[i] = tonumber(ARGV[3 * i + 4]) - out[2 * i - 1] - out[2 * i] < want
      if capped[i] and redis.call('SCARD', KEYS[4 * i]) > 0 then
        left, at = 0, i
      end
    end
  end
  if left <= 0 then
    ok, held = 0, at
  else
    held = math.min(want, left)
    lease = now + tonumber(ARGV[6])
    for i = 1, n do
      local h, l, a, c = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
      redis.call('HINCRBY', h, 'r', string.format('%.0f', held))
      redis.call('ZADD', l, lease, id)
      redis.call('HSET', a, id, string.format('%.0f', held))
      if capped[i] then
        redis.call('SADD', c, id)
      end
      out[2 * i] = out[2 * i] + held
    end
  end
end
for i = 1, n do
  local exp = ARGV[3 * i + 6]
  for j = 4 * i - 3, 4 * i do
    redis.call('PEXPIREAT', KEYS[j], exp)
  end
end
local res = {ok, held, lease}
for i = 1, #out do
  res[3 + i] = string.format('%.0f', out[i])
end
return res

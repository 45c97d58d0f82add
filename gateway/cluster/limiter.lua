-- Rate-limit allowances (GCRA), each kept as golang.org/x/time/rate keeps
-- one: the tokens left when it was last updated and that time, so that
-- the theoretical arrival time is last + (burst - tokens) * 60 / rate.
-- One call decides on all of a request's allowances.
--
-- KEYS[i]  allowance i: a hash {t = tokens, l = last update (µs),
--          r = rate per minute, b = burst}, expiring once whole
-- ARGV[1]  "a" (Allow) or "c" (Charge)
-- ARGV[2]  now in µs, or "" for Redis's own clock (TIME)
-- ARGV[3]  for each key in turn "rate burst n", all separated by spaces:
--          rate per minute (> 0), burst (> 0), and n, the units to take
--          (Allow: min(n, burst) must be there, the rest is debt; 0
--          looks) or to charge (Charge: taken whatever is left; negative
--          gives back, up to a whole allowance)
--
-- Allow takes from the keys in turn, all or nothing: at the first key
-- that has not min(n, burst) left it stops and takes nothing (a changed
-- limit is still written, as LocalLimiter applies it). Charge charges
-- every key. A key named twice sees what its first check took.
--
-- Returns "i t1 .. tk": i the index of the refused key (1-based), 0 if
-- none; then the tokens left after each key decided ("%.17g"), up to
-- and including the refused one.
local charge = ARGV[1] == 'c'
local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[2])
end

-- seen[key] = {tokens, rate, burst, base, changed, took, tokens as
-- "%.17g"}: the allowance at now as this call left it (rate and burst
-- as strings, as stored); base is its tokens without this call's takes.
local seen, order = {}, {}
local out = {'0'}
local i = 0
for rs, bs, ns in string.gmatch(ARGV[3], '(%S+) (%S+) (%S+)') do
  i = i + 1
  local key = KEYS[i]
  local rate, burst, n = tonumber(rs), tonumber(bs), tonumber(ns)
  local a = seen[key]
  if not a then
    local st = redis.call('HMGET', key, 't', 'l', 'r', 'b')
    if st[1] then
      -- Advance at the rate it was counted at (a limit changed since
      -- keeps what is left, at most the new burst), as rate.Limiter's
      -- SetLimitAt.
      local t, last = tonumber(st[1]), tonumber(st[2])
      if now > last then
        t = t + (now - last) * tonumber(st[3]) / 60000000
      end
      t = math.min(t, tonumber(st[4]))
      a = {t, st[3], st[4], t, false, false}
    else
      a = {burst, rs, bs, burst, false, false}
    end
    seen[key] = a
    order[#order + 1] = key
  end
  if a[2] ~= rs or a[3] ~= bs then
    a[1], a[4] = math.min(a[1], burst), math.min(a[4], burst)
    a[2], a[3], a[5] = rs, bs, true
  end

  if charge then
    a[1] = math.min(a[1] - n, burst)
    a[6] = true
  elseif n > 0 then
    if a[1] >= math.min(n, burst) then
      a[1] = a[1] - n
      a[6] = true
    else
      out[1] = tostring(i)
      out[#out + 1] = string.format('%.17g', a[1])
      break
    end
  end
  a[7] = string.format('%.17g', a[1])
  out[#out + 1] = a[7]
end

local refused = out[1] ~= '0'
local stamp = string.format('%.0f', now)
for _, key in ipairs(order) do
  local a = seen[key]
  local tokens, left = a[1], a[7]
  if refused then
    tokens, left = a[4], string.format('%.17g', a[4])
  end
  if a[5] or (a[6] and not refused) then
    local burst = tonumber(a[3])
    redis.call('HSET', key, 't', left, 'l', stamp, 'r', a[2], 'b', a[3])
    -- Once whole, an allowance is the same as none: let it expire then.
    local ms = math.min(math.ceil((burst - tokens) * 60000 / tonumber(a[2])), 1e12) + 1000
    redis.call('PEXPIRE', key, string.format('%.0f', ms))
  end
end
return table.concat(out, ' ')

-- One rate-limit allowance (GCRA), kept as golang.org/x/time/rate keeps
-- it: the tokens left when it was last updated and that time, so that the
-- theoretical arrival time is last + (burst - tokens) * 60 / rate.
--
-- KEYS[1]  the allowance: a hash {t = tokens, l = last update (µs),
--          r = rate per minute, b = burst}, expiring once whole
-- ARGV[1]  rate per minute (> 0)
-- ARGV[2]  burst (> 0)
-- ARGV[3]  n: units to take (Allow: all or nothing, min(n, burst) must be
--          there, the rest is debt; 0 looks) or to charge (Charge: taken
--          whatever is left; negative gives back, up to a whole allowance)
-- ARGV[4]  "a" (Allow) or "c" (Charge)
-- ARGV[5]  now in µs, or "" for Redis's own clock (TIME)
--
-- Returns {allowed (1 or 0), tokens left after it, "%.17g"}.
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now
if ARGV[5] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[5])
end

local tokens = burst
local write = false
local st = redis.call('HMGET', KEYS[1], 't', 'l', 'r', 'b')
if st[1] then
  -- Advance at the rate it was counted at (a limit changed since keeps
  -- what is left, at most the new burst), as rate.Limiter's SetLimitAt.
  local t, last, orate, oburst = tonumber(st[1]), tonumber(st[2]), tonumber(st[3]), tonumber(st[4])
  if now > last then
    t = t + (now - last) * orate / 60000000
  end
  tokens = math.min(t, oburst, burst)
  write = st[3] ~= ARGV[1] or st[4] ~= ARGV[2]
end

local allowed = 1
if ARGV[4] == 'c' then
  tokens = math.min(tokens - n, burst)
  write = true
elseif n > 0 then
  if tokens >= math.min(n, burst) then
    tokens = tokens - n
    write = true
  else
    allowed = 0
  end
end

local left = string.format('%.17g', tokens)
if write then
  redis.call('HSET', KEYS[1], 't', left, 'l', string.format('%.0f', now), 'r', ARGV[1], 'b', ARGV[2])
  -- Once whole, an allowance is the same as none: let it expire then.
  local ms = math.min(math.ceil((burst - tokens) * 60000 / rate), 1e12) + 1000
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ms))
end
return {allowed, left}

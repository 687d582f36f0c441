-- wrk script: POST /v1/transactions/validate with a unique transaction_id per request.
--   wrk ... -s bench/validate.lua URL -- API_KEY [ID_PREFIX]
-- Card numbers vary (a pool of valid Luhn PANs per wrk thread) and so do customers, e-mails and
-- IPs, so the velocity keys spread the way real traffic does. done() prints one machine-readable
-- line (WRKSUMMARY ...) with p50/p99/p99.9 that wrk's --latency table lacks.
local threads = {}
local counter = 0
local pans = {}
local PAN_POOL = 4096

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function luhn_complete(partial)
  -- Appends the check digit: walking right to left over `partial`, the first digit is doubled.
  local sum = 0
  local double = true
  for i = #partial, 1, -1 do
    local d = partial:byte(i) - 48
    if double then
      d = d * 2
      if d > 9 then d = d - 9 end
    end
    sum = sum + d
    double = not double
  end
  return partial .. tostring((10 - sum % 10) % 10)
end

function init(args)
  key = args[1]
  prefix = args[2] or "b"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
  -- 15-digit bodies "4" .. 2-digit thread .. 12-digit index, then the check digit.
  for i = 0, PAN_POOL - 1 do
    pans[i] = luhn_complete(string.format("4%02d%012d", id % 100, i * 7919 + 1000003))
  end
end

function request()
  counter = counter + 1
  local c = counter % 500
  local body = string.format(
    '{"transaction_id":"%s-%d-%d","merchant_id":"m-bench","amount":%d,"currency":"USD",' ..
    '"card":{"number":"%s","expiry_month":12,"expiry_year":2030},' ..
    '"customer":{"id":"c-%d","email":"c%d@example.com","ip":"203.0.%d.%d","country":"US"},' ..
    '"merchant":{"mcc":"5411","country":"US"}}',
    prefix, id, counter, 1000 + (counter % 9000), pans[counter % PAN_POOL], c, c, math.floor(counter / 250) % 250, counter % 250)
  return wrk.format(nil, "/v1/transactions/validate", nil, body)
end

-- Shared with bench/static.lua (kept inline: wrk loads one script).
function done(summary, latency, requests)
  local s = summary
  local non2xx = s.errors.status
  local sockerr = s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout
  io.write(string.format(
    "WRKSUMMARY requests=%d duration_us=%d non2xx=%d socket_errors=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    s.requests, s.duration, non2xx, sockerr,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end

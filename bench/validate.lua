-- wrk script: POST /v1/transactions/validate with a unique transaction_id per request.
-- The API key comes from the environment variable TXV_BENCH_KEY (read by bench/run.sh
-- into wrk's argument list).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  key = args[1]
  prefix = args[2] or "b"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"transaction_id":"%s-%d-%d","merchant_id":"m-bench","amount":%d,"currency":"USD",' ..
    '"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2030},' ..
    '"customer":{"id":"c-%d","email":"c%d@example.com","ip":"203.0.113.7","country":"US"},' ..
    '"merchant":{"mcc":"5411","country":"US"}}',
    prefix, id, counter, 1000 + (counter % 9000), counter % 500, counter % 500)
  return wrk.format(nil, "/v1/transactions/validate", nil, body)
end

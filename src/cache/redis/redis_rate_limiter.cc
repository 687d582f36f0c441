#include "cache/redis/redis_rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace txv::cache {

namespace {

// KEYS[1] the bucket; ARGV: rate (tokens/s), burst, ttl (ms). Returns {allowed (1/0), retry after (s)}.
const RedisScript& acquire_script() {
  static const RedisScript script(R"lua(
local rate, burst, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 't', 'u')
local tokens, updated = tonumber(b[1]), tonumber(b[2])
if tokens == nil or updated == nil then
  tokens = burst
else
  local elapsed = (now - updated) / 1000000
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(burst, tokens + elapsed * rate)
end
local allowed, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / rate)
  if retry < 1 then retry = 1 end
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'u', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], ttl)
return {allowed, retry}
)lua");
  return script;
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

RedisRateLimiter::RedisRateLimiter(RedisClient& client, RedisRateLimiterOptions options)
    : client_(client), options_(std::move(options)), burst_(std::max(1.0, 2 * options_.rate_per_second)) {
  rate_arg_ = number(options_.rate_per_second);
  burst_arg_ = number(burst_);
  // Full again after burst / rate seconds (plus a second): then the key may go.
  const double full_ms = options_.rate_per_second > 0 ? burst_ / options_.rate_per_second * 1000 : 1000;
  ttl_arg_ = std::to_string(static_cast<long long>(std::ceil(std::min(full_ms, 86400000.0))) + 1000);
}

Task<RateDecision> RedisRateLimiter::try_acquire(const std::string& key_id) {
  if (!(options_.rate_per_second > 0)) co_return RateDecision{true, 0, false};
  std::string key = options_.key_prefix + "{" + key_id + "}";
  std::vector<std::string> keys{std::move(key)};
  std::vector<std::string> args{rate_arg_, burst_arg_, ttl_arg_};
  auto r = co_await client_.eval(acquire_script(), std::move(keys), std::move(args));
  if (!r.ok() || !r->is_array() || r->elements.size() != 2) co_return RateDecision{true, 0, true};  // fail open
  if (r->elements[0].integer == 1) co_return RateDecision{true, 0, false};
  co_return RateDecision{false, static_cast<int>(std::max<std::int64_t>(1, r->elements[1].integer)), false};
}

}  // namespace txv::cache

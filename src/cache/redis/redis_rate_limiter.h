// The per-API-key request budget (rate_limiter.h, contract section 2) shared by every replica, in Redis.
//
// One token bucket per key id, `txv:rl:{<key id>}` (a hash: tokens, last refill in microseconds), updated by one
// Lua script (EVALSHA) that reads the server's clock (TIME), so every replica draws from the same bucket with
// the same clock: rate = rate_per_second tokens/s, burst = 2 x rate (at least 1). The key expires once the
// bucket would be full again, so idle keys cost nothing.
//
// Fail open: when Redis is unavailable (or late: the client's deadline, 250 ms by default, and a client that is
// backing off after a failed connection answers at once) the request is allowed with backend_error=true, for the
// caller to count in txv_cache_errors_total.
//
// Thread-safety: try_acquire may be called concurrently from any executor. Must not outlive the client.
#pragma once

#include <string>

#include "cache/rate_limiter.h"
#include "cache/redis/redis_client.h"

namespace txv::cache {

struct RedisRateLimiterOptions {
  double rate_per_second = 0;  // > 0
  std::string key_prefix = "txv:rl:";
};

class RedisRateLimiter final : public RateLimiter {
 public:
  RedisRateLimiter(RedisClient& client, RedisRateLimiterOptions options);
  Task<RateDecision> try_acquire(const std::string& key_id) override;

 private:
  RedisClient& client_;
  const RedisRateLimiterOptions options_;
  const double burst_;
  std::string rate_arg_, burst_arg_, ttl_arg_;
};

}  // namespace txv::cache

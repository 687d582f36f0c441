// In-process token buckets, one per API key id, for the embedded mode.
// try_acquire completes at once, without suspending (one short mutex hold, never across a co_await).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "cache/rate_limiter.h"

namespace txv::cache {

struct LocalRateLimiterOptions {
  double rate_per_second = 0;  // > 0
  // Injected for tests; defaults to steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

class LocalRateLimiter final : public RateLimiter {
 public:
  explicit LocalRateLimiter(LocalRateLimiterOptions options);
  Task<RateDecision> try_acquire(const std::string& key_id) override;
  // The same, synchronously.
  RateDecision acquire_now(const std::string& key_id);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point updated;
  };
  LocalRateLimiterOptions options_;
  double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace txv::cache

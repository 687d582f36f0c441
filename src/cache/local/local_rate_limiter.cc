#include "cache/local/local_rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace txv::cache {

LocalRateLimiter::LocalRateLimiter(LocalRateLimiterOptions options)
    : options_(std::move(options)), burst_(std::max(1.0, 2 * options_.rate_per_second)) {
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
}

Task<RateDecision> LocalRateLimiter::try_acquire(const std::string& key_id) { co_return acquire_now(key_id); }

RateDecision LocalRateLimiter::acquire_now(const std::string& key_id) {
  auto now = options_.now();
  std::lock_guard lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(key_id, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * options_.rate_per_second);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return RateDecision{true, 0, false};
  }
  double wait = (1.0 - b.tokens) / options_.rate_per_second;
  return RateDecision{false, std::max(1, static_cast<int>(std::ceil(wait))), false};
}

}  // namespace txv::cache

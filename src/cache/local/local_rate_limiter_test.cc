#include "cache/local/local_rate_limiter.h"

#include <gtest/gtest.h>

namespace txv::cache {
namespace {

TEST(LocalRateLimiter, BurstIsTwiceTheRateThenRefills) {
  auto t = std::chrono::steady_clock::time_point{};
  LocalRateLimiter limiter({5, [&] { return t; }});
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.try_acquire("k").allowed) << i;
  auto denied = limiter.try_acquire("k");
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_after_seconds, 1);
  EXPECT_TRUE(limiter.try_acquire("other").allowed);  // buckets are per key
  t += std::chrono::milliseconds(200);                // one token at 5/s
  EXPECT_TRUE(limiter.try_acquire("k").allowed);
  EXPECT_FALSE(limiter.try_acquire("k").allowed);
}

TEST(LocalRateLimiter, RetryAfterRoundsUpForSlowRates) {
  auto t = std::chrono::steady_clock::time_point{};
  LocalRateLimiter limiter({0.1, [&] { return t; }});
  EXPECT_TRUE(limiter.try_acquire("k").allowed);  // burst is at least one request
  EXPECT_EQ(limiter.try_acquire("k").retry_after_seconds, 10);
}

}  // namespace
}  // namespace txv::cache

#include "cache/local/local_rate_limiter.h"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace txv::cache {
namespace {

TEST(LocalRateLimiter, BurstIsTwiceTheRateThenRefills) {
  auto t = std::chrono::steady_clock::time_point{};
  LocalRateLimiter limiter({5, [&] { return t; }});
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(limiter.acquire_now("k").allowed) << i;
  auto denied = limiter.acquire_now("k");
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_after_seconds, 1);
  EXPECT_TRUE(limiter.acquire_now("other").allowed);  // buckets are per key
  t += std::chrono::milliseconds(200);                // one token at 5/s
  EXPECT_TRUE(limiter.acquire_now("k").allowed);
  EXPECT_FALSE(limiter.acquire_now("k").allowed);
}

TEST(LocalRateLimiter, RetryAfterRoundsUpForSlowRates) {
  auto t = std::chrono::steady_clock::time_point{};
  LocalRateLimiter limiter({0.1, [&] { return t; }});
  EXPECT_TRUE(limiter.acquire_now("k").allowed);  // burst is at least one request
  EXPECT_EQ(limiter.acquire_now("k").retry_after_seconds, 10);
}

// Through the asynchronous interface, as the API layer calls it: same buckets, completes on the caller's executor.
TEST(LocalRateLimiter, AsynchronousInterfaceSharesTheBuckets) {
  auto t = std::chrono::steady_clock::time_point{};
  LocalRateLimiter limiter({1, [&] { return t; }});
  RateLimiter& shared = limiter;
  asio::io_context io;
  std::vector<RateDecision> got;
  asio::co_spawn(
      io,
      [&]() -> Task<void> {
        for (int i = 0; i < 3; ++i) got.push_back(co_await shared.try_acquire("k"));
      },
      asio::detached);
  io.run();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].allowed);
  EXPECT_TRUE(got[1].allowed);
  EXPECT_FALSE(got[2].allowed);  // burst 2 at 1/s
  EXPECT_EQ(got[2].retry_after_seconds, 1);
  EXPECT_FALSE(limiter.acquire_now("k").allowed);
}

}  // namespace
}  // namespace txv::cache

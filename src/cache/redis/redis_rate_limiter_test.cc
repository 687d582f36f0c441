// The shared rate limiter against a real server (TXV_TEST_REDIS_URL): replicas draw from one bucket, refill at
// the rate, Retry-After, fail open. No assertion is on latency: the bounds come from measured elapsed time.
#include "cache/redis/redis_rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_test_env.h"
#include "common/async_test_runner.h"

namespace txv::cache {
namespace {

using namespace std::chrono_literals;

std::string unique_key() {
  static std::atomic<int> serial{0};
  return "key_" + std::to_string(::getpid()) + "_" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "_" + std::to_string(++serial);
}

std::unique_ptr<RedisClient> client() {
  RedisClientOptions o;
  o.command_timeout = 10s;
  return txv::cache::testing::redis_test_client(o);
}

// Sends n requests at once through `limiters` (round robin); answers how many were allowed and the elapsed time.
struct Burst {
  int allowed = 0;
  int denied_without_retry_after = 0;
  int errors = 0;
  double seconds = 0;
};
Burst burst(txv::testing::AsyncRunner& runner, std::vector<std::unique_ptr<RedisRateLimiter>>& limiters,
            const std::string& key, int n) {
  std::atomic<int> allowed{0}, bad_retry{0}, errors{0}, done{0};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    runner.spawn([&, i]() -> Task<void> {
      auto d = co_await limiters[i % limiters.size()]->try_acquire(key);
      if (d.backend_error) ++errors;
      if (d.allowed) {
        ++allowed;
      } else if (d.retry_after_seconds < 1) {
        ++bad_retry;
      }
      ++done;
    });
  }
  EXPECT_TRUE(txv::testing::wait_until([&] { return done.load() == n; }));
  Burst b;
  b.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  b.allowed = allowed.load();
  b.denied_without_retry_after = bad_retry.load();
  b.errors = errors.load();
  return b;
}

TEST(RedisRateLimiter, ReplicasShareOneBucket) {
  constexpr double kRate = 50;  // burst 100
  std::vector<std::unique_ptr<RedisClient>> clients;
  std::vector<std::unique_ptr<RedisRateLimiter>> limiters;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(client());
    if (!clients.back()) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
    limiters.push_back(std::make_unique<RedisRateLimiter>(*clients.back(), RedisRateLimiterOptions{kRate, "txv:rl:"}));
  }
  txv::testing::AsyncRunner runner(4);
  const std::string key = unique_key();

  // At once: the burst, plus whatever refilled while the requests went through.
  const Burst first = burst(runner, limiters, key, 600);
  EXPECT_EQ(first.errors, 0);
  EXPECT_EQ(first.denied_without_retry_after, 0);
  EXPECT_GE(first.allowed, 100);
  EXPECT_LE(first.allowed, 100 + kRate * first.seconds + 1);
  EXPECT_LT(first.allowed, 600);

  // After at least 0.5 s: at least the tokens of 0.5 s (minus one for rounding), at most those of the time elapsed
  // since the first burst began (the bucket cannot hold more than what refilled since it was emptied).
  const auto since = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(500ms);
  const Burst second = burst(runner, limiters, key, 200);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  EXPECT_EQ(second.errors, 0);
  EXPECT_GE(second.allowed, static_cast<int>(kRate * 0.5) - 1);
  EXPECT_LE(second.allowed, kRate * (elapsed + first.seconds) + 1);

  // Other keys have their own buckets.
  const Burst other = burst(runner, limiters, unique_key(), 50);
  EXPECT_EQ(other.allowed, 50);
}

TEST(RedisRateLimiter, RetryAfterRoundsUpForSlowRates) {
  auto c = client();
  if (!c) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
  RedisRateLimiter limiter(*c, {0.1, "txv:rl:"});  // burst 1
  txv::testing::AsyncRunner runner;
  const std::string key = unique_key();
  auto first = runner.run(limiter.try_acquire(key));
  EXPECT_TRUE(first.allowed);
  auto second = runner.run(limiter.try_acquire(key));
  EXPECT_FALSE(second.allowed);
  EXPECT_FALSE(second.backend_error);
  EXPECT_GE(second.retry_after_seconds, 9);
  EXPECT_LE(second.retry_after_seconds, 10);
}

TEST(RedisRateLimiter, FailsOpenWhenRedisIsUnavailable) {
  RedisClientOptions o;
  o.url = "redis://127.0.0.1:1/0";  // nobody listens there
  auto c = RedisClient::create(o);
  ASSERT_TRUE(c.ok());
  RedisRateLimiter limiter(**c, {1, "txv:rl:"});
  txv::testing::AsyncRunner runner;
  for (int i = 0; i < 5; ++i) {
    auto d = runner.run(limiter.try_acquire("k"));
    EXPECT_TRUE(d.allowed);
    EXPECT_TRUE(d.backend_error);
  }
}

}  // namespace
}  // namespace txv::cache

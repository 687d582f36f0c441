// White-box tests of the Redis velocity counters against a real server (TXV_TEST_REDIS_URL): exactness across
// replicas, exact short windows, the blur of bucketed long windows, exact int64 amounts, arbitrary key bytes,
// TTLs, and the memory a card costs. The contract suite (velocity_counters_contract_test) runs as well.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "cache/redis/redis_test_env.h"
#include "cache/redis/redis_velocity_counters.h"
#include "common/async_test_runner.h"
#include "domain/time.h"

namespace txv::cache {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kMinute = 60 * kSecond;
constexpr std::int64_t kHour = 60 * kMinute;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kCard = static_cast<std::size_t>(VelocityKey::kCard);

template <class... A>
std::vector<std::string> cmd(A&&... a) {
  return std::vector<std::string>{std::string(std::forward<A>(a))...};
}

domain::TimePoint at_ms(std::int64_t ms) { return domain::TimePoint(std::chrono::milliseconds(ms)); }

class RedisVelocity : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = make_client();
    if (!client_) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
    counters_ = std::make_unique<RedisVelocityCounters>(*client_);
    static std::atomic<int> serial{0};
    prefix_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
              std::to_string(::getpid()) + "-" + std::to_string(domain::now_millis().time_since_epoch().count()) + "-" +
              std::to_string(++serial) + "-";
    now_ = domain::now_millis().time_since_epoch().count() / kSecond * kSecond;
  }
  static std::unique_ptr<RedisClient> make_client() {
    RedisClientOptions o;
    o.command_timeout = 10s;
    return txv::cache::testing::redis_test_client(o);
  }

  VelocityEventInput event(std::int64_t t, std::int64_t amount, const std::string& card,
                           std::string currency = "USD") const {
    VelocityEventInput in;
    in.keys[kCard] = card;
    in.amount = amount;
    in.currency = std::move(currency);
    in.at = at_ms(t);
    return in;
  }
  VelocityRead record(RedisVelocityCounters& c, const VelocityEventInput& in, const std::vector<VelocityQuery>& q) {
    auto r = runner_.run(c.read_and_record(in, q));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : VelocityRead{};
  }
  VelocityRead record(const VelocityEventInput& in, const std::vector<VelocityQuery>& q) {
    return record(*counters_, in, q);
  }
  Result<RedisValue> command(std::vector<std::string> args) { return runner_.run(client_->command(std::move(args))); }

  txv::testing::AsyncRunner runner_{4};
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<RedisVelocityCounters> counters_;
  std::string prefix_;
  std::int64_t now_ = 0;
};

// Three clients are three replicas: 48 simultaneous calls for one card, spread over them, observe 0..47 once each.
TEST_F(RedisVelocity, SimultaneousCallsFromThreeReplicasObserveEveryCountOnce) {
  std::vector<std::unique_ptr<RedisClient>> clients;
  std::vector<std::unique_ptr<RedisVelocityCounters>> replicas;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(make_client());
    ASSERT_TRUE(clients.back());
    replicas.push_back(std::make_unique<RedisVelocityCounters>(*clients.back()));
  }
  constexpr int kCalls = 48;
  for (int round = 0; round < 5; ++round) {
    const std::string card = prefix_ + "hot" + std::to_string(round);
    std::mutex mu;
    std::vector<std::int64_t> counts;
    std::atomic<int> done{0}, failed{0};
    for (int i = 0; i < kCalls; ++i) {
      runner_.spawn([&, i]() -> Task<void> {
        const auto in = event(now_ + i % 5, 1, card);
        const std::vector<VelocityQuery> q{{VelocityKey::kCard, kHour}};
        auto r = co_await replicas[i % 3]->read_and_record(in, q);
        if (!r.ok() || !r->totals[0]) {
          ++failed;
        } else {
          std::lock_guard lock(mu);
          counts.push_back(r->totals[0]->count);
        }
        ++done;
      });
    }
    ASSERT_TRUE(txv::testing::wait_until([&] { return done.load() == kCalls; }));
    EXPECT_EQ(failed.load(), 0);
    std::sort(counts.begin(), counts.end());
    std::vector<std::int64_t> want(kCalls);
    for (int i = 0; i < kCalls; ++i) want[i] = i;
    EXPECT_EQ(counts, want) << "round " << round;
  }
}

// Windows up to an hour are exact to the millisecond, whatever bucket the cut falls into, per currency.
TEST_F(RedisVelocity, WindowsUpToAnHourAreExact) {
  const std::string card = prefix_ + "c";
  const std::vector<std::int64_t> windows{30 * kSecond, 5 * kMinute - 1, 10 * kMinute, kHour - 1, kHour};
  std::vector<VelocityQuery> q;
  for (auto w : windows) q.push_back({VelocityKey::kCard, w});
  const std::int64_t t = now_;
  struct Ev {
    std::int64_t at;
    std::int64_t amount;
    const char* currency;
  };
  const std::vector<Ev> events{{t - kHour - 1, 1, "USD"},        {t - kHour, 2, "USD"},
                               {t - kHour + 1, 4, "USD"},        {t - kHour + 59 * kSecond, 8, "EUR"},
                               {t - 10 * kMinute, 16, "USD"},    {t - 10 * kMinute + 1, 32, "USD"},
                               {t - 5 * kMinute + 1, 64, "USD"}, {t - 5 * kMinute + 2, 128, "USD"},
                               {t - 30 * kSecond, 256, "USD"},   {t - 1, 512, "USD"}};
  for (const auto& e : events) (void)record(event(e.at, e.amount, card, e.currency), q);
  auto r = record(event(t, 0, card), q);
  ASSERT_EQ(r.totals.size(), windows.size());
  for (std::size_t i = 0; i < windows.size(); ++i) {
    VelocityTotals want;
    for (const auto& e : events) {
      if (e.at > t - windows[i]) {
        ++want.count;
        if (std::string(e.currency) == "USD") want.amount += e.amount;
      }
    }
    ASSERT_TRUE(r.totals[i]);
    EXPECT_EQ(*r.totals[i], want) << "window " << windows[i];
  }
}

// A 24 h window is bucketed (20-minute buckets): an event counts when it is in the window, and may count up to one
// bucket (<= 1/60 of the window) before it: exactly when its bucket overlaps the window.
TEST_F(RedisVelocity, LongWindowsAreBucketedWithinTheAllowedBlur) {
  const std::string card = prefix_ + "c";
  const std::int64_t w = kDay;
  const std::int64_t g = RedisVelocityCounters::bucket_width_ms(w, /*exact=*/false);
  ASSERT_EQ(g, 20 * kMinute);
  ASSERT_LE(g, w / 60);
  const std::vector<VelocityQuery> q{{VelocityKey::kCard, w}};
  const std::int64_t t = now_ + 7 * kMinute + 123;  // the cut falls inside a bucket
  const std::int64_t cut = t - w;
  const std::vector<std::int64_t> offsets{-25 * kMinute, -20 * kMinute, -19 * kMinute, -7 * kMinute, -1, 0, 1,
                                          10 * kMinute,  12 * kHour};
  std::int64_t amount = 1;
  std::int64_t exact_count = 0, exact_amount = 0, blur_count = 0, blur_amount = 0, bucket_count = 0, bucket_amount = 0;
  for (auto d : offsets) {
    const std::int64_t at = cut + d;
    (void)record(event(at, amount, card), q);
    if (at > cut) {
      ++exact_count;
      exact_amount += amount;
    } else if (at > cut - w / 60) {
      ++blur_count;
      blur_amount += amount;
    }
    if (at / g >= cut / g) {  // what the implementation counts: buckets overlapping the window
      ++bucket_count;
      bucket_amount += amount;
    }
    amount *= 2;
  }
  auto r = record(event(t, 0, card), q);
  ASSERT_TRUE(r.totals.at(0));
  const VelocityTotals got = *r.totals[0];
  EXPECT_GE(got.count, exact_count);
  EXPECT_LE(got.count, exact_count + blur_count);
  EXPECT_GE(got.amount, exact_amount);
  EXPECT_LE(got.amount, exact_amount + blur_amount);
  EXPECT_EQ(got, (VelocityTotals{bucket_count, bucket_amount}));
  EXPECT_GT(bucket_count, exact_count);  // the test does exercise the blur
}

// Lua numbers are doubles; the sums are int64-exact all the same, and saturate at INT64_MAX.
TEST_F(RedisVelocity, AmountsAreExactBeyondDoublePrecisionAndSaturate) {
  const std::string card = prefix_ + "c";
  const std::vector<VelocityQuery> q{{VelocityKey::kCard, kHour}, {VelocityKey::kCard, 7 * kDay}};
  const std::int64_t a = (1LL << 53) + 1, b = (1LL << 52) + 3, c = 999999999;
  (void)record(event(now_ - 2 * kHour, a, card), q);
  (void)record(event(now_ - 30 * kMinute, b, card), q);
  (void)record(event(now_ - 1, c, card), q);
  auto r = record(event(now_, 0, card), q);
  EXPECT_EQ(r.totals.at(0), (VelocityTotals{2, b + c}));
  EXPECT_EQ(r.totals.at(1), (VelocityTotals{3, a + b + c}));
  (void)record(event(now_ + 1, kMax - (b + c) + 1, card), q);
  r = record(event(now_ + 2, 0, card), q);  // the zero-amount probe of now_ counts as well
  EXPECT_EQ(r.totals.at(0), (VelocityTotals{4, kMax}));
  EXPECT_EQ(r.totals.at(1), (VelocityTotals{5, kMax}));

  // A bucket keeps its exact sum past INT64_MAX: cancelling the huge amount brings the exact total back.
  const std::string other = prefix_ + "d";
  (void)record(event(now_ - 3 * kHour, 10, other), q);
  (void)record(event(now_ - 2 * kMinute, 20, other), q);
  auto big = record(event(now_ - kMinute, kMax - 5, other), q);
  r = record(event(now_, 0, other), q);
  EXPECT_EQ(r.totals.at(0), (VelocityTotals{2, kMax}));
  EXPECT_EQ(r.totals.at(1), (VelocityTotals{3, kMax}));
  ASSERT_TRUE(runner_.run(counters_->cancel(r.ticket)).ok());
  ASSERT_TRUE(runner_.run(counters_->cancel(big.ticket)).ok());
  r = record(event(now_ + 1, 0, other), q);
  EXPECT_EQ(r.totals.at(0), (VelocityTotals{1, 20}));
  EXPECT_EQ(r.totals.at(1), (VelocityTotals{2, 30}));
}

// Key values are data, never code: any bytes, braces and quotes included, each its own series.
TEST_F(RedisVelocity, KeyValuesMayContainAnyBytes) {
  const std::vector<std::string> values{prefix_ + "a}b",      prefix_ + "a",
                                        prefix_ + "x{y}z",    prefix_ + std::string("nul\0byte", 8),
                                        prefix_ + "nul",      prefix_ + "'); redis.call('FLUSHALL') --",
                                        prefix_ + "]]..\"\\", prefix_ + std::string(2000, 'L')};
  const std::vector<VelocityQuery> q{{VelocityKey::kCard, kHour}, {VelocityKey::kCard, kDay}};
  for (int round = 0; round < 2; ++round) {
    for (const auto& v : values) {
      auto r = record(event(now_ + round, 7, v), q);
      EXPECT_EQ(r.totals.at(0), (VelocityTotals{round, 7 * round}));
      EXPECT_EQ(r.totals.at(1), (VelocityTotals{round, 7 * round}));
    }
  }
  // An empty string is a value like any other.
  VelocityEventInput in;
  in.keys[static_cast<std::size_t>(VelocityKey::kCustomer)] = std::string();
  in.currency = "USD";
  in.at = at_ms(now_);
  auto first = runner_.run(counters_->read_and_record(in, {{{VelocityKey::kCustomer, kHour}}}));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(runner_.run(counters_->cancel(first->ticket)).ok());
}

TEST_F(RedisVelocity, KeysExpireAfterTheirRetention) {
  const std::string card = prefix_ + "c";
  (void)record(event(now_, 5, card), {{VelocityKey::kCard, 10 * kMinute}, {VelocityKey::kCard, kDay}});
  auto ttl_of = [&](const std::string& part) {
    auto r = command(cmd("PTTL", counters_->redis_key(VelocityKey::kCard, card, part)));
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->integer : -10;
  };
  const std::int64_t events = ttl_of("e");  // min retention 1 h + grace 1 min
  EXPECT_GT(events, kHour);
  EXPECT_LE(events, kHour + kMinute);
  const std::int64_t minutes = ttl_of("w600000");  // 1 s buckets of the exact 10 min window
  EXPECT_GT(minutes, 10 * kMinute);
  EXPECT_LE(minutes, 10 * kMinute + kSecond + kMinute);
  const std::int64_t day = ttl_of("w86400000");  // 20 min buckets of the 24 h window
  EXPECT_GT(day, kDay);
  EXPECT_LE(day, kDay + 20 * kMinute + kMinute);
  EXPECT_EQ(ttl_of("x"), -2);  // no tombstones unless a cancel found nothing
}

TEST_F(RedisVelocity, ACancelThatFindsNothingStopsALaterRecordOfThatEvent) {
  const std::string card = prefix_ + "c";
  const std::vector<VelocityQuery> q{{VelocityKey::kCard, kHour}};
  auto r = record(event(now_, 5, card), q);
  ASSERT_TRUE(runner_.run(counters_->cancel(r.ticket)).ok());
  ASSERT_TRUE(runner_.run(counters_->cancel(r.ticket)).ok());  // finds nothing: a tombstone, harmless
  auto x = command(cmd("SCARD", counters_->redis_key(VelocityKey::kCard, card, "x")));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->integer, 1);
  EXPECT_EQ(record(event(now_ + 1, 1, card), q).totals.at(0), (VelocityTotals{0, 0}));
}

TEST_F(RedisVelocity, InvalidInputIsRefusedAndRecordsNothing) {
  const std::string card = prefix_ + "c";
  auto bad_amount = event(now_, -1, card);
  EXPECT_FALSE(runner_.run(counters_->read_and_record(bad_amount, {{{VelocityKey::kCard, kHour}}})).ok());
  auto bad_currency = event(now_, 1, card, "US:D");
  EXPECT_FALSE(runner_.run(counters_->read_and_record(bad_currency, {{{VelocityKey::kCard, kHour}}})).ok());
  auto ok = event(now_, 1, card);
  EXPECT_FALSE(runner_.run(counters_->read_and_record(ok, {{{VelocityKey::kCard, 0}}})).ok());
  EXPECT_EQ(record(event(now_ + 1, 1, card), {{VelocityKey::kCard, kHour}}).totals.at(0), (VelocityTotals{0, 0}));
}

// What one card costs in Redis (MEMORY USAGE of its keys; the figures in redis_velocity_counters.h come from here).
TEST_F(RedisVelocity, MemoryPerCardPerWindow) {
  constexpr int kCards = 200;
  auto bytes_of = [&](const std::string& card, const std::vector<std::string>& parts) {
    std::int64_t total = 0;
    for (const auto& p : parts) {
      auto r = command(cmd("MEMORY", "USAGE", counters_->redis_key(VelocityKey::kCard, card, p), "SAMPLES", "0"));
      EXPECT_TRUE(r.ok());
      if (r.ok() && !r->is_nil()) total += r->integer;
    }
    return total;
  };
  struct Scenario {
    const char* name;
    std::int64_t window;
    int events;  // per card, spread evenly over `spread`
    std::int64_t spread;
    std::vector<std::string> parts;
  };
  const std::vector<Scenario> scenarios{
      {"24h window, 1 event/card", kDay, 1, 0, {"e", "w86400000"}},
      {"24h window, 2 events/card over 12h", kDay, 2, 12 * kHour, {"e", "w86400000"}},
      {"24h window, 10 events/card over 24h", kDay, 10, kDay, {"e", "w86400000"}},
      {"1h window, 1 event/card", kHour, 1, 0, {"e", "w3600000"}},
      {"1h window, 5 events/card over 1h", kHour, 5, kHour, {"e", "w3600000"}},
  };
  for (const auto& s : scenarios) {
    std::int64_t total = 0, events_key = 0;
    for (int i = 0; i < kCards; ++i) {
      // A card's key value is its fingerprint: 32 hex characters.
      char fp[33];
      std::snprintf(fp, sizeof fp, "%08x%08x%016llx", static_cast<unsigned>(::getpid()), static_cast<unsigned>(i),
                    static_cast<unsigned long long>(std::hash<std::string>{}(prefix_ + s.name)));
      const std::string card(fp, 32);
      for (int e = 0; e < s.events; ++e) {
        const std::int64_t at = now_ - s.spread + (s.events > 1 ? s.spread * e / (s.events - 1) : 0);
        (void)record(event(at, 1250 + e, card), {{VelocityKey::kCard, s.window}});
      }
      total += bytes_of(card, s.parts);
      events_key += bytes_of(card, {"e"});
    }
    const double per_card = static_cast<double>(total) / kCards;
    std::printf("[ memory   ] %-40s %7.0f bytes/card (events set %5.0f, buckets %5.0f); 1 M cards: %6.0f MB\n", s.name,
                per_card, static_cast<double>(events_key) / kCards, static_cast<double>(total - events_key) / kCards,
                per_card * 1e6 / 1e6);
    ::testing::Test::RecordProperty(std::string("bytes_per_card ") + s.name, std::to_string(per_card));
    EXPECT_LT(per_card, 2000) << s.name;  // a regression guard, far above the measured figures
  }
}

}  // namespace
}  // namespace txv::cache

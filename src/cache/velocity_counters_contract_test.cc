// The velocity counter contract suite: what every back-end of
// cache::VelocityCounters must do (src/cache/velocity_counters.h, API contract
// section 5). Parameterised by back-end (velocity_counters_contract_backends.cc);
// every call goes through the asynchronous interface, driven on an io_context
// run by several threads. No test names a back-end.
#include "cache/velocity_counters_contract.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cache/velocity_counters.h"
#include "common/async_test_runner.h"
#include "domain/time.h"

namespace txv::cache::contract {
namespace {

using std::chrono::milliseconds;
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kHour = 3600 * kSecond;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

constexpr std::size_t idx(VelocityKey k) { return static_cast<std::size_t>(k); }
domain::TimePoint at_ms(std::int64_t ms) { return domain::TimePoint(milliseconds(ms)); }

class VelocityCountersContract : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (!backend_) GTEST_SKIP() << GetParam().name << " is not available here";
    // Key values unique to this test, so that a shared server may serve several tests; times near the real clock
    // (whole seconds), so that a back-end expiring by wall-clock time keeps what the tests record.
    static std::atomic<int> serial{0};
    prefix_ = std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
              std::to_string(domain::now_millis().time_since_epoch().count()) + "-" + std::to_string(++serial) + "-";
    t0_ = domain::now_millis().time_since_epoch().count() / kSecond * kSecond;
  }
  VelocityCounters& counters() { return backend_->counters(); }
  // Runs one Task on the runner's threads and waits for it (co_spawn needs a default-constructible result).
  template <class T>
  T run(Task<T> task) {
    auto wrap = [](Task<T> t) -> Task<std::optional<T>> { co_return co_await std::move(t); };
    return *runner_.run(wrap(std::move(task)));
  }
  std::string key(const std::string& name) const { return prefix_ + name; }

  VelocityEventInput event(std::int64_t t, std::int64_t amount, const std::string& card = "c1",
                           std::string currency = "USD") const {
    VelocityEventInput in;
    in.keys[idx(VelocityKey::kCard)] = key(card);
    in.keys[idx(VelocityKey::kMerchant)] = key("m1");
    in.amount = amount;
    in.currency = std::move(currency);
    in.at = at_ms(t);
    return in;
  }

  VelocityRead record(const VelocityEventInput& in, std::vector<VelocityQuery> queries) {
    auto r = run(counters().read_and_record(in, queries));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (r.ok()) {
      EXPECT_EQ(r->totals.size(), queries.size());
    }
    return r.ok() ? std::move(r).value() : VelocityRead{};
  }
  // The totals of one query for `in` (which is recorded).
  std::optional<VelocityTotals> one(const VelocityEventInput& in, VelocityKey k, std::int64_t window) {
    auto r = record(in, {{k, window}});
    return r.totals.empty() ? std::nullopt : r.totals[0];
  }
  // `card`'s totals as of t: records a zero-amount probe under that card only, then cancels it (so it changes
  // nothing for later reads).
  VelocityTotals card_totals(std::int64_t t, std::int64_t window, const std::string& card = "c1",
                             const std::string& currency = "USD") {
    auto in = event(t, 0, card, currency);
    in.keys[idx(VelocityKey::kMerchant)].reset();
    auto r = record(in, {{VelocityKey::kCard, window}});
    cancel(r.ticket);
    return r.totals.empty() || !r.totals[0] ? VelocityTotals{-1, -1} : *r.totals[0];
  }
  void cancel(const VelocityTicket& t) {
    auto s = run(counters().cancel(t));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  }

  testing::AsyncRunner runner_{4};
  std::unique_ptr<Backend> backend_;
  std::string prefix_;
  std::int64_t t0_ = 0;
};

TEST_P(VelocityCountersContract, CountsEarlierEventsNeverTheCurrentOne) {
  EXPECT_EQ(one(event(t0_, 500), VelocityKey::kCard, kHour), (VelocityTotals{0, 0}));
  EXPECT_EQ(one(event(t0_ + 1, 700), VelocityKey::kCard, kHour), (VelocityTotals{1, 500}));
  EXPECT_EQ(one(event(t0_ + 2, 100), VelocityKey::kCard, kHour), (VelocityTotals{2, 1200}));
  EXPECT_EQ(one(event(t0_ + 3, 1), VelocityKey::kMerchant, kHour), (VelocityTotals{3, 1300}));
}

TEST_P(VelocityCountersContract, WindowEdgeIsExclusiveAndTheFarEdgeIsWithinTheAllowedBlur) {
  // Windows in ascending order, each card's event after every earlier read, and reads in time order: so that a
  // back-end's retention (measured from the newest time seen) never drops what a read still expects.
  std::int64_t e = t0_;
  int n = 0;
  for (std::int64_t window : std::array<std::int64_t, 3>{30 * kSecond, kHour, 30 * kDay}) {
    const double blur = GetParam().blur_of(window);
    const auto slack = static_cast<std::int64_t>(static_cast<double>(window) * blur);
    const std::string card = "edge" + std::to_string(n++);
    (void)one(event(e, 100, card), VelocityKey::kCard, window);
    EXPECT_EQ(card_totals(e + 1, window, card), (VelocityTotals{1, 100})) << window;
    EXPECT_EQ(card_totals(e + window - slack - 1, window, card), (VelocityTotals{1, 100})) << window;
    if (blur == 0) {
      EXPECT_EQ(card_totals(e + window - 1, window, card), (VelocityTotals{1, 100})) << window;  // 1 ms inside
      EXPECT_EQ(card_totals(e + window, window, card), (VelocityTotals{0, 0})) << window;  // exactly one window old
    }
    EXPECT_EQ(card_totals(e + window + slack, window, card), (VelocityTotals{0, 0})) << window;
    EXPECT_EQ(card_totals(e + window + slack + kHour, window, card), (VelocityTotals{0, 0})) << window;
    e += window + slack + 2 * kHour;
  }
}

TEST_P(VelocityCountersContract, SeveralQueriesInOneCallAndAbsentKeys) {
  for (int i = 0; i < 10; ++i) (void)one(event(t0_ + i * 60 * kSecond, 10), VelocityKey::kCard, kHour);
  auto in = event(t0_ + 9 * 60 * kSecond + 1, 0);
  auto r = record(in, {{VelocityKey::kCard, 5 * 60 * kSecond - 1},
                       {VelocityKey::kMerchant, kHour},
                       {VelocityKey::kEmail, kHour},
                       {VelocityKey::kCard, kHour}});
  ASSERT_EQ(r.totals.size(), 4u);
  ASSERT_TRUE(r.totals[0] && r.totals[1] && r.totals[3]);
  EXPECT_EQ(r.totals[1], (VelocityTotals{10, 100}));
  EXPECT_FALSE(r.totals[2].has_value());  // the event has no e-mail
  EXPECT_EQ(r.totals[3], (VelocityTotals{10, 100}));
  if (GetParam().blur_of(5 * 60 * kSecond - 1) == 0) {
    EXPECT_EQ(r.totals[0], (VelocityTotals{5, 50}));  // minutes 5..9
  }

  // An event without any key is recorded nowhere; an empty string is a value like any other.
  VelocityEventInput none;
  none.amount = 10;
  none.currency = "USD";
  none.at = at_ms(t0_);
  auto nr = record(none, {{VelocityKey::kCard, kHour}, {VelocityKey::kIp, kHour}});
  EXPECT_FALSE(nr.totals[0].has_value());
  EXPECT_FALSE(nr.totals[1].has_value());
  cancel(nr.ticket);  // no-op
  VelocityEventInput with_ip = none;
  with_ip.keys[idx(VelocityKey::kIp)] = key("10.0.0.1");
  EXPECT_EQ(one(with_ip, VelocityKey::kIp, kHour), (VelocityTotals{0, 0}));
  EXPECT_EQ(one(with_ip, VelocityKey::kIp, kHour), (VelocityTotals{1, 10}));
}

TEST_P(VelocityCountersContract, KeyValuesAndKeyTypesAreSeparate) {
  VelocityEventInput a;
  a.keys[idx(VelocityKey::kCustomer)] = key("x");
  a.amount = 5;
  a.currency = "USD";
  a.at = at_ms(t0_);
  (void)one(a, VelocityKey::kCustomer, kHour);
  VelocityEventInput b = a;  // the same value under another key type
  b.keys[idx(VelocityKey::kCustomer)].reset();
  b.keys[idx(VelocityKey::kEmail)] = key("x");
  EXPECT_EQ(one(b, VelocityKey::kEmail, kHour), (VelocityTotals{0, 0}));
  VelocityEventInput d = a;
  d.keys[idx(VelocityKey::kCustomer)] = key("y");
  EXPECT_EQ(one(d, VelocityKey::kCustomer, kHour), (VelocityTotals{0, 0}));
  EXPECT_EQ(one(a, VelocityKey::kCustomer, kHour), (VelocityTotals{1, 5}));
}

TEST_P(VelocityCountersContract, AmountsArePerCurrencyCountsAcrossCurrencies) {
  (void)one(event(t0_, 100, "c1", "USD"), VelocityKey::kCard, kHour);
  (void)one(event(t0_ + 1, 200, "c1", "EUR"), VelocityKey::kCard, kHour);
  (void)one(event(t0_ + 2, 50, "c1", "USD"), VelocityKey::kCard, kHour);
  (void)one(event(t0_ + 3, 7, "c1", "JPY"), VelocityKey::kCard, kHour);
  EXPECT_EQ(card_totals(t0_ + 4, kHour, "c1", "USD"), (VelocityTotals{4, 150}));
  EXPECT_EQ(card_totals(t0_ + 5, kHour, "c1", "EUR"), (VelocityTotals{4, 200}));
  EXPECT_EQ(card_totals(t0_ + 6, kHour, "c1", "GBP"), (VelocityTotals{4, 0}));  // never seen: count only
}

TEST_P(VelocityCountersContract, AmountsSaturate) {
  (void)one(event(t0_, kMax), VelocityKey::kCard, kHour);
  (void)one(event(t0_ + 1, kMax), VelocityKey::kCard, kHour);
  (void)one(event(t0_ + 2, 5), VelocityKey::kCard, kHour);
  EXPECT_EQ(card_totals(t0_ + 3, kHour), (VelocityTotals{3, kMax}));
}

TEST_P(VelocityCountersContract, EventsStampedLaterButRecordedEarlierAreCounted) {
  (void)one(event(t0_ + 50, 1), VelocityKey::kCard, kHour);  // a racing request stamped 50 ms later got there first
  EXPECT_EQ(one(event(t0_, 2), VelocityKey::kCard, kHour), (VelocityTotals{1, 1}));
}

TEST_P(VelocityCountersContract, CancelRemovesExactlyThatEventAndIsIdempotent) {
  std::vector<VelocityTicket> t;
  const std::array<std::int64_t, 4> amounts{100, 200, 300, 400};
  for (std::size_t i = 0; i < amounts.size(); ++i) {
    t.push_back(
        record(event(t0_ + static_cast<std::int64_t>(i) * 10, amounts[i]), {{VelocityKey::kCard, kHour}}).ticket);
  }
  cancel(t[2]);  // a mid-series event
  EXPECT_EQ(card_totals(t0_ + 100, kHour), (VelocityTotals{3, 700}));
  VelocityTicket copy = t[2];
  cancel(copy);  // idempotent, also through a copy
  cancel(t[2]);
  EXPECT_EQ(card_totals(t0_ + 101, kHour), (VelocityTotals{3, 700}));
  cancel(t[0]);
  EXPECT_EQ(card_totals(t0_ + 102, kHour), (VelocityTotals{2, 600}));
  cancel(VelocityTicket{});  // "nothing recorded": ignored
  // Every key of the event was cancelled: the merchant key too.
  auto m = event(t0_ + 103, 0, "other");
  EXPECT_EQ(one(m, VelocityKey::kMerchant, kHour), (VelocityTotals{2, 600}));
}

TEST_P(VelocityCountersContract, CancelledEventsLeaveEveryWindowConsistent) {
  auto a = record(event(t0_, 100), {{VelocityKey::kCard, kHour}});
  (void)record(event(t0_ + 1000, 200), {{VelocityKey::kCard, kHour}});
  cancel(a.ticket);
  auto r = record(event(t0_ + 2000, 0, "c1"), {{VelocityKey::kCard, kHour}, {VelocityKey::kCard, 1500}});
  EXPECT_EQ(r.totals[0], (VelocityTotals{1, 200}));
  EXPECT_EQ(r.totals[1], (VelocityTotals{1, 200}));
}

// The contract's exactness: 48 simultaneous calls for one card, spread over an io_context run by 4 threads, observe
// the counts 0..47 exactly once each, so a rule `count >= 3` approves exactly 3. Repeated with fresh cards.
TEST_P(VelocityCountersContract, SimultaneousCallsForOneCardObserveEveryCountOnce) {
  constexpr int kCalls = 48;
  for (int round = 0; round < 10; ++round) {
    const std::string card = "hot" + std::to_string(round);
    std::mutex mu;
    std::vector<std::int64_t> counts;
    std::atomic<int> done{0}, failed{0};
    for (int i = 0; i < kCalls; ++i) {
      runner_.spawn([&, i]() -> Task<void> {
        auto in = event(t0_ + i % 7, 1, card);  // stamps race a little, as decisions on several threads do
        const std::array<VelocityQuery, 1> q{{{VelocityKey::kCard, kHour}}};
        auto r = co_await counters().read_and_record(in, q);
        if (!r.ok() || !r->totals[0]) {
          ++failed;
        } else {
          std::lock_guard lock(mu);
          counts.push_back(r->totals[0]->count);
        }
        ++done;
      });
    }
    ASSERT_TRUE(testing::wait_until([&] { return done.load() == kCalls; })) << "round " << round;
    EXPECT_EQ(failed.load(), 0);
    std::sort(counts.begin(), counts.end());
    std::vector<std::int64_t> want(kCalls);
    for (int i = 0; i < kCalls; ++i) want[i] = i;
    EXPECT_EQ(counts, want) << "round " << round;
    EXPECT_EQ(card_totals(t0_ + 10, kHour, card), (VelocityTotals{kCalls, kCalls}));
  }
}

// Concurrent records and cancels of the same card: whatever the interleaving, what is left counts exactly.
TEST_P(VelocityCountersContract, ConcurrentCancelsLeaveExactTotals) {
  constexpr int kCalls = 48;
  std::atomic<int> done{0}, failed{0};
  for (int i = 0; i < kCalls; ++i) {
    runner_.spawn([&, i]() -> Task<void> {
      auto in = event(t0_ + i, 10 + i, "mixed");
      const std::array<VelocityQuery, 1> q{{{VelocityKey::kCard, kHour}}};
      auto r = co_await counters().read_and_record(in, q);
      if (!r.ok()) ++failed;
      if (r.ok() && i % 2 == 1) {
        if (!(co_await counters().cancel(r->ticket)).ok()) ++failed;
      }
      ++done;
    });
  }
  ASSERT_TRUE(testing::wait_until([&] { return done.load() == kCalls; }));
  EXPECT_EQ(failed.load(), 0);
  std::int64_t amount = 0;
  for (int i = 0; i < kCalls; i += 2) amount += 10 + i;
  EXPECT_EQ(card_totals(t0_ + kCalls, kHour, "mixed"), (VelocityTotals{kCalls / 2, amount}));
}

INSTANTIATE_TEST_SUITE_P(Backends, VelocityCountersContract, ::testing::ValuesIn(contract_backends()),
                         [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace txv::cache::contract

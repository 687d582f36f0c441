#include "cache/local/local_velocity_counters.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <latch>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace txv::cache {
namespace {

using std::chrono::milliseconds;
constexpr std::int64_t kHour = 3600 * 1000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kT0 = 1'700'000'000'000;  // 2023-11-14, ms since epoch
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinute = 60'000;
std::int64_t ceil_minute(std::int64_t t) { return (t + kMinute - 1) / kMinute * kMinute; }

domain::TimePoint at_ms(std::int64_t ms) { return domain::TimePoint(milliseconds(ms)); }

constexpr std::size_t idx(VelocityKey k) { return static_cast<std::size_t>(k); }

VelocityEventInput ev(std::int64_t t, std::int64_t amount, std::string currency = "USD", std::string card = "c1") {
  VelocityEventInput in;
  in.keys[idx(VelocityKey::kCard)] = std::move(card);
  in.keys[idx(VelocityKey::kMerchant)] = "m1";
  in.amount = amount;
  in.currency = std::move(currency);
  in.at = at_ms(t);
  return in;
}

VelocityRead must(Result<VelocityRead> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : VelocityRead{};
}

VelocityTotals one(LocalVelocityCounters& c, const VelocityEventInput& in, VelocityKey key, std::int64_t window) {
  const VelocityQuery q{key, window};
  auto r = must(c.record_now(in, std::span(&q, 1)));
  EXPECT_EQ(r.totals.size(), 1u);
  EXPECT_TRUE(!r.totals.empty() && r.totals[0].has_value());
  return r.totals.empty() || !r.totals[0] ? VelocityTotals{-1, -1} : *r.totals[0];
}

// Reads (key, window) as of `t` through a probe that records under an unrelated card, for `card` via kCard.
VelocityTotals probe(LocalVelocityCounters& c, std::int64_t t, std::int64_t window, std::string card = "c1",
                     std::string currency = "USD") {
  return one(c, ev(t, 0, std::move(currency), std::move(card)), VelocityKey::kCard, window);
}

TEST(LocalVelocityCounters, TheCurrentEventIsNeverInItsOwnTotals) {
  LocalVelocityCounters c;
  EXPECT_EQ(one(c, ev(kT0, 500), VelocityKey::kCard, kHour), (VelocityTotals{0, 0}));
  EXPECT_EQ(one(c, ev(kT0 + 1, 700), VelocityKey::kCard, kHour), (VelocityTotals{1, 500}));
  EXPECT_EQ(one(c, ev(kT0 + 2, 100), VelocityKey::kCard, kHour), (VelocityTotals{2, 1200}));
}

// Windows up to the exact span (1 h) are exact at the millisecond. A longer one reads folded 1-minute buckets: the
// bucket holding its far edge counts whole (the contract's blur, here <= 1 min <= window/60), so an event exactly one
// window old still counts and one more than a bucket older does not.
TEST(LocalVelocityCounters, ALongWindowsFarEdgeIsBlurredByAtMostOneBucket) {
  constexpr std::int64_t window = 30 * kDay;
  {
    LocalVelocityCounters c;
    (void)one(c, ev(kT0, 100), VelocityKey::kCard, window);
    EXPECT_EQ(probe(c, kT0 + window, window), (VelocityTotals{1, 100}));
  }
  {
    LocalVelocityCounters c;
    (void)one(c, ev(kT0, 100), VelocityKey::kCard, window);
    EXPECT_EQ(probe(c, kT0 + window + 60'000, window), (VelocityTotals{0, 0}));
  }
  {
    LocalVelocityCounters c;
    (void)one(c, ev(kT0, 100), VelocityKey::kCard, window);
    EXPECT_EQ(probe(c, kT0 + window - 1, window), (VelocityTotals{1, 100}));
  }
}

TEST(LocalVelocityCounters, AnEventExactlyOneWindowOldIsOutsideOneMsLaterInside) {
  for (std::int64_t window : std::array<std::int64_t, 2>{30'000, kHour}) {
    {
      LocalVelocityCounters c;
      (void)one(c, ev(kT0, 100), VelocityKey::kCard, window);
      EXPECT_EQ(probe(c, kT0 + window, window), (VelocityTotals{0, 0})) << window;
    }
    {
      LocalVelocityCounters c;
      (void)one(c, ev(kT0, 100), VelocityKey::kCard, window);
      EXPECT_EQ(probe(c, kT0 + window - 1, window), (VelocityTotals{1, 100})) << window;
    }
  }
}

TEST(LocalVelocityCounters, SeveralWindowsInOneCall) {
  LocalVelocityCounters c;
  for (int i = 0; i < 10; ++i) (void)one(c, ev(kT0 + i * 60'000, 10), VelocityKey::kCard, kHour);  // every minute
  const std::array<VelocityQuery, 4> qs{{{VelocityKey::kCard, 30'000},
                                         {VelocityKey::kCard, 5 * 60'000},
                                         {VelocityKey::kMerchant, kHour},
                                         {VelocityKey::kEmail, kHour}}};
  auto r = must(c.record_now(ev(kT0 + 9 * 60'000 + 1, 0), qs));
  ASSERT_EQ(r.totals.size(), 4u);
  EXPECT_EQ(r.totals[0], (VelocityTotals{1, 10}));  // only the event 1 ms ago
  EXPECT_EQ(r.totals[1], (VelocityTotals{5, 50}));  // minutes 5..9 (minute 4 is 5 min + 1 ms old)
  EXPECT_EQ(r.totals[2], (VelocityTotals{10, 100}));
  EXPECT_FALSE(r.totals[3].has_value());  // no e-mail on the event
}

TEST(LocalVelocityCounters, AmountsAreSummedPerCurrencyCountsAcrossCurrencies) {
  LocalVelocityCounters c;
  (void)one(c, ev(kT0, 100, "USD"), VelocityKey::kCard, kHour);
  (void)one(c, ev(kT0 + 1, 200, "EUR"), VelocityKey::kCard, kHour);
  (void)one(c, ev(kT0 + 2, 50, "USD"), VelocityKey::kCard, kHour);
  (void)one(c, ev(kT0 + 3, 7, "JPY"), VelocityKey::kCard, kHour);
  EXPECT_EQ(probe(c, kT0 + 4, kHour, "c1", "USD"), (VelocityTotals{4, 150}));
  EXPECT_EQ(probe(c, kT0 + 5, kHour, "c1", "EUR"), (VelocityTotals{5, 200}));
  EXPECT_EQ(probe(c, kT0 + 6, kHour, "c1", "GBP"), (VelocityTotals{6, 0}));  // never seen: count only
  // Windows apply per currency too.
  EXPECT_EQ(probe(c, kT0 + kHour + 1, kHour, "c1", "USD"), (VelocityTotals{5, 50}));
}

TEST(LocalVelocityCounters, KeyValuesAndKeyTypesAreSeparate) {
  LocalVelocityCounters c;
  VelocityEventInput a;
  a.keys[idx(VelocityKey::kCustomer)] = "x";
  a.amount = 5;
  a.currency = "USD";
  a.at = at_ms(kT0);
  (void)one(c, a, VelocityKey::kCustomer, kHour);
  VelocityEventInput b = a;  // same value under another key type
  b.keys[idx(VelocityKey::kCustomer)].reset();
  b.keys[idx(VelocityKey::kEmail)] = "x";
  EXPECT_EQ(one(c, b, VelocityKey::kEmail, kHour), (VelocityTotals{0, 0}));
  VelocityEventInput d = a;
  d.keys[idx(VelocityKey::kCustomer)] = "y";
  EXPECT_EQ(one(c, d, VelocityKey::kCustomer, kHour), (VelocityTotals{0, 0}));
  EXPECT_EQ(one(c, a, VelocityKey::kCustomer, kHour), (VelocityTotals{1, 5}));
}

TEST(LocalVelocityCounters, AbsentKeysAnswerNulloptAndAreNotRecorded) {
  LocalVelocityCounters c;
  VelocityEventInput none;
  none.amount = 10;
  none.currency = "USD";
  none.at = at_ms(kT0);
  const std::array<VelocityQuery, 2> qs{{{VelocityKey::kCard, kHour}, {VelocityKey::kIp, kHour}}};
  auto r = must(c.record_now(none, qs));
  ASSERT_EQ(r.totals.size(), 2u);
  EXPECT_FALSE(r.totals[0].has_value());
  EXPECT_FALSE(r.totals[1].has_value());
  EXPECT_EQ(r.ticket.id, 0u);
  (void)c.cancel_now(r.ticket);  // no-op

  VelocityEventInput with_ip = none;
  with_ip.keys[idx(VelocityKey::kIp)] = "10.0.0.1";
  auto r2 = must(c.record_now(with_ip, qs));
  EXPECT_FALSE(r2.totals[0].has_value());
  EXPECT_EQ(r2.totals[1], (VelocityTotals{0, 0}));  // the key-less event was not recorded anywhere
  EXPECT_EQ(c.stats().key_values, 1u);

  VelocityEventInput empty = none;  // an empty string is a value
  empty.keys[idx(VelocityKey::kIp)] = "";
  (void)one(c, empty, VelocityKey::kIp, kHour);
  EXPECT_EQ(one(c, empty, VelocityKey::kIp, kHour), (VelocityTotals{1, 10}));
}

TEST(LocalVelocityCounters, CancelRemovesExactlyThatEventAndIsIdempotent) {
  LocalVelocityCounters c;
  const VelocityQuery q{VelocityKey::kCard, kHour};
  auto a = must(c.record_now(ev(kT0, 100), std::span(&q, 1)));
  auto b = must(c.record_now(ev(kT0 + 10, 200, "EUR"), std::span(&q, 1)));
  auto d = must(c.record_now(ev(kT0 + 20, 300), std::span(&q, 1)));
  auto e = must(c.record_now(ev(kT0 + 30, 400), std::span(&q, 1)));
  std::set<std::uint64_t> ids{a.ticket.id, b.ticket.id, d.ticket.id, e.ticket.id};
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids.count(0), 0u);

  (void)c.cancel_now(d.ticket);  // a mid-series USD event: later cumulative values are adjusted
  EXPECT_EQ(probe(c, kT0 + 40, kHour), (VelocityTotals{3, 500}));
  VelocityTicket copy = d.ticket;
  (void)c.cancel_now(copy);  // idempotent, also through a copy
  (void)c.cancel_now(d.ticket);
  EXPECT_EQ(probe(c, kT0 + 41, kHour), (VelocityTotals{4, 500}));  // + the previous probe (amount 0)
  (void)c.cancel_now(b.ticket);
  EXPECT_EQ(probe(c, kT0 + 42, kHour, "c1", "EUR"), (VelocityTotals{4, 0}));
  // The merchant key was cancelled too.
  EXPECT_EQ(one(c, ev(kT0 + 43, 0, "USD", "other"), VelocityKey::kMerchant, kHour), (VelocityTotals{5, 500}));
}

TEST(LocalVelocityCounters, ACancelledEventLeavesWindowsConsistent) {
  LocalVelocityCounters c;
  const VelocityQuery q{VelocityKey::kCard, kHour};
  auto a = must(c.record_now(ev(kT0, 100), std::span(&q, 1)));
  (void)must(c.record_now(ev(kT0 + 1000, 200), std::span(&q, 1)));
  (void)c.cancel_now(a.ticket);
  // A window that still holds the cancelled event, one that holds only the later one, one that holds neither.
  const std::array<VelocityQuery, 3> qs{
      {{VelocityKey::kCard, kHour}, {VelocityKey::kCard, 1500}, {VelocityKey::kCard, 1}}};
  auto r = must(c.record_now(ev(kT0 + 2000, 0), qs));
  EXPECT_EQ(r.totals[0], (VelocityTotals{1, 200}));
  EXPECT_EQ(r.totals[1], (VelocityTotals{1, 200}));
  EXPECT_EQ(r.totals[2], (VelocityTotals{0, 0}));
  // Once the cancelled event has left the window, nothing is subtracted twice.
  EXPECT_EQ(probe(c, kT0 + kHour + 1, kHour), (VelocityTotals{2, 200}));
}

TEST(LocalVelocityCounters, CancelOfForeignOrPrunedOrPreRebuildTicketsDoesNothing) {
  LocalVelocityCounters c;
  LocalVelocityCounters other;
  const VelocityQuery q{VelocityKey::kCard, kHour};
  auto foreign = must(other.record_now(ev(kT0, 100), std::span(&q, 1)));
  (void)must(c.record_now(ev(kT0, 100), std::span(&q, 1)));
  (void)c.cancel_now(foreign.ticket);
  (void)c.cancel_now(VelocityTicket{});
  (void)c.cancel_now(VelocityTicket{12345, nullptr});
  EXPECT_EQ(probe(c, kT0 + 1, kHour), (VelocityTotals{1, 100}));

  auto old = must(c.record_now(ev(kT0 + 2, 50), std::span(&q, 1)));
  ASSERT_TRUE(c.rebuild({}).ok());
  (void)c.cancel_now(old.ticket);  // the rebuilt state does not hold it
  (void)must(c.record_now(ev(kT0 + 3, 7), std::span(&q, 1)));
  EXPECT_EQ(probe(c, kT0 + 4, kHour), (VelocityTotals{1, 7}));

  (void)c.set_retention(milliseconds(kHour), at_ms(kT0));
  auto early = must(c.record_now(ev(kT0 + 5, 9), std::span(&q, 1)));
  (void)probe(c, kT0 + 3 * kHour, kHour);  // prunes the early events
  (void)c.cancel_now(early.ticket);
  EXPECT_EQ(probe(c, kT0 + 3 * kHour + 1, kHour), (VelocityTotals{1, 0}));
}

TEST(LocalVelocityCounters, RebuildReplacesStateAndMapsStoredFields) {
  LocalVelocityCounters c;
  (void)probe(c, kT0, kHour, "stale");
  std::vector<store::VelocityEvent> events;
  for (int i = 0; i < 5; ++i) {
    store::VelocityEvent e;
    e.at = at_ms(kT0 + i * 1000);
    e.amount = 100 * (i + 1);
    e.currency = i == 4 ? "EUR" : "USD";
    e.merchant_id = "m1";
    e.card_fingerprint = i == 3 ? "" : "fp1";  // empty: no card
    if (i % 2 == 0) e.customer_id = "cust";
    e.email = "a@example.com";
    e.ip = "10.0.0.1";
    if (i == 0) e.device_id = "dev";
    events.push_back(e);
  }
  ASSERT_TRUE(c.rebuild(events).ok());
  EXPECT_EQ(probe(c, kT0 + 5000, kHour, "stale"), (VelocityTotals{0, 0}));
  EXPECT_EQ(probe(c, kT0 + 5001, kHour, "fp1"), (VelocityTotals{4, 600}));  // events 0,1,2 USD + 4 EUR

  const std::array<VelocityQuery, 5> qs{{{VelocityKey::kCustomer, kHour},
                                         {VelocityKey::kEmail, kHour},
                                         {VelocityKey::kIp, 2500},
                                         {VelocityKey::kDevice, kHour},
                                         {VelocityKey::kMerchant, kHour}}};
  VelocityEventInput in = to_velocity_input(events[0]);
  in.at = at_ms(kT0 + 5002);
  in.amount = 0;
  auto r = must(c.record_now(in, qs));
  EXPECT_EQ(r.totals[0], (VelocityTotals{3, 400}));   // 0, 2 (USD) and 4 (EUR)
  EXPECT_EQ(r.totals[1], (VelocityTotals{5, 1000}));  // USD 100+200+300+400
  EXPECT_EQ(r.totals[2], (VelocityTotals{2, 400}));   // 3 and 4 within 2.5 s; 4 is EUR
  EXPECT_EQ(r.totals[3], (VelocityTotals{1, 100}));
  EXPECT_EQ(r.totals[4], (VelocityTotals{7, 1000}));  // 5 stored + the two fp1 probes

  // Unsorted input is sorted; an invalid event fails and keeps the state.
  std::swap(events[0], events[4]);
  ASSERT_TRUE(c.rebuild(events).ok());
  EXPECT_EQ(probe(c, kT0 + 5000, 1500, "fp1", "EUR"), (VelocityTotals{1, 500}));
  events[2].amount = -1;
  auto bad = c.rebuild(events);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "internal");
  EXPECT_EQ(probe(c, kT0 + 5001, kHour, "fp1", "EUR"), (VelocityTotals{5, 500}));
}

TEST(LocalVelocityCounters, RebuildDropsEventsPastRetention) {
  LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(0)});
  std::vector<store::VelocityEvent> events(3);
  for (int i = 0; i < 3; ++i) {
    events[i].at = at_ms(kT0 + i * kHour);
    events[i].amount = 1;
    events[i].currency = "USD";
    events[i].merchant_id = "m";
  }
  ASSERT_TRUE(c.rebuild(events).ok());
  EXPECT_EQ(c.stats().entries, 1u);  // only the newest is within an hour of the newest
}

TEST(LocalVelocityCounters, RetentionPrunesOnTouchAndSweepsIdleKeys) {
  LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(60'000)});
  for (int i = 0; i < 1000; ++i) (void)probe(c, kT0, kHour, "idle" + std::to_string(i));
  (void)probe(c, kT0, kHour, "busy");
  // Retention + grace after kT0, less 1 ms: still held (visible to a window longer than the retention).
  EXPECT_EQ(probe(c, kT0 + kHour + 59'999, 30 * kDay, "busy"), (VelocityTotals{1, 0}));
  // 3 h: both earlier events are past retention + grace of the newest time and go when the key is touched.
  EXPECT_EQ(probe(c, kT0 + 3 * kHour, 30 * kDay, "busy"), (VelocityTotals{0, 0}));
  c.prune();
  auto st = c.stats();
  EXPECT_EQ(st.key_values, 2u);  // "busy" and merchant m1 (one event each, at 3 h); the idle cards are gone
  EXPECT_EQ(st.entries, 2u);
  EXPECT_GT(st.approximate_bytes, 0u);

  // Without prune(), each call sweeps a few buckets of the shards it locks: idle key values go as traffic flows.
  for (int i = 0; i < 1000; ++i) (void)probe(c, kT0 + 3 * kHour, kHour, "idle" + std::to_string(i));
  EXPECT_EQ(c.stats().key_values, 1002u);
  for (int i = 0; i < 100'000; ++i)
    (void)probe(c, kT0 + 5 * kHour + i / 10, kHour, "fresh" + std::to_string(i % 10'000));
  st = c.stats();
  EXPECT_EQ(st.key_values, 10'001u);  // the fresh cards and m1
  EXPECT_EQ(st.entries, 100'000u + 100'000u);
}

TEST(LocalVelocityCounters, EarlierTimesAreClampedToTheNewestOfTheKey) {
  LocalVelocityCounters c;
  (void)one(c, ev(kT0 + 100, 1), VelocityKey::kCard, kHour);
  // A racing event stamped 100 ms earlier still sees the later one, and is stored at kT0 + 100.
  EXPECT_EQ(one(c, ev(kT0, 2), VelocityKey::kCard, kHour), (VelocityTotals{1, 1}));
  EXPECT_EQ(probe(c, kT0 + kHour + 50, kHour), (VelocityTotals{2, 3}));
  EXPECT_EQ(probe(c, kT0 + kHour + 100, kHour), (VelocityTotals{1, 0}));  // only the previous probe
}

TEST(LocalVelocityCounters, AmountsSaturateAndRecoverWhenHugeEventsLeaveTheWindow) {
  LocalVelocityCounters c;
  (void)one(c, ev(kT0, kMax), VelocityKey::kCard, kHour);
  (void)one(c, ev(kT0 + 1, kMax), VelocityKey::kCard, kHour);
  (void)one(c, ev(kT0 + 2, kMax), VelocityKey::kCard, kHour);  // cumulative > 2^64
  (void)one(c, ev(kT0 + 3, 5), VelocityKey::kCard, kHour);
  const std::array<VelocityQuery, 3> qs{
      {{VelocityKey::kCard, kHour}, {VelocityKey::kCard, 2}, {VelocityKey::kCard, 3}}};
  auto r = must(c.record_now(ev(kT0 + 4, 0), qs));
  EXPECT_EQ(r.totals[0], (VelocityTotals{4, kMax}));
  EXPECT_EQ(r.totals[1], (VelocityTotals{1, 5}));
  EXPECT_EQ(r.totals[2], (VelocityTotals{2, kMax}));
}

TEST(LocalVelocityCounters, AmountsStayExactBeyondTheModularRange) {
  // c1: 2^17 x INT64_MAX + 131077 = 2^80 + 5, which the modular difference alone would answer as 5.
  // c2: one INT64_MAX, then 140000 x 1: windows without the big one take the exact linear path.
  std::vector<store::VelocityEvent> events;
  auto add = [&](std::int64_t t, std::int64_t amount, const char* card) {
    store::VelocityEvent e;
    e.at = at_ms(t);
    e.amount = amount;
    e.currency = "USD";
    e.card_fingerprint = card;
    e.merchant_id = "m1";
    events.push_back(std::move(e));
  };
  for (std::int64_t i = 0; i < (1 << 17); ++i) add(kT0 + i, kMax, "c1");
  add(kT0 + (1 << 17), (1 << 17) + 5, "c1");
  add(kT0, kMax, "c2");
  for (std::int64_t i = 0; i < 140'000; ++i) add(kT0 + 1 + i, 1, "c2");
  LocalVelocityCounters c;
  ASSERT_TRUE(c.rebuild(events).ok());

  const std::int64_t t = kT0 + 200'000;
  const std::array<VelocityQuery, 2> qs{{{VelocityKey::kCard, kHour}, {VelocityKey::kCard, t - kT0}}};
  auto r1 = must(c.record_now(ev(t, 0, "USD", "c1"), qs));
  EXPECT_EQ(r1.totals[0], (VelocityTotals{(1 << 17) + 1, kMax}));
  auto r2 = must(c.record_now(ev(t, 0, "USD", "c2"), qs));
  EXPECT_EQ(r2.totals[0], (VelocityTotals{140'001, kMax}));
  EXPECT_EQ(r2.totals[1], (VelocityTotals{140'000, 140'000}));
  const VelocityQuery last{VelocityKey::kCard, t - (kT0 + (1 << 17)) + 1};
  auto r3 = must(c.record_now(ev(t, 0, "USD", "c1"), std::span(&last, 1)));
  EXPECT_EQ(r3.totals[0], (VelocityTotals{2, (1 << 17) + 5}));  // + the first c1 probe
}

TEST(LocalVelocityCounters, InvalidInputIsAnErrorAndRecordsNothing) {
  LocalVelocityCounters c;
  const VelocityQuery q{VelocityKey::kCard, kHour};
  auto neg = ev(kT0, -1);
  EXPECT_FALSE(c.record_now(neg, std::span(&q, 1)).ok());
  EXPECT_FALSE(c.record_now(ev(kT0, 1, "TOOLONGCODE"), std::span(&q, 1)).ok());
  const VelocityQuery zero{VelocityKey::kCard, 0};
  EXPECT_FALSE(c.record_now(ev(kT0, 1), std::span(&zero, 1)).ok());
  const VelocityQuery bad_key{static_cast<VelocityKey>(6), kHour};
  EXPECT_FALSE(c.record_now(ev(kT0, 1), std::span(&bad_key, 1)).ok());
  EXPECT_FALSE(c.record_now(ev(std::int64_t{1} << 50, 1), std::span(&q, 1)).ok());
  EXPECT_EQ(c.stats().key_values, 0u);
  // Extreme but valid: the earliest representable time and a huge window.
  const VelocityQuery huge{VelocityKey::kCard, kMax};
  EXPECT_TRUE(c.record_now(ev(-(std::int64_t{1} << 47), 1), std::span(&huge, 1)).ok());
  EXPECT_EQ(one(c, ev(-(std::int64_t{1} << 47) + 1, 1), VelocityKey::kCard, kMax), (VelocityTotals{1, 1}));
}

// Random operations against a naive model: per key value, every recorded event with its stored (clamped) time,
// amount, currency and whether it was cancelled. Phase 1 is dense (one key value reaches the deque form), phase 2
// sparse (retention prunes it back to the small form). Windows never exceed the retention, so pruning is invisible.
TEST(LocalVelocityCounters, RandomOperationsMatchANaiveModel) {
  constexpr std::int64_t kRetention = 10'000;
  LocalVelocityCounters c({.retention = milliseconds(kRetention), .prune_grace = milliseconds(60'000)});
  struct Event {
    std::int64_t t;
    std::int64_t amount;
    std::string currency;
    std::size_t id;  // index into `cancelled`
  };
  std::map<std::pair<std::size_t, std::string>, std::vector<Event>> model;
  std::vector<bool> cancelled;
  std::vector<VelocityTicket> tickets;
  const std::array<std::string, 3> currencies{"USD", "EUR", "JPY"};
  const std::array<std::int64_t, 5> windows{1, 100, 1000, 5000, kRetention};
  std::mt19937_64 rng(42);
  std::int64_t clock = kT0;
  std::size_t checked = 0;
  for (int op = 0; op < 9000; ++op) {
    const bool dense = op < 8000;
    clock += dense ? 1 : 1000;
    if (!tickets.empty() && rng() % 5 == 0) {  // cancel a recent (sometimes old, sometimes repeated) ticket
      const std::size_t back =
          rng() % 4 == 0 ? rng() % tickets.size() : rng() % std::min<std::size_t>(tickets.size(), 8);
      const std::size_t i = tickets.size() - 1 - back;
      (void)c.cancel_now(tickets[i]);
      cancelled[i] = true;
      continue;
    }
    VelocityEventInput in;
    in.keys[idx(VelocityKey::kMerchant)] = "m";
    in.keys[idx(VelocityKey::kCard)] = "card" + std::to_string(rng() % 4);
    if (rng() % 2 == 0) in.keys[idx(VelocityKey::kIp)] = "ip" + std::to_string(rng() % 30);
    in.amount = static_cast<std::int64_t>(rng() % 100'000);
    in.currency = currencies[rng() % 3];
    in.at = at_ms(clock - static_cast<std::int64_t>(rng() % 30));  // late by up to 30 ms: clamped
    std::vector<VelocityQuery> qs;
    for (int q = 0; q < 3; ++q) {
      constexpr std::array<VelocityKey, 4> kKeys{VelocityKey::kCard, VelocityKey::kIp, VelocityKey::kMerchant,
                                                 VelocityKey::kEmail};  // e-mail: never present
      qs.push_back({kKeys[rng() % kKeys.size()], windows[rng() % windows.size()]});
    }
    auto r = must(c.record_now(in, qs));
    const std::int64_t at = in.at.time_since_epoch().count();
    for (std::size_t q = 0; q < qs.size(); ++q) {
      const std::size_t k = idx(qs[q].key);
      if (!in.keys[k]) {
        EXPECT_FALSE(r.totals[q].has_value());
        continue;
      }
      VelocityTotals want;
      const auto& events = model[{k, *in.keys[k]}];
      for (auto it = events.rbegin(); it != events.rend() && it->t > at - qs[q].window_ms; ++it) {
        if (cancelled[it->id]) continue;
        ++want.count;
        if (it->currency == in.currency) want.amount += it->amount;
      }
      ASSERT_EQ(r.totals[q], want) << "op " << op << " query " << q;
      ++checked;
    }
    const std::size_t id = cancelled.size();
    cancelled.push_back(false);
    tickets.push_back(r.ticket);
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      if (!in.keys[k]) continue;
      auto& events = model[{k, *in.keys[k]}];
      const std::int64_t t = events.empty() ? at : std::max(at, events.back().t);
      events.push_back({t, in.amount, in.currency, id});
    }
  }
  EXPECT_GT(checked, 12'000u);
  const auto st = c.stats();
  EXPECT_LT(st.entries, 200u);  // the sparse phase pruned the dense one
}

// --- History (VelocityHistory): start-up rebuild, backfill, retention ---

store::VelocityEvent stored(std::int64_t t, std::int64_t amount, const std::string& card,
                            const std::string& currency = "USD") {
  store::VelocityEvent e;
  e.at = at_ms(t);
  e.amount = amount;
  e.currency = currency;
  e.card_fingerprint = card;
  e.merchant_id = "m1";
  return e;
}

// What TransactionStore::scan_velocity_events would answer: since <= at < until, in chunks, into a batch for
// `ranges` (every key of every event by default).
std::unique_ptr<VelocityHistory::Batch> load(VelocityHistory& h, const std::vector<store::VelocityEvent>& all,
                                             domain::TimePoint since, domain::TimePoint until,
                                             const KeyRanges& ranges = all_time()) {
  auto batch = h.new_batch(ranges);
  std::vector<store::VelocityEvent> chunk;
  for (const auto& e : all) {
    if (e.at < since || e.at >= until) continue;
    chunk.push_back(e);
    if (chunk.size() == 1000) {
      EXPECT_TRUE(batch->add(chunk).ok());
      chunk.clear();
    }
  }
  EXPECT_TRUE(batch->add(chunk).ok());
  return batch;
}

// The range of every key, when they are all the same (one retention for every key).
HistoryRange the_same(const KeyRanges& ranges) {
  for (const auto& r : ranges) {
    EXPECT_EQ(r.since, ranges[0].since);
    EXPECT_EQ(r.until, ranges[0].until);
  }
  return ranges[0];
}

TEST(LocalVelocityCountersHistory, TheOneKeyMappingKeysStoredAndLiveDecisionsAlike) {
  store::VelocityEvent e = stored(kT0, 5, "fp");
  e.email = "A.B@Example.COM";
  e.customer_id = "";  // present but empty: a value
  e.ip = "10.0.0.1";
  const auto keys = velocity_key_values(velocity_key_fields(e));
  EXPECT_EQ(keys[idx(VelocityKey::kCard)], "fp");
  EXPECT_EQ(keys[idx(VelocityKey::kCustomer)], "");
  EXPECT_EQ(keys[idx(VelocityKey::kEmail)], "a.b@example.com");
  EXPECT_EQ(keys[idx(VelocityKey::kIp)], "10.0.0.1");
  EXPECT_FALSE(keys[idx(VelocityKey::kDevice)].has_value());
  EXPECT_EQ(keys[idx(VelocityKey::kMerchant)], "m1");
  e.card_fingerprint.clear();  // no fingerprint: no card key
  EXPECT_FALSE(velocity_key_values(velocity_key_fields(e))[idx(VelocityKey::kCard)].has_value());

  // Rebuilt from the stored upper-case e-mail, read by a live decision with the lower-case one.
  LocalVelocityCounters c;
  ASSERT_TRUE(c.rebuild(std::vector<store::VelocityEvent>{e}).ok());
  VelocityEventInput live;
  live.keys[idx(VelocityKey::kEmail)] = "a.b@example.com";
  live.currency = "USD";
  live.at = at_ms(kT0 + 1);
  EXPECT_EQ(one(c, live, VelocityKey::kEmail, kHour), (VelocityTotals{1, 5}));
}

TEST(LocalVelocityCountersHistory, BatchesRejectInvalidEventsAndForeignCounters) {
  LocalVelocityCounters c, other;
  auto batch = c.new_batch();
  std::vector<store::VelocityEvent> events{stored(kT0, 1, "a"), stored(kT0, -1, "b")};
  auto added = batch->add(events);
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, "internal");
  EXPECT_EQ(batch->size(), 0u);  // nothing of the failed call
  ASSERT_TRUE(batch->add(std::span(events.data(), 1)).ok());
  EXPECT_EQ(batch->size(), 1u);
  EXPECT_FALSE(other.replace_all(std::move(batch), all_time()).ok());
  EXPECT_FALSE(other.merge_older(c.new_batch(), same_range(HistoryRange{at_ms(kT0), at_ms(kT0 + 1)})).ok());
}

// Start-up rebuild for 1 h, live decisions, then a rule needs 6 h: the backfill loads only what is older than what
// the counters hold, and afterwards a 6 h window counts every stored decision exactly once; tickets issued before
// the backfill still cancel their event. 10,000 events of one key value (merchant m1): several merge slices.
TEST(LocalVelocityCountersHistory, BackfillMergesOnlyTheMissingHistoryAndCountsEachEventOnce) {
  LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(0)});
  const std::int64_t now = kT0 + 5 * kHour;
  std::vector<store::VelocityEvent> history;
  for (int i = 0; i < 10'000; ++i) history.push_back(stored(kT0 + i * 1800, 1, i % 2 == 0 ? "c1" : "c2"));  // 5 h
  // Held after the rebuild but older than the backfill's boundary, and not pruned by then (c2 is not touched in
  // between): the backfill must drop it before merging its stored copy.
  history.push_back(stored(now - kHour + 1, 1, "c2"));
  const auto rebuild_since = at_ms(now - kHour);
  ASSERT_TRUE(c.replace_all(load(c, history, rebuild_since, at_ms(now)),
                            same_range(HistoryRange{rebuild_since, domain::TimePoint::max()}))
                  .ok());
  const std::size_t rebuilt = c.stats().entries;
  EXPECT_EQ(rebuilt, 2u * 2001);  // the last hour: 2,001 events under a card and the merchant

  std::vector<VelocityTicket> live;
  for (int i = 0; i < 3; ++i) {
    auto r = must(c.record_now(ev(now + i, 1, "USD", "c1"), {}));
    live.push_back(r.ticket);
    history.push_back(stored(now + i, 1, "c1"));  // stored
  }
  const KeyRanges ranges = c.set_retention(milliseconds(6 * kHour), at_ms(now));
  const HistoryRange range = the_same(ranges);
  ASSERT_FALSE(range.empty());
  // The old retention from the newest time seen, rounded up to a bucket start (minutes since the epoch).
  EXPECT_EQ(range.until, at_ms(ceil_minute(now + 2 - kHour + 1)));
  EXPECT_EQ(range.since, at_ms(now + 2 - 6 * kHour));
  EXPECT_EQ(c.retention(), same_retention(milliseconds(6 * kHour)));
  // Windows the old retention covered read the same while the backfill runs.
  EXPECT_EQ(probe(c, now + 3, kHour, "c2"), (VelocityTotals{1000, 1000}));
  ASSERT_TRUE(c.merge_older(load(c, history, range.since, range.until), ranges).ok());

  EXPECT_GT(c.stats().buckets, 0u);  // the backfilled hours older than the exact span are folded
  EXPECT_EQ(probe(c, now + 4, 6 * kHour, "c1"), (VelocityTotals{5000 + 3, 5000 + 3}));
  EXPECT_EQ(probe(c, now + 5, 6 * kHour, "c2"), (VelocityTotals{5001 + 1, 5001}));  // + the c2 probe above
  ASSERT_TRUE(c.cancel_now(live[1]).ok());                                          // issued before the backfill
  EXPECT_EQ(probe(c, now + 6, 6 * kHour, "c1"), (VelocityTotals{5000 + 2 + 1, 5000 + 2}));
  const VelocityQuery m{VelocityKey::kMerchant, 6 * kHour};
  auto r = must(c.record_now(ev(now + 7, 0, "USD", "c3"), std::span(&m, 1)));
  EXPECT_EQ(r.totals[0], (VelocityTotals{10'001 + 2 + 4, 10'001 + 2}));  // stored + live + probes, one cancelled

  // Nothing more is missing: growing within what is held, or asking again, loads nothing new before `since`.
  EXPECT_TRUE(all_empty(c.set_retention(milliseconds(6 * kHour), at_ms(now))));
}

// A decision stamped before the backfill boundary but stored after it (its key value's newest time was later: a
// race between threads) is held by the counters; its stored copy in the loaded history must not count again. A
// cancelled clamped event has no stored copy: an unrelated stored event with the same time and amount (0, as a
// verification has) still counts.
TEST(LocalVelocityCountersHistory, AClampedEventStraddlingTheBoundaryCountsOnce) {
  LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(0)});
  ASSERT_TRUE(c.rebuild({}).ok());
  const std::int64_t t = kT0 + 40'000;  // a minute boundary: backfill boundaries are bucket starts
  std::vector<store::VelocityEvent> history;
  auto live = [&](std::int64_t at, std::int64_t amount, bool store) {
    auto r = must(c.record_now(ev(at, amount, "USD", "c1"), {}));
    if (store) history.push_back(stored(at, amount, "c1"));
    return r.ticket;
  };
  history.push_back(stored(t - 30 * 60'000, 100, "c1"));  // older than the counters remember
  (void)live(t - 3, 0, true);                             // F
  (void)live(t, 10, true);                                // A
  (void)live(t - 5, 20, true);                            // B: stored at t, stamped t - 5
  auto cancelled = live(t - 3, 0, false);                 // C: stored at t, stamped t - 3, then not stored
  ASSERT_TRUE(c.cancel_now(cancelled).ok());
  EXPECT_EQ(c.stats().clamped, 2u * 2);  // B and C, under the card and the merchant
  (void)live(t + kHour - 3, 1, true);    // D: the newest time, so that the boundary falls between B's times
  const KeyRanges ranges = c.set_retention(milliseconds(3 * kHour), at_ms(t));
  const HistoryRange range = the_same(ranges);
  ASSERT_EQ(range.until, at_ms(t));  // t - 2 rounded up to a bucket start: B (t - 5, stored at t) straddles it
  ASSERT_TRUE(c.merge_older(load(c, history, range.since, range.until), ranges).ok());
  // E, F, A, B, D once each; C not at all.
  EXPECT_EQ(probe(c, t + kHour - 2, 3 * kHour, "c1"), (VelocityTotals{5, 131}));
}

TEST(LocalVelocityCountersHistory, ShrinkingTheRetentionDropsOldEventsAndGivesTheMemoryBack) {
  LocalVelocityCounters c({.retention = milliseconds(30 * kDay), .prune_grace = milliseconds(0)});
  constexpr int kCards = 20'000;
  for (int i = 0; i < kCards; ++i)
    (void)must(c.record_now(ev(kT0 + i * 40'000LL, 1, "USD", "card" + std::to_string(i)), {}));
  const auto before = c.stats();
  EXPECT_EQ(before.entries + before.folded, 2u * kCards);  // each card and the merchant
  EXPECT_GT(before.folded, 0u);                            // all but the last hour in 1-minute buckets
  EXPECT_EQ(before.key_values, kCards + 1u);
  EXPECT_TRUE(all_empty(c.set_retention(milliseconds(kHour), at_ms(kT0))));
  const auto after = c.stats();
  EXPECT_LE(after.entries + after.folded, 2u * 91);  // the last hour: one event every 40 s
  EXPECT_LE(after.key_values, 92u);
  EXPECT_LT(after.approximate_bytes, before.approximate_bytes / 20);
  // Growing it back does not bring the dropped events back by itself: it asks for them.
  const KeyRanges back = c.set_retention(milliseconds(30 * kDay), at_ms(kT0));
  EXPECT_FALSE(the_same(back).empty());
}

// --- Retention per velocity key ---

constexpr std::size_t kCardKey = idx(VelocityKey::kCard);
constexpr std::size_t kCustomerKey = idx(VelocityKey::kCustomer);
constexpr std::size_t kEmailKey = idx(VelocityKey::kEmail);
constexpr std::size_t kMerchantKey = idx(VelocityKey::kMerchant);

// 5 h of stored decisions, one every 10 s (1,800): cards c0/c1 alternately, one customer, one e-mail, merchant m1.
std::vector<store::VelocityEvent> five_hours() {
  std::vector<store::VelocityEvent> out;
  for (int i = 0; i < 1800; ++i) {
    store::VelocityEvent e = stored(kT0 + i * 10'000LL, 1, i % 2 == 0 ? "c0" : "c1");
    e.customer_id = "cust";
    e.email = "e@example.com";
    out.push_back(e);
  }
  return out;
}
constexpr std::int64_t kFiveHoursNewest = kT0 + 1799 * 10'000LL;
// Events of five_hours() held under a key kept 1 h (grace 0): at > newest - 1 h.
constexpr std::size_t kLastHour = 360;

KeyRetention card_day_others_hour() {
  KeyRetention r = same_retention(milliseconds(kHour));
  r[kCardKey] = milliseconds(kDay);
  return r;
}

// What the rule engine's start-up loads for these retentions: key k from newest - retention[k] on.
KeyRanges startup_ranges(const KeyRetention& r, std::int64_t newest) {
  KeyRanges out;
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    out[k] = HistoryRange{at_ms(newest - r[k].count()), domain::TimePoint::max()};
  }
  return out;
}

VelocityTotals customer_read(LocalVelocityCounters& c, std::int64_t t, std::int64_t window) {
  VelocityEventInput in;
  in.keys[kCustomerKey] = "cust";
  in.currency = "USD";
  in.at = at_ms(t);
  return one(c, in, VelocityKey::kCustomer, window);
}

// Card kept 24 h, the other keys 1 h: of 5 h of history, the cards keep all of it and the other keys only the last
// hour, whether the batch holds every key of every event (replace_all drops what is past each key's retention) or
// was built for per-key ranges (it does not even keep the older keys).
TEST(LocalVelocityCountersPerKey, AStartUpKeepsEachKeyForItsOwnRetention) {
  const auto history = five_hours();
  for (const bool ranged : {false, true}) {
    SCOPED_TRACE(ranged ? "batch for per-key ranges" : "batch of every key");
    LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(0)});
    (void)c.set_retention(card_day_others_hour(), at_ms(kT0));
    EXPECT_EQ(c.retention(), card_day_others_hour());
    const KeyRanges ranges = ranged ? startup_ranges(card_day_others_hour(), kFiveHoursNewest) : all_time();
    ASSERT_TRUE(c.replace_all(load(c, history, at_ms(kT0), at_ms(kMax), ranges), ranges).ok());
    const auto st = c.stats();
    EXPECT_EQ(st.events_by_key[kCardKey], 1800u);
    EXPECT_EQ(st.events_by_key[kCustomerKey], kLastHour);
    EXPECT_EQ(st.events_by_key[kEmailKey], kLastHour);
    EXPECT_EQ(st.events_by_key[kMerchantKey], kLastHour);
    EXPECT_EQ(st.events_by_key[idx(VelocityKey::kIp)], 0u);
    EXPECT_EQ(probe(c, kFiveHoursNewest + 1, 5 * kHour, "c0"), (VelocityTotals{900, 900}));
    EXPECT_EQ(customer_read(c, kFiveHoursNewest + 2, 5 * kHour), (VelocityTotals{kLastHour, kLastHour}));
  }
  // The batch itself keeps key k only within ranges[k]: with every key kept 24 h, a batch for a 1 h customer range
  // still loads only the customer's last hour.
  LocalVelocityCounters c({.retention = milliseconds(kDay), .prune_grace = milliseconds(0)});
  KeyRanges ranges = all_time();
  ranges[kCustomerKey] = HistoryRange{at_ms(kFiveHoursNewest - kHour), domain::TimePoint::max()};
  ASSERT_TRUE(c.replace_all(load(c, history, at_ms(kT0), at_ms(kMax), ranges), ranges).ok());
  EXPECT_EQ(c.stats().events_by_key[kCustomerKey], kLastHour + 1);  // at >= since: one more than at > cutoff
  EXPECT_EQ(c.stats().events_by_key[kEmailKey], 1800u);
}

// Growing one key's retention (customer 1 h -> 24 h) asks for that key's history only and backfills it exactly; the
// card's counts (already held for 24 h) are not counted again, even when the batch holds every key of the events
// (the store may send more), and the other keys keep their hour. Shrinking it back drops the customer's hours only.
TEST(LocalVelocityCountersPerKey, GrowingOneKeyBackfillsThatKeyAloneAndExactly) {
  auto history = five_hours();
  for (const bool ranged : {true, false}) {
    SCOPED_TRACE(ranged ? "batch for the grown key's range" : "batch of every key");
    LocalVelocityCounters c({.retention = milliseconds(kHour), .prune_grace = milliseconds(0)});
    (void)c.set_retention(card_day_others_hour(), at_ms(kT0));
    const KeyRanges start = startup_ranges(card_day_others_hour(), kFiveHoursNewest);
    ASSERT_TRUE(c.replace_all(load(c, history, at_ms(kT0), at_ms(kMax), start), start).ok());
    // Live decisions after the start-up (stored too).
    std::vector<store::VelocityEvent> all = history;
    for (int i = 1; i <= 3; ++i) {
      VelocityEventInput in = ev(kFiveHoursNewest + i, 1, "USD", "c0");
      in.keys[kCustomerKey] = "cust";
      in.keys[kEmailKey] = "e@example.com";
      (void)must(c.record_now(in, {}));
      store::VelocityEvent e = stored(kFiveHoursNewest + i, 1, "c0");
      e.customer_id = "cust";
      e.email = "e@example.com";
      all.push_back(e);
    }
    const std::int64_t newest = kFiveHoursNewest + 3;
    const VelocityTotals card_before = probe(c, newest + 1, 24 * kHour, "c0");
    EXPECT_EQ(card_before, (VelocityTotals{900 + 3, 900 + 3}));
    const auto before = c.stats();

    KeyRetention grown = card_day_others_hour();
    grown[kCustomerKey] = milliseconds(kDay);
    const KeyRanges ranges = c.set_retention(grown, at_ms(newest));
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) EXPECT_EQ(ranges[k].empty(), k != kCustomerKey) << k;
    const HistoryRange r = ranges[kCustomerKey];
    // From the newest time seen (the card probe's, newest + 1) back 24 h, to the old retention rounded up to a minute.
    EXPECT_EQ(r.since, at_ms(newest + 1 - kDay));
    EXPECT_EQ(r.until, at_ms(ceil_minute(newest + 1 - kHour + 1)));
    EXPECT_EQ(hull(ranges).since, r.since);
    EXPECT_EQ(scan_fields(ranges).needed_from[kCustomerKey], r.since);
    EXPECT_EQ(scan_fields(ranges).needed_from[kCardKey], domain::TimePoint::max());  // not read at all
    ASSERT_TRUE(c.merge_older(load(c, all, r.since, r.until, ranged ? ranges : all_time()), ranges).ok());

    // Exact: every stored event of the customer in the window, once.
    const auto stored_in = [&](std::int64_t from) {
      std::int64_t n = 0;
      for (const auto& e : all) n += e.customer_id && e.at.time_since_epoch().count() > from;
      return n;
    };
    const std::int64_t customer = stored_in(newest + 2 - 24 * kHour);
    EXPECT_EQ(customer, 1800 + 3);
    EXPECT_EQ(customer_read(c, newest + 2, 24 * kHour), (VelocityTotals{customer, customer}));
    // A 2 h window reads the backfilled buckets: exact up to the far edge's minute (<= 6 events of it).
    const VelocityTotals two_hours = customer_read(c, newest + 3, 2 * kHour);
    EXPECT_GE(two_hours.count, stored_in(newest + 3 - 2 * kHour) + 1);  // + the 24 h read
    EXPECT_LE(two_hours.count, stored_in(newest + 3 - 2 * kHour) + 1 + 6);
    // The card (and the e-mail, kept 1 h) unchanged: nothing merged twice.
    const auto after = c.stats();
    EXPECT_EQ(after.events_by_key[kCardKey], before.events_by_key[kCardKey]);
    EXPECT_EQ(after.events_by_key[kEmailKey], before.events_by_key[kEmailKey]);
    EXPECT_EQ(after.events_by_key[kMerchantKey], before.events_by_key[kMerchantKey]);
    EXPECT_EQ(probe(c, newest + 4, 24 * kHour, "c0"), (VelocityTotals{card_before.count + 1, card_before.amount}));

    // Shrinking the customer back: its older events go, the card keeps its day.
    EXPECT_TRUE(all_empty(c.set_retention(card_day_others_hour(), at_ms(newest))));
    EXPECT_LE(c.stats().events_by_key[kCustomerKey], kLastHour + 6);
    EXPECT_EQ(c.stats().events_by_key[kCardKey], after.events_by_key[kCardKey] + 1);  // + the last probe
  }
}

// Tiers: a 24 h window over 3 days of folded buckets is exact for every cutoff that is not within a minute after an
// event, and otherwise counts at most the events of that minute (exact <= got <= exact + events in (cutoff - 1 min,
// cutoff]). A 1 h window stays exact throughout.
TEST(LocalVelocityCountersTiers, FoldedLongWindowsAreExactAwayFromTheEdgeAndWithinOneBucketAtIt) {
  LocalVelocityCounters c({.retention = milliseconds(2 * kDay), .prune_grace = milliseconds(60'000)});
  std::mt19937_64 rng(42);
  std::vector<std::pair<std::int64_t, std::int64_t>> events;  // (at, amount) under card c1
  std::int64_t t = kT0;
  std::size_t blurred = 0, exact = 0;
  for (int i = 0; i < 3000; ++i) {
    t += 1 + static_cast<std::int64_t>(rng() % 200'000);  // ~100 s apart on average: ~7 days
    const auto amount = static_cast<std::int64_t>(rng() % 1000);
    const VelocityQuery qs[2] = {{VelocityKey::kCard, kDay}, {VelocityKey::kCard, kHour}};
    auto r = must(c.record_now(ev(t, amount, "USD", "c1"), std::span(qs, 2)));
    for (int q = 0; q < 2; ++q) {
      const std::int64_t w = q == 0 ? kDay : kHour;
      const std::int64_t cut = t - w;
      std::int64_t n = 0, a = 0, edge_n = 0, edge_a = 0;
      for (const auto& [at, am] : events) {
        if (at > cut) n += 1, a += am;
        if (at <= cut && at > cut - kMinute) edge_n += 1, edge_a += am;
      }
      ASSERT_TRUE(r.totals[q].has_value());
      const VelocityTotals got = *r.totals[q];
      if (q == 1 || edge_n == 0) {
        ASSERT_EQ(got, (VelocityTotals{n, a})) << i << " window " << w;
        ++exact;
      } else {
        ASSERT_GE(got.count, n) << i;
        ASSERT_LE(got.count, n + edge_n) << i;
        ASSERT_GE(got.amount, a) << i;
        ASSERT_LE(got.amount, a + edge_a) << i;
        blurred += got.count != n ? 1 : 0;
      }
    }
    events.emplace_back(t, amount);
    while (!events.empty() && events.front().first < t - 3 * kDay) events.erase(events.begin());
  }
  EXPECT_GT(c.stats().folded, 0u);
  EXPECT_GT(exact, 4500u);
  EXPECT_GT(blurred, 0u);  // the edge was hit and counted its bucket (else the tiers were never exercised)
}

// Memory per key value is bounded by the window, not by traffic: ten times the events of a merchant over 26 hours
// with a 24 h retention: the same number of buckets, and only the exact last hour grows.
TEST(LocalVelocityCountersTiers, MemoryPerKeyValueIsBoundedByTheWindowNotByTraffic) {
  auto fill = [](std::int64_t every_ms) {
    LocalVelocityCounters c({.retention = milliseconds(kDay), .prune_grace = milliseconds(60'000)});
    for (std::int64_t t = kT0; t < kT0 + 26 * kHour; t += every_ms) {
      auto in = ev(t, 1, "USD", "card");
      in.keys[static_cast<std::size_t>(VelocityKey::kCard)].reset();  // the merchant only
      (void)must(c.record_now(in, {}));
    }
    c.prune();
    return c.stats();
  };
  const auto slow = fill(10'000), fast = fill(1'000);
  EXPECT_EQ(slow.key_values, 1u);
  EXPECT_LE(slow.buckets, 24u * 60 + 2);
  EXPECT_LE(fast.buckets, 24u * 60 + 2);
  EXPECT_LE(fast.entries, 62u * 60 + 2);  // the exact span, the grace and up to a minute, one event a second
  EXPECT_GT(fast.folded, 9u * slow.folded);
  EXPECT_LT(fast.approximate_bytes, 3 * slow.approximate_bytes);  // exact per-event entries would be 10x
}

// A cancel that comes after its event was folded (a request older than the exact span, or a clock step) takes it out
// of its bucket: count and amount, in every window.
TEST(LocalVelocityCountersTiers, CancelOfAFoldedEventTakesItOutOfItsBucket) {
  LocalVelocityCounters c;
  auto keep = must(c.record_now(ev(kT0, 500, "USD", "c1"), {}));
  (void)must(c.record_now(ev(kT0 + 1000, 70, "USD", "c1"), {}));
  (void)must(c.record_now(ev(kT0 + 3 * kHour, 1, "USD", "c2"), {}));               // the newest time moves on
  EXPECT_EQ(probe(c, kT0 + 3 * kHour + 1, kDay, "c1"), (VelocityTotals{2, 570}));  // touching c1 folds it
  EXPECT_GE(c.stats().folded, 2u);
  ASSERT_TRUE(c.cancel_now(keep.ticket).ok());
  EXPECT_EQ(probe(c, kT0 + 3 * kHour + 2, kDay, "c1"), (VelocityTotals{2, 70}));  // + the probe above (amount 0)
  EXPECT_EQ(probe(c, kT0 + 3 * kHour + 3, 2 * kHour, "c1"), (VelocityTotals{2, 0}));
  ASSERT_TRUE(c.cancel_now(keep.ticket).ok());  // idempotent
  EXPECT_EQ(probe(c, kT0 + 3 * kHour + 4, kDay, "c1"), (VelocityTotals{4, 70}));
  EXPECT_EQ(c.stats().cancelled, 2u);  // card and merchant
}

// The contract's example: N simultaneous requests for one card observe 0..N-1, so `count >= 3` approves exactly 3.
TEST(LocalVelocityCountersConcurrency, FiftySimultaneousCallsForOneCardSeeZeroToFortyNine) {
  constexpr int kThreads = 50;
  for (int round = 0; round < 20; ++round) {
    LocalVelocityCounters c;
    std::latch start(kThreads);
    std::vector<std::int64_t> counts(kThreads, -1);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        VelocityEventInput in = ev(kT0 + t % 3, 10, "USD", "card");
        in.keys[idx(VelocityKey::kIp)] = "ip" + std::to_string(t % 7);  // other keys spread over other shards
        in.keys[idx(VelocityKey::kEmail)] = "e" + std::to_string(t);
        const VelocityQuery q{VelocityKey::kCard, kHour};
        start.arrive_and_wait();
        auto r = c.record_now(in, std::span(&q, 1));
        if (r.ok() && r->totals[0]) counts[t] = r->totals[0]->count;
      });
    }
    for (auto& th : threads) th.join();
    std::sort(counts.begin(), counts.end());
    for (int i = 0; i < kThreads; ++i) ASSERT_EQ(counts[i], i) << "round " << round;
    const auto approvals = std::count_if(counts.begin(), counts.end(), [](std::int64_t n) { return n < 3; });
    EXPECT_EQ(approvals, 3);
  }
}

TEST(LocalVelocityCountersConcurrency, MixedKeysFromEightThreadsAddUpExactly) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 10'000;
  LocalVelocityCounters c;
  const std::array<std::string, 3> currencies{"USD", "EUR", "JPY"};
  struct Seen {
    std::mutex mu;
    std::map<std::string, std::vector<std::int64_t>> counts;  // per card and per merchant: counts observed
  } seen;
  std::atomic<std::int64_t> clock{kT0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::map<std::string, std::vector<std::int64_t>> local;
      const std::array<VelocityQuery, 3> qs{
          {{VelocityKey::kCard, 30 * kDay}, {VelocityKey::kMerchant, 30 * kDay}, {VelocityKey::kIp, 30 * kDay}}};
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        const std::uint64_t x = rng();
        VelocityEventInput in;
        in.keys[idx(VelocityKey::kCard)] = "card" + std::to_string(x % 50);
        in.keys[idx(VelocityKey::kMerchant)] = "m" + std::to_string((x >> 8) % 3);
        if ((x >> 16) % 2 == 0) in.keys[idx(VelocityKey::kIp)] = "ip" + std::to_string((x >> 20) % 20);
        if ((x >> 28) % 4 == 0) in.keys[idx(VelocityKey::kDevice)] = "d" + std::to_string(x % 1000);
        in.amount = static_cast<std::int64_t>((x >> 32) % 10'000);
        in.currency = currencies[(x >> 48) % 3];
        in.at = at_ms(clock.fetch_add(1) - static_cast<std::int64_t>((x >> 40) % 5));  // races by a few ms
        auto r = c.record_now(in, qs);
        ASSERT_TRUE(r.ok());
        local[*in.keys[idx(VelocityKey::kCard)]].push_back(r->totals[0]->count);
        local[*in.keys[idx(VelocityKey::kMerchant)]].push_back(r->totals[1]->count);
        EXPECT_EQ(r->totals[2].has_value(), in.keys[idx(VelocityKey::kIp)].has_value());
      }
      std::lock_guard lock(seen.mu);
      for (auto& [k, v] : local) seen.counts[k].insert(seen.counts[k].end(), v.begin(), v.end());
    });
  }
  for (auto& th : threads) th.join();

  // Each key value's observed counts are exactly 0..n-1: every call saw every earlier one and none twice.
  std::int64_t card_total = 0, merchant_total = 0;
  for (auto& [k, v] : seen.counts) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<std::int64_t>(i)) << k;
    (k[0] == 'c' ? card_total : merchant_total) += static_cast<std::int64_t>(v.size());
  }
  EXPECT_EQ(card_total, kThreads * kPerThread);
  EXPECT_EQ(merchant_total, kThreads * kPerThread);
  // Final totals per currency agree with a serial recount of the same random streams.
  std::map<std::tuple<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> expect;  // (card, cur)
  for (int t = 0; t < kThreads; ++t) {
    std::mt19937_64 rng(t);
    for (int i = 0; i < kPerThread; ++i) {
      const std::uint64_t x = rng();
      auto& e = expect[{"card" + std::to_string(x % 50), currencies[(x >> 48) % 3]}];
      e.first += 1;
      e.second += static_cast<std::int64_t>((x >> 32) % 10'000);
    }
  }
  const std::int64_t now = clock.load() + 10;
  for (int card = 0; card < 50; ++card) {
    std::int64_t count = 0;
    for (const auto& cur : currencies) count += expect[{"card" + std::to_string(card), cur}].first;
    for (const auto& cur : currencies) {
      VelocityEventInput in;
      in.keys[idx(VelocityKey::kCard)] = "card" + std::to_string(card);
      in.currency = cur;
      in.at = at_ms(now);
      const VelocityQuery q{VelocityKey::kCard, 30 * kDay};
      auto r = must(c.record_now(in, std::span(&q, 1)));
      (void)c.cancel_now(r.ticket);  // keep the probe itself out of the next currency's count
      EXPECT_EQ(r.totals[0], (VelocityTotals{count, expect[{"card" + std::to_string(card), cur}].second}))
          << card << cur;
    }
  }
}

TEST(LocalVelocityCountersConcurrency, ConcurrentCancelsLeaveExactTotals) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5'000;
  LocalVelocityCounters c;
  std::latch start(kThreads);
  std::atomic<std::int64_t> kept_amount{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const VelocityQuery q{VelocityKey::kMerchant, kHour};
      start.arrive_and_wait();
      std::vector<VelocityTicket> pending;
      for (int i = 0; i < kPerThread; ++i) {
        VelocityEventInput in = ev(kT0 + i, i % 100, "USD", "card" + std::to_string((t * 31 + i) % 17));
        auto r = c.record_now(in, std::span(&q, 1));
        ASSERT_TRUE(r.ok());
        if (i % 3 == 0) {
          pending.push_back(r->ticket);  // cancelled a little later, out of order
        } else {
          kept_amount += in.amount;
        }
        if (pending.size() == 4) {
          std::reverse(pending.begin(), pending.end());
          for (auto& p : pending) (void)c.cancel_now(p);
          pending.clear();
        }
      }
      for (auto& p : pending) (void)c.cancel_now(p);
    });
  }
  for (auto& th : threads) th.join();
  const std::int64_t kept = kThreads * (kPerThread - (kPerThread + 2) / 3);
  EXPECT_EQ(one(c, ev(kT0 + kPerThread, 0, "USD", "x"), VelocityKey::kMerchant, kHour),
            (VelocityTotals{kept, kept_amount.load()}));
  std::int64_t card_count = 0;
  for (int card = 0; card < 17; ++card) {
    card_count +=
        one(c, ev(kT0 + kPerThread, 0, "USD", "card" + std::to_string(card)), VelocityKey::kCard, kHour).count;
  }
  EXPECT_EQ(card_count, kept);
  EXPECT_EQ(c.stats().cancelled, static_cast<std::size_t>(2 * (kThreads * kPerThread - kept)));  // card + merchant
}

}  // namespace
}  // namespace txv::cache

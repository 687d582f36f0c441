// LocalVelocityCounters: record_now (the synchronous core of read_and_record) with 3 queries (card 1h, customer 24h,
// merchant 30d) over key values that hold ~1k or ~100k events each, with 1 and 2 threads; a variant where every call
// brings a card never seen before; and rebuild throughput.
//
// Run: build/bench/velocity_bench --benchmark_min_time=1s
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cache/local/local_velocity_counters.h"

namespace {

using txv::cache::LocalVelocityCounters;
using txv::cache::LocalVelocityCountersOptions;
using txv::cache::VelocityEventInput;
using txv::cache::VelocityKey;
using txv::cache::VelocityQuery;

constexpr std::int64_t kT0 = 1'700'000'000'000;
constexpr std::int64_t kHour = 3'600'000;
constexpr std::size_t idx(VelocityKey k) { return static_cast<std::size_t>(k); }
const std::array<VelocityQuery, 3> kQueries{
    {{VelocityKey::kCard, kHour}, {VelocityKey::kCustomer, 24 * kHour}, {VelocityKey::kMerchant, 30 * 24 * kHour}}};

std::unique_ptr<LocalVelocityCounters> g_counters;
std::atomic<std::int64_t> g_clock{0};

// One event per ms; retention = `events` ms keeps every key value at about `events` entries while the benchmark runs.
void setup(std::int64_t events) {
  g_counters = std::make_unique<LocalVelocityCounters>(LocalVelocityCountersOptions{
      .retention = std::chrono::milliseconds(events), .prune_grace = std::chrono::milliseconds(0)});
  std::vector<txv::store::VelocityEvent> history(static_cast<std::size_t>(events));
  for (std::int64_t i = 0; i < events; ++i) {
    auto& e = history[static_cast<std::size_t>(i)];
    e.at = txv::domain::TimePoint(std::chrono::milliseconds(kT0 + i));
    e.amount = 1000 + i % 100;
    e.currency = "USD";
    e.merchant_id = "merchant";
    e.card_fingerprint = "0123456789abcdef0123456789abcdef";
    e.customer_id = "customer-42";
    e.email = "someone@example.com";
  }
  if (!g_counters->rebuild(history).ok()) std::abort();
  g_clock = kT0 + events;
}

VelocityEventInput input(std::string card) {
  VelocityEventInput in;
  in.keys[idx(VelocityKey::kCard)] = std::move(card);
  in.keys[idx(VelocityKey::kCustomer)] = "customer-42";
  in.keys[idx(VelocityKey::kEmail)] = "someone@example.com";
  in.keys[idx(VelocityKey::kMerchant)] = "merchant";
  in.amount = 1234;
  in.currency = "USD";
  return in;
}

void BM_ReadAndRecord(benchmark::State& state) {
  if (state.thread_index() == 0) setup(state.range(0));
  VelocityEventInput in = input("0123456789abcdef0123456789abcdef");
  for (auto _ : state) {
    in.at = txv::domain::TimePoint(std::chrono::milliseconds(g_clock.fetch_add(1, std::memory_order_relaxed)));
    auto r = g_counters->record_now(in, kQueries);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_counters.reset();
}
BENCHMARK(BM_ReadAndRecord)->Arg(1'000)->Arg(100'000)->Threads(1)->Threads(2)->UseRealTime();

// Every call a new card (insertion of a key value under the lock); customer and merchant stay hot.
void BM_ReadAndRecordNewCards(benchmark::State& state) {
  if (state.thread_index() == 0) setup(state.range(0));
  std::int64_t n = state.thread_index() * 1'000'000'000LL;
  VelocityEventInput in = input("");
  for (auto _ : state) {
    in.keys[idx(VelocityKey::kCard)] = "fp" + std::to_string(n++);
    in.at = txv::domain::TimePoint(std::chrono::milliseconds(g_clock.fetch_add(1, std::memory_order_relaxed)));
    auto r = g_counters->record_now(in, kQueries);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_counters.reset();
}
BENCHMARK(BM_ReadAndRecordNewCards)->Arg(100'000)->Threads(1)->Threads(2)->UseRealTime();

// Read, record, then cancel (a decision that failed to store): the cancel adjusts only the tail.
void BM_ReadRecordCancel(benchmark::State& state) {
  if (state.thread_index() == 0) setup(state.range(0));
  VelocityEventInput in = input("0123456789abcdef0123456789abcdef");
  for (auto _ : state) {
    in.at = txv::domain::TimePoint(std::chrono::milliseconds(g_clock.fetch_add(1, std::memory_order_relaxed)));
    auto r = g_counters->record_now(in, kQueries);
    if (r.ok()) (void)g_counters->cancel_now(r->ticket);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) g_counters.reset();
}
BENCHMARK(BM_ReadRecordCancel)->Arg(100'000)->UseRealTime();

// Start-up rebuild: 1M stored decisions over 100k cards, 20k customers, 50 merchants, 5 keys each.
void BM_Rebuild(benchmark::State& state) {
  std::vector<txv::store::VelocityEvent> history(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < history.size(); ++i) {
    auto& e = history[i];
    e.at = txv::domain::TimePoint(std::chrono::milliseconds(kT0 + static_cast<std::int64_t>(i)));
    e.amount = 1000;
    e.currency = i % 10 == 0 ? "EUR" : "USD";
    e.merchant_id = "merchant" + std::to_string(i % 50);
    e.card_fingerprint = "card-fingerprint-" + std::to_string(i % 100'000);
    e.customer_id = "customer-" + std::to_string(i % 20'000);
    e.email = "user" + std::to_string(i % 20'000) + "@example.com";
    e.ip = "10.0." + std::to_string(i % 256) + "." + std::to_string(i % 200);
  }
  for (auto _ : state) {
    auto c = std::make_unique<LocalVelocityCounters>();
    if (!c->rebuild(history).ok()) std::abort();
    state.PauseTiming();
    const auto st = c->stats();
    state.counters["key_values"] = static_cast<double>(st.key_values);
    state.counters["MB"] = static_cast<double>(st.approximate_bytes) / 1e6;
    state.counters["bytes_per_entry"] = static_cast<double>(st.approximate_bytes) / static_cast<double>(st.entries);
    c.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Rebuild)->Arg(1'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

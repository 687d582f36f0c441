// Throughput of durable decision inserts through SqliteDatabase's group commit
// (WAL, synchronous=FULL: every acknowledged insert is fsync'd), and the time
// to replace a 1,000,000-entry list.
//
//   sqlite_insert_bench [--benchmark_filter=...]
// The database lives in $TXV_BENCH_DIR (default: the temp directory): point it
// at the disk you want to measure; a tmpfs makes fsync free.
//
// Each benchmark thread awaits its insert on a private io_context (block_on):
// N threads are N decisions in flight, as N suspended requests would be.
//
// BM_InsertDecision/max_batch:1 disables group commit (one transaction and one
// fsync per insert) for comparison; "inserts/s" is the total over all threads.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/async.h"
#include "domain/time.h"
#include "store/sqlite/sqlite_database.h"

namespace {

using txv::store::SqliteDatabase;

std::string g_dir;
std::unique_ptr<SqliteDatabase> g_db;
std::atomic<std::int64_t> g_next_id{0};

std::string make_temp_dir() {
  const char* base = std::getenv("TXV_BENCH_DIR");
  std::filesystem::path root = base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path();
  std::string tmpl = (root / "txv-bench-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

void open_db(int max_batch) {
  g_dir = make_temp_dir();
  txv::store::SqliteOptions options;
  options.path = g_dir + "/bench.db";
  options.max_batch = max_batch;
  auto db = SqliteDatabase::open(options);
  if (!db.ok() || !(*db)->migrate().ok()) {
    std::fprintf(stderr, "cannot open %s\n", options.path.c_str());
    std::exit(1);
  }
  g_db = std::move(*db);
}

void close_db() {
  auto s = g_db->writer_stats();
  if (s.batches > 0) {
    std::fprintf(stderr, "    [writer] %llu calls in %llu commits (avg %.1f per fsync, largest %llu)\n",
                 static_cast<unsigned long long>(s.items), static_cast<unsigned long long>(s.batches),
                 static_cast<double>(s.items) / static_cast<double>(s.batches),
                 static_cast<unsigned long long>(s.largest_batch));
  }
  g_db->close();
  g_db.reset();
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}

txv::domain::DecisionRecord make_record(std::int64_t id) {
  txv::domain::DecisionRecord r;
  r.merchant_id = "m-" + std::to_string(id % 50);
  r.transaction_id = "ord-" + std::to_string(id);
  r.request_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  r.amount = 12550;
  r.currency = "USD";
  r.decision = txv::domain::Decision::kApprove;
  r.reasons = {txv::domain::Reason{"high_amount", "rule", "r-1", txv::domain::RuleAction::kReview}};
  r.rules_version = 7;
  r.card = txv::domain::CardSummary{"visa", "424242", "4242", "0123456789abcdef0123456789abcdef"};
  r.has_customer = true;
  r.customer = txv::domain::Customer{"c-" + std::to_string(id % 1000), "a@example.com", "203.0.113.7", "US", "d-1"};
  r.has_merchant = true;
  r.merchant = txv::domain::Merchant{"5411", "US"};
  r.metadata = {{"channel", "web"}};
  r.occurred_at = txv::domain::now_millis();
  r.decided_at = r.occurred_at;
  return r;
}

void BM_InsertDecision(benchmark::State& state) {
  for (auto _ : state) {
    auto out = txv::block_on(g_db->insert_decision(make_record(g_next_id.fetch_add(1))));
    if (!out.ok()) {
      state.SkipWithError(out.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["inserts/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InsertDecision)
    ->ArgName("max_batch")
    ->Arg(1024)
    ->Arg(1)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime()
    ->Setup([](const benchmark::State& s) { open_db(static_cast<int>(s.range(0))); })
    ->Teardown([](const benchmark::State&) { close_db(); });

// Arg: percentage of the 1,000,000 entries that differ from the stored list
// (100: the list is new).
void BM_ReplaceList1M(benchmark::State& state) {
  constexpr int kEntries = 1'000'000;
  const int changed_pct = static_cast<int>(state.range(0));
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string name = "ips_" + std::to_string(round++);
    std::vector<std::string> entries;
    entries.reserve(kEntries);
    for (int i = 0; i < kEntries; ++i)
      entries.push_back("10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                        std::to_string(i & 255));
    if (changed_pct < 100) {
      if (!txv::block_on(g_db->replace_list(name, entries, "bench")).ok())
        state.SkipWithError("initial replace failed");
      const int changed = kEntries / 100 * changed_pct;
      for (int i = 0; i < changed; ++i) entries[i] = "new-" + std::to_string(i);
    }
    state.ResumeTiming();
    auto out = txv::block_on(g_db->replace_list(name, entries, "bench"));
    if (!out.ok() || out->entry_count != kEntries) {
      state.SkipWithError(out.ok() ? "wrong entry count" : out.error().message.c_str());
      break;
    }
  }
}
BENCHMARK(BM_ReplaceList1M)
    ->ArgName("changed_pct")
    ->Arg(100)
    ->Arg(10)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Setup([](const benchmark::State&) { open_db(1024); })
    ->Teardown([](const benchmark::State&) { close_db(); });

}  // namespace

BENCHMARK_MAIN();

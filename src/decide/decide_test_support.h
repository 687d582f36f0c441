// Shared by the decide tests: a real SQLite store in a temporary directory,
// Tasks driven on an io_context run by several threads, rule records, valid
// card numbers, and a TransactionStore decorator that injects failures.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/async.h"
#include "common/async_test_runner.h"
#include "decide/rule_record_test_support.h"
#include "domain/transaction.h"
#include "store/sqlite/sqlite_database.h"
#include "store/stores.h"

namespace txv::decide::test {

// Runs one Task on the runner's threads and waits for it (co_spawn needs a default-constructible result).
template <class T>
T run(txv::testing::AsyncRunner& runner, Task<T> task) {
  auto wrap = [](Task<T> t) -> Task<std::optional<T>> { co_return co_await std::move(t); };
  return *runner.run(wrap(std::move(task)));
}

// A migrated SQLite database in a fresh temporary directory, removed afterwards.
class TempDatabase {
 public:
  TempDatabase() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-decide-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    store::SqliteOptions options;
    options.path = (std::filesystem::path(dir_) / "txv.db").string();
    auto db = store::open_sqlite_database(options);
    if (!db.ok()) {
      ADD_FAILURE() << db.error().message;
      return;
    }
    db_ = std::move(db).value();
    auto migrated = db_->migrate();
    if (!migrated.ok()) ADD_FAILURE() << migrated.error().message;
  }
  ~TempDatabase() {
    if (db_) db_->close();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  TempDatabase(const TempDatabase&) = delete;
  TempDatabase& operator=(const TempDatabase&) = delete;
  store::Database& db() { return *db_; }

 private:
  std::string dir_;
  std::unique_ptr<store::Database> db_;
};

// A Luhn-valid 16-digit Visa number, distinct per n.
inline std::string card_number(std::uint64_t n) {
  const std::string body = std::to_string(n % 100'000'000'000'000ULL);  // at most 14 digits
  std::string digits = "4" + std::string(14 - body.size(), '0') + body;
  int sum = 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {  // from the right, the check digit not yet there
    int d = digits[digits.size() - 1 - i] - '0';
    if (i % 2 == 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  digits.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  return digits;
}

inline domain::TransactionRequest request(std::string id, const std::string& card, std::int64_t amount = 1250) {
  domain::TransactionRequest r;
  r.transaction_id = std::move(id);
  r.merchant_id = "m-1";
  r.amount = amount;
  r.currency = "USD";
  r.card.number = card;
  r.card.expiry_month = 12;
  r.card.expiry_year = 2099;
  return r;
}

using txv::testing::suspend_until;

// A stored decision as another process (or an earlier run) left it.
inline domain::DecisionRecord stored_decision(const std::string& transaction_id, const std::string& fingerprint,
                                              domain::TimePoint decided_at, std::int64_t amount = 1250) {
  domain::DecisionRecord r;
  r.merchant_id = "m-1";
  r.transaction_id = transaction_id;
  r.request_hash = "hash-" + transaction_id;
  r.type = domain::TransactionType::kPurchase;
  r.amount = amount;
  r.currency = "USD";
  r.decision = domain::Decision::kApprove;
  r.card = domain::CardSummary{"visa", "400000", "0000", fingerprint};
  r.occurred_at = decided_at;
  r.decided_at = decided_at;
  return r;
}

// A TransactionStore that forwards to `inner`, except where told to fail or to pretend.
class ScriptedStore : public store::TransactionStore {
 public:
  explicit ScriptedStore(store::TransactionStore& inner) : inner_(inner) {}

  std::function<bool(const domain::DecisionRecord&)> fail_insert;          // answer "unavailable", store nothing
  std::function<Task<void>(const domain::DecisionRecord&)> before_insert;  // awaited before inserting
  std::function<bool(const std::string& transaction_id)> hide;             // find_decision answers "none"
  // Runs before each history scan (on the scanning thread); an error is the scan's.
  std::function<Status()> before_scan;
  std::atomic<int> scans{0};
  std::atomic<int> chunks{0};
  std::atomic<std::size_t> largest_chunk{0};
  // The last history scan's start and fields (read once the scan is over).
  store::TimePoint last_scan_since{};
  store::VelocityScanFields last_scan_fields;

  Task<Result<store::InsertOutcome>> insert_decision(const domain::DecisionRecord& record) override {
    if (fail_insert && fail_insert(record)) co_return make_error("unavailable", "injected: database unavailable");
    if (before_insert) co_await before_insert(record);
    co_return co_await inner_.insert_decision(record);
  }
  Task<Result<std::optional<domain::DecisionRecord>>> find_decision(const std::string& merchant_id,
                                                                    const std::string& transaction_id) override {
    auto found = co_await inner_.find_decision(merchant_id, transaction_id);
    if (found.ok() && hide && hide(transaction_id)) found->reset();
    co_return found;
  }
  Task<Result<store::TransactionPage>> list_decisions(const store::TransactionQuery& query) override {
    co_return co_await inner_.list_decisions(query);
  }
  Task<Result<domain::DecisionRecord>> resolve_review(const std::string& merchant_id, const std::string& transaction_id,
                                                      const domain::Resolution& resolution) override {
    co_return co_await inner_.resolve_review(merchant_id, transaction_id, resolution);
  }
  Status scan_velocity_events(store::TimePoint since, store::TimePoint until, std::size_t chunk,
                              const store::VelocityScanFields& fields, const VelocitySink& sink) override {
    ++scans;
    last_scan_since = since;
    last_scan_fields = fields;
    if (before_scan) {
      if (auto s = before_scan(); !s.ok()) return s;
    }
    return inner_.scan_velocity_events(since, until, chunk, fields, [&](std::span<const store::VelocityEvent> events) {
      ++chunks;
      std::size_t seen = largest_chunk.load();
      while (events.size() > seen && !largest_chunk.compare_exchange_weak(seen, events.size())) {
      }
      return sink(events);
    });
  }
  Status scan_decisions(store::TimePoint since, store::TimePoint until, std::size_t chunk,
                        const DecisionSink& sink) override {
    return inner_.scan_decisions(since, until, chunk, sink);
  }
  Task<Result<std::optional<std::string>>> find_trace(const std::string& merchant_id,
                                                      const std::string& transaction_id) override {
    co_return co_await inner_.find_trace(merchant_id, transaction_id);
  }

 private:
  store::TransactionStore& inner_;
};

}  // namespace txv::decide::test

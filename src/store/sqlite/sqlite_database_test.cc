// SQLite-specific behaviour of SqliteDatabase (the shared contract is tested
// by store_contract_test.cc): pragmas, migrations bookkeeping, append-only
// audit log, error mapping, options.
#include "store/sqlite/sqlite_database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/async_test_runner.h"
#include "domain/time.h"

namespace txv::store {
namespace {

// A raw second connection to inspect or interfere with the file.
class RawDb {
 public:
  // The store's background clean-up may hold the write lock a moment: wait for it as the store itself does.
  explicit RawDb(const std::string& path) {
    sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
  std::int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  std::string errmsg() const { return sqlite3_errmsg(db_); }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out = "<error>";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out = p != nullptr ? p : "<null>";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  // EXPLAIN QUERY PLAN of `sql`: the details of its steps, joined by " | ".
  std::string plan(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return "<error>";
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      if (!out.empty()) out += " | ";
      out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-sqlite-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    options_.path = dir_ + "/a/b/c/txv.db";
  }
  void TearDown() override {
    if (db_) db_->close();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  template <class T>
  T run(Task<T> task) {
    return runner_.run(std::move(task));
  }
  // Polls a raw connection until `sql` answers `expected` (deletions run in the
  // background).
  bool eventually(RawDb& raw, const std::string& sql, const std::string& expected) {
    return txv::testing::wait_until([&] { return raw.text(sql) == expected; }, std::chrono::seconds(60));
  }
  void open_migrated() {
    auto db = SqliteDatabase::open(options_);
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    auto st = db_->migrate();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  static domain::DecisionRecord record(const std::string& txid) {
    domain::DecisionRecord r;
    r.merchant_id = "m-1";
    r.transaction_id = txid;
    r.request_hash = "h";
    r.currency = "USD";
    r.amount = 1;
    return r;
  }

  txv::testing::AsyncRunner runner_;
  std::string dir_;
  SqliteOptions options_;
  std::unique_ptr<SqliteDatabase> db_;
};

TEST_F(SqliteDatabaseTest, CreatesParentDirectoriesAndUsesWal) {
  open_migrated();
  EXPECT_TRUE(std::filesystem::exists(options_.path));
  RawDb raw(options_.path);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT group_concat(version || ':' || name) FROM schema_migrations"),
            "1:0001_init,2:0002_key_revocation_list_generations,3:0003_labels,4:0004_traces,5:0005_sessions,"
            "6:0006_backtests,7:0007_trace_layouts");
}

// The `label=` filter of the listing walks the partial label indexes (newest
// first, with or without a merchant), not the whole table.
TEST_F(SqliteDatabaseTest, LabelFilterUsesTheLabelIndexes) {
  open_migrated();
  RawDb raw(options_.path);
  auto plan = [&](const std::string& where) {
    return raw.plan("SELECT seq FROM transactions WHERE 1 = 1" + where + " ORDER BY seq DESC LIMIT 51");
  };
  EXPECT_NE(plan(" AND label = 'fraud'").find("transactions_label_seq"), std::string::npos)
      << plan(" AND label = 'fraud'");
  EXPECT_NE(
      plan(" AND merchant_id = 'm' AND label = 'not_fraud' AND seq < 100").find("transactions_merchant_label_seq"),
      std::string::npos)
      << plan(" AND merchant_id = 'm' AND label = 'not_fraud' AND seq < 100");
}

TEST_F(SqliteDatabaseTest, RejectsNonFilePaths) {
  for (const char* path : {"", ":memory:", "file:x.db?mode=memory"}) {
    options_.path = path;
    auto db = SqliteDatabase::open(options_);
    ASSERT_FALSE(db.ok()) << path;
    EXPECT_EQ(db.error().code, "unavailable");
  }
}

TEST_F(SqliteDatabaseTest, UnopenablePathIsUnavailable) {
  std::filesystem::create_directories(dir_ + "/blocker");
  options_.path = dir_ + "/blocker";  // a directory, not a file
  auto db = SqliteDatabase::open(options_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, "unavailable");
}

TEST_F(SqliteDatabaseTest, EmbeddedMigrationsAreNumberedFromOne) {
  auto migrations = sqlite_migrations();
  ASSERT_FALSE(migrations.empty());
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
    const std::string sql = migrations[i].sql;
    EXPECT_TRUE(sql.find("CREATE") != std::string::npos || sql.find("ALTER") != std::string::npos) << sql;
  }
  EXPECT_STREQ(migrations[0].name, "0001_init");
}

TEST_F(SqliteDatabaseTest, MigrateRefusesANewerSchema) {
  open_migrated();
  {
    RawDb raw(options_.path);
    ASSERT_EQ(raw.exec("INSERT INTO schema_migrations VALUES (999, '0999_future', 0)"), SQLITE_OK) << raw.errmsg();
  }
  auto st = db_->migrate();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "internal");
  EXPECT_NE(st.error().message.find("newer"), std::string::npos);
}

TEST_F(SqliteDatabaseTest, AuditLogIsAppendOnly) {
  open_migrated();
  ASSERT_TRUE(run(db_->replace_list("l", {"x"}, "alice")).ok());
  RawDb raw(options_.path);
  EXPECT_NE(raw.exec("UPDATE audit_log SET actor = 'mallory'"), SQLITE_OK);
  EXPECT_NE(raw.errmsg().find("append-only"), std::string::npos);
  EXPECT_NE(raw.exec("DELETE FROM audit_log"), SQLITE_OK);
  EXPECT_EQ(raw.text("SELECT count(*) FROM audit_log"), "1");
}

TEST_F(SqliteDatabaseTest, WriteLockHeldElsewhereIsUnavailable) {
  options_.busy_timeout = std::chrono::milliseconds(50);
  open_migrated();
  RawDb raw(options_.path);
  ASSERT_EQ(raw.exec("BEGIN IMMEDIATE"), SQLITE_OK) << raw.errmsg();
  auto out = run(db_->insert_decision(record("t-1")));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, "unavailable");
  ASSERT_EQ(raw.exec("ROLLBACK"), SQLITE_OK);
  // Reads are not blocked by a writer (WAL), and writes work again.
  EXPECT_TRUE(run(db_->find_decision("m-1", "t-1")).ok());
  auto again = run(db_->insert_decision(record("t-1")));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->inserted);
}

TEST_F(SqliteDatabaseTest, UndecodableRowIsInternal) {
  open_migrated();
  ASSERT_TRUE(run(db_->insert_decision(record("t-1"))).ok());
  {
    RawDb raw(options_.path);
    ASSERT_EQ(raw.exec("UPDATE transactions SET reasons = 'not json'"), SQLITE_OK) << raw.errmsg();
  }
  auto found = run(db_->find_decision("m-1", "t-1"));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, "internal");
}

TEST_F(SqliteDatabaseTest, CallsBeforeMigrateAreInternalNotCrashes) {
  auto db = SqliteDatabase::open(options_);
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  auto found = run(db_->find_decision("m-1", "t-1"));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, "internal");
  auto ins = run(db_->insert_decision(record("t-1")));
  ASSERT_FALSE(ins.ok());
  EXPECT_EQ(ins.error().code, "internal");
  EXPECT_TRUE(run(db_->ping()).ok());
}

TEST_F(SqliteDatabaseTest, ConcurrentWritersShareCommits) {
  options_.decision_key_filter = false;  // its loader's writer items would count as well
  open_migrated();
  constexpr int kThreads = 64;
  constexpr int kPerThread = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  auto before = db_->writer_stats();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (run(db_->insert_decision(record(std::to_string(t) + "-" + std::to_string(i)))).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  auto after = db_->writer_stats();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(after.items - before.items, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LE(after.batches - before.batches, after.items - before.items);
  std::cout << "[ info ] " << (after.items - before.items) << " inserts in " << (after.batches - before.batches)
            << " commits, largest batch " << after.largest_batch << "\n";
}

TEST_F(SqliteDatabaseTest, WriterConnectionIsWalWithSynchronousFull) {
  open_migrated();  // default options: the durable configuration
  auto sync = db_->writer_pragma("synchronous");
  ASSERT_TRUE(sync.ok()) << sync.error().message;
  EXPECT_EQ(*sync, "2");  // FULL: every commit fsyncs the WAL
  auto mode = db_->writer_pragma("journal_mode");
  ASSERT_TRUE(mode.ok());
  EXPECT_EQ(*mode, "wal");
  EXPECT_FALSE(db_->writer_pragma("synchronous; DROP TABLE rules").ok());

  // The pragma read is the writer's own setting, not a default.
  db_->close();
  db_.reset();
  options_.synchronous = SqliteSynchronous::kNormal;
  open_migrated();
  EXPECT_EQ(*db_->writer_pragma("synchronous"), "1");
}

// A database created by migration 1 (lists in list_entries, keys without
// revocation) migrates: its lists, keys and counters survive and work.
TEST_F(SqliteDatabaseTest, MigratesAVersion1Database) {
  {
    auto db = SqliteDatabase::open(options_);  // creates the file, WAL; not migrated
    ASSERT_TRUE(db.ok());
  }
  {
    RawDb raw(options_.path);
    std::string v1 = std::string(sqlite_migrations()[0].sql) +
                     "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
                     "applied_at INTEGER NOT NULL);"
                     "INSERT INTO schema_migrations VALUES (1, '0001_init', 0);"
                     "INSERT INTO api_keys VALUES ('key_1', 'ops', 'admin', NULL, 'hash1', 1000);"
                     "INSERT INTO lists VALUES ('ips', 3, 1000, 2000), ('empty', 0, 1000, 1000), ('cards', 1, 5, 6);"
                     "INSERT INTO list_entries VALUES ('ips', 'c'), ('ips', 'a'), ('ips', 'b'), ('cards', 'x');"
                     "UPDATE meta SET value = 7 WHERE key = 'lists_version';";
    ASSERT_EQ(raw.exec(v1), SQLITE_OK) << raw.errmsg();
  }
  open_migrated();
  EXPECT_EQ(**run(db_->list_entries("ips")), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(**run(db_->list_entries("cards")), (std::vector<std::string>{"x"}));
  EXPECT_TRUE((*run(db_->list_entries("empty")))->empty());
  auto ips = run(db_->find_list("ips"));
  ASSERT_TRUE(ips.ok());
  EXPECT_EQ(**ips, (ListSummary{"ips", 3, TimePoint(std::chrono::milliseconds(2000))}));
  EXPECT_EQ(*run(db_->lists_version()), 7);
  auto key = run(db_->find_api_key_by_hash("hash1"));
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->has_value());
  EXPECT_EQ((*key)->name, "ops");
  EXPECT_FALSE((*key)->revoked_at.has_value());
  EXPECT_FALSE((*key)->last_used_at.has_value());
  ASSERT_TRUE(run(db_->revoke_api_key("key_1", TimePoint(std::chrono::milliseconds(3000)))).ok());

  // Changes work on migrated lists, and the old table is gone.
  ASSERT_TRUE(run(db_->remove_list_entry("ips", "b", "alice")).ok());
  ASSERT_TRUE(run(db_->add_list_entries("cards", {"y"}, "alice")).ok());
  EXPECT_EQ(**run(db_->list_entries("ips")), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(**run(db_->list_entries("cards")), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(*run(db_->lists_version()), 9);
  RawDb raw(options_.path);
  EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name = 'list_entries'"), "0");
  std::string every_version;  // all of them applied
  for (const auto& m : sqlite_migrations()) {
    every_version += (every_version.empty() ? "" : ",") + std::to_string(m.version);
  }
  EXPECT_EQ(raw.text("SELECT group_concat(version) FROM schema_migrations"), every_version);
}

std::vector<std::string> numbered(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string num = std::to_string(i);
    out.push_back(prefix + std::string(7 - num.size(), '0') + num);
  }
  return out;
}

// A 200,000-entry replace is written in bounded transactions (10,000 rows
// each here) and published by one more; decisions submitted while it is being
// staged commit before it is published; the old generation is deleted
// afterwards.
TEST_F(SqliteDatabaseTest, LargeReplaceIsStagedInBoundedTransactions) {
  options_.list_chunk_rows = 10'000;
  open_migrated();
  ASSERT_TRUE(run(db_->replace_list("big", numbered("old-", 30'000), "alice")).ok());
  RawDb raw(options_.path);
  ASSERT_TRUE(eventually(raw, "SELECT count(*) FROM list_generations", "1"));

  const std::vector<std::string> entries = numbered("new-", 200'000);
  const auto before = db_->writer_stats();
  std::atomic<bool> replace_done{false};
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration replace_took{};
  runner_.spawn([&]() -> Task<void> {
    auto r = co_await db_->replace_list("big", entries, "bob");
    EXPECT_TRUE(r.ok());
    replace_took = std::chrono::steady_clock::now() - started;
    replace_done = true;
  });
  // Staging is under way once a few of its transactions have committed.
  ASSERT_TRUE(txv::testing::wait_until([&] { return db_->writer_stats().batches - before.batches >= 3; }));
  ASSERT_FALSE(replace_done.load()) << "the replace finished before the decisions were submitted";
  constexpr int kInserts = 50;
  std::atomic<int> finished{0}, before_publish{0};
  for (int i = 0; i < kInserts; ++i) {
    runner_.spawn([&, i]() -> Task<void> {
      auto out = co_await db_->insert_decision(record("during-" + std::to_string(i)));
      if (out.ok() && !replace_done.load()) ++before_publish;
      ++finished;
    });
  }
  ASSERT_TRUE(txv::testing::wait_until([&] { return finished.load() == kInserts && replace_done.load(); }));
  EXPECT_EQ(before_publish.load(), kInserts);

  const auto after = db_->writer_stats();
  // 20 chunks + the publish, at least (the decisions may have added some).
  EXPECT_GE(after.batches - before.batches, 21u);
  EXPECT_EQ(**run(db_->list_entries("big")), entries);
  std::cout << "[ info ] 200,000-entry replace: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(replace_took).count() << " ms in "
            << (after.batches - before.batches) << " transactions; longest write transaction so far "
            << after.longest_transaction.count() / 1000.0 << " ms\n";

  // The old generation's 30,000 rows go, in the background.
  EXPECT_TRUE(eventually(raw, "SELECT count(*) FROM list_generations", "1"));
  EXPECT_TRUE(eventually(raw, "SELECT count(*) FROM list_values", "200000"));
}

// A failure part-way (here: a trigger refusing one staged row) leaves the old
// list, its version and its audit trail as they were, and deletes the rows
// already staged.
TEST_F(SqliteDatabaseTest, FailedStagingLeavesTheOldListAndRemovesStagedRows) {
  options_.list_chunk_rows = 100;
  open_migrated();
  const std::vector<std::string> old_entries = numbered("a-", 50);
  ASSERT_TRUE(run(db_->replace_list("l", old_entries, "alice")).ok());
  const std::int64_t version = *run(db_->lists_version());
  RawDb raw(options_.path);
  ASSERT_EQ(raw.exec("CREATE TRIGGER refuse_boom BEFORE INSERT ON list_values WHEN NEW.value = 'b-0000600' "
                     "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"),
            SQLITE_OK)
      << raw.errmsg();

  auto failed = run(db_->replace_list("l", numbered("b-", 1000), "bob"));  // 10 chunks; the 7th fails
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("injected failure"), std::string::npos) << failed.error().message;
  EXPECT_EQ(**run(db_->list_entries("l")), old_entries);
  EXPECT_EQ((*run(db_->find_list("l")))->entry_count, 50);
  EXPECT_EQ(*run(db_->lists_version()), version);
  EXPECT_EQ(raw.text("SELECT count(*) FROM audit_log"), "1");
  EXPECT_TRUE(eventually(raw, "SELECT count(*) FROM list_values", "50"));
  EXPECT_TRUE(eventually(raw, "SELECT group_concat(state) FROM list_generations", "live"));

  ASSERT_EQ(raw.exec("DROP TRIGGER refuse_boom"), SQLITE_OK);
  ASSERT_TRUE(run(db_->replace_list("l", numbered("b-", 1000), "bob")).ok());
  EXPECT_EQ(**run(db_->list_entries("l")), numbered("b-", 1000));
}

// Adds larger than a chunk are staged and published as one more live
// generation each, atomically; past kMaxLiveListGenerations the content is
// compacted into one. Removals and small adds work across generations.
TEST_F(SqliteDatabaseTest, LargeAddsArePublishedAsGenerationsAndCompacted) {
  options_.list_chunk_rows = 10;
  open_migrated();
  std::vector<std::string> expected = numbered("base-", 5);
  ASSERT_TRUE(run(db_->replace_list("l", expected, "alice")).ok());
  RawDb raw(options_.path);
  const std::string live = "SELECT count(*) FROM list_generations WHERE state = 'live'";
  std::int64_t most_live = 0;
  bool compacted = false;
  for (int round = 0; round < 12; ++round) {
    std::vector<std::string> batch = numbered("r" + std::to_string(round) + "-", 25);
    batch.push_back(expected.front());  // already present: not added again
    auto added = run(db_->add_list_entries("l", batch, "alice"));
    ASSERT_TRUE(added.ok()) << added.error().message;
    expected.insert(expected.end(), batch.begin(), batch.end() - 1);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(added->entry_count, static_cast<std::int64_t>(expected.size()));
    EXPECT_EQ(**run(db_->list_entries("l")), expected) << "round " << round;
    const std::int64_t n = raw.integer(live);
    compacted = compacted || n < most_live;
    most_live = std::max(most_live, n);
    EXPECT_LE(n, static_cast<std::int64_t>(SqliteDatabase::kMaxLiveListGenerations));
  }
  EXPECT_TRUE(compacted);
  EXPECT_GE(most_live, 2);

  // Remove from whichever generation holds the entry; add a few in place.
  for (const char* v : {"base-0000003", "r0-0000007", "r11-0000024"}) {
    ASSERT_TRUE(run(db_->remove_list_entry("l", v, "bob")).ok()) << v;
    expected.erase(std::find(expected.begin(), expected.end(), v));
  }
  ASSERT_TRUE(run(db_->add_list_entries("l", {"zz-1", "zz-2"}, "bob")).ok());
  expected.push_back("zz-1");
  expected.push_back("zz-2");
  EXPECT_EQ(**run(db_->list_entries("l")), expected);
  EXPECT_EQ((*run(db_->find_list("l")))->entry_count, static_cast<std::int64_t>(expected.size()));
  EXPECT_TRUE(eventually(raw, "SELECT count(*) FROM list_values", std::to_string(expected.size())));
}

// A change that died while staging (a crash) leaves a 'staging' generation:
// migrate() retires it once it is older than an hour and its rows are
// deleted; a recent one (another process may be staging it) is left alone.
TEST_F(SqliteDatabaseTest, MigrateCleansUpAbandonedStaging) {
  open_migrated();
  const std::int64_t now = domain::now_millis().time_since_epoch().count();
  {
    RawDb raw(options_.path);
    ASSERT_EQ(raw.exec("INSERT INTO list_generations (id, list_name, state, created_at) VALUES "
                       "(100, 'x', 'staging', " +
                       std::to_string(now - 2 * 3600 * 1000) +
                       "), "
                       "(101, 'x', 'staging', " +
                       std::to_string(now) +
                       ");"
                       "INSERT INTO list_values VALUES (100, 'a'), (100, 'b'), (101, 'c')"),
              SQLITE_OK)
        << raw.errmsg();
  }
  ASSERT_TRUE(db_->migrate().ok());
  RawDb raw(options_.path);
  EXPECT_TRUE(eventually(raw, "SELECT group_concat(id) FROM list_generations", "101"));
  EXPECT_TRUE(eventually(raw, "SELECT group_concat(value) FROM list_values", "c"));
}

// Reads run on the store's threads and resume the caller on its own
// executor; so do writes.
TEST_F(SqliteDatabaseTest, CallersResumeOnTheirOwnExecutor) {
  open_migrated();
  std::atomic<int> on_own{0}, done{0};
  for (int i = 0; i < 8; ++i) {
    runner_.spawn([&, i]() -> Task<void> {
      auto ex = runner_.io().get_executor();
      auto out = co_await db_->insert_decision(record("own-" + std::to_string(i)));
      if (out.ok() && ex.running_in_this_thread()) ++on_own;
      auto found = co_await db_->find_decision("m-1", "own-" + std::to_string(i));
      if (found.ok() && found->has_value() && ex.running_in_this_thread()) ++on_own;
      auto lists = co_await db_->list_lists();
      if (lists.ok() && ex.running_in_this_thread()) ++on_own;
      ++done;
    });
  }
  ASSERT_TRUE(txv::testing::wait_until([&] { return done.load() == 8; }));
  EXPECT_EQ(on_own.load(), 24);
  EXPECT_EQ(db_->pool_stats().in_use, 0);
}

// ---------------------------------------------------------------- the idempotency filter

// Waits for the filter's `builds`-th load to be published.
bool filter_loaded(const SqliteDatabase& db, std::uint64_t builds) {
  return txv::testing::wait_until([&] { return db.key_filter_stats().builds >= builds; }, std::chrono::seconds(60));
}

// Decisions written by another connection before txv opens the file are loaded; a stored key is always read (and
// found), a key never stored is answered by the filter.
TEST_F(SqliteDatabaseTest, KeyFilterLoadsStoredKeysAndAnswersNewOnesWithoutAReadThread) {
  open_migrated();
  db_->close();
  {
    RawDb raw(options_.path);
    ASSERT_EQ(raw.exec("WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < 4999) "
                       "INSERT INTO transactions (merchant_id, transaction_id, request_hash, type, amount, currency, "
                       "decision, rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, "
                       "has_merchant, occurred_at, decided_at) SELECT 'm-1', 'old-' || i, 'h', 'purchase', 1, 'USD', "
                       "'approve', 1, 'visa', '411111', '1111', 'fp', 0, 0, 1, 1 FROM seq"),
              SQLITE_OK)
        << raw.errmsg();
  }
  db_.reset();
  open_migrated();
  EXPECT_EQ(db_->key_filter_stats().builds, 0u);  // loaded on first use
  ASSERT_TRUE(run(db_->find_decision("m-1", "first")).ok());
  ASSERT_TRUE(filter_loaded(*db_, 1));
  auto stats = db_->key_filter_stats();
  EXPECT_TRUE(stats.ready);
  EXPECT_EQ(stats.keys, 5000u);
  for (int i = 0; i < 5000; i += 7) {
    auto found = run(db_->find_decision("m-1", "old-" + std::to_string(i)));
    ASSERT_TRUE(found.ok());
    ASSERT_TRUE(found->has_value()) << i;  // never a false negative
  }
  const auto before = db_->key_filter_stats();
  for (int i = 0; i < 1000; ++i) {
    auto found = run(db_->find_decision("m-1", "new-" + std::to_string(i)));
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value());
  }
  const auto after = db_->key_filter_stats();
  EXPECT_GE(after.filtered - before.filtered, 980u);  // false positives (< 2%) read
  EXPECT_EQ((after.filtered - before.filtered) + (after.read - before.read), 1000u);
  // Inserted now: found at once, through the filter's "maybe".
  ASSERT_TRUE(run(db_->insert_decision(record("new-5"))).ok());
  auto found = run(db_->find_decision("m-1", "new-5"));
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

// Inserts while the keys load, and enough of them to outgrow the filter: no key is ever missed, and the filter is
// loaded again, bigger.
TEST_F(SqliteDatabaseTest, KeyFilterMissesNoInsertWhileLoadingOrGrowing) {
  options_.decision_key_filter_min_keys = 64;
  open_migrated();
  ASSERT_TRUE(run(db_->find_decision("m-1", "first")).ok());  // starts the first load: the inserts below race it
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (run(db_->insert_decision(record("race-" + std::to_string(t) + "-" + std::to_string(i)))).ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(ok.load(), kThreads * kPerThread);
  // 600 keys against a capacity of 64: grown at least once (a load asked past 2x capacity).
  ASSERT_TRUE(filter_loaded(*db_, 2));
  EXPECT_GE(db_->key_filter_stats().capacity, 256u);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto found = run(db_->find_decision("m-1", "race-" + std::to_string(t) + "-" + std::to_string(i)));
      ASSERT_TRUE(found.ok());
      ASSERT_TRUE(found->has_value()) << t << "-" << i;
    }
  }
}

TEST_F(SqliteDatabaseTest, KeyFilterCanBeTurnedOff) {
  options_.decision_key_filter = false;
  open_migrated();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(run(db_->find_decision("m-1", "x-" + std::to_string(i))).ok());
  const auto stats = db_->key_filter_stats();
  EXPECT_FALSE(stats.ready);
  EXPECT_EQ(stats.filtered, 0u);
  EXPECT_EQ(stats.read, 20u);
}

}  // namespace
}  // namespace txv::store

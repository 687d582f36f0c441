// SQLite-specific behaviour of SqliteDatabase (the shared contract is tested
// by store_contract_test.cc): pragmas, migrations bookkeeping, append-only
// audit log, error mapping, options.
#include "store/sqlite/sqlite_database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "domain/time.h"

namespace txv::store {
namespace {

// A raw second connection to inspect or interfere with the file.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr); }
  ~RawDb() { sqlite3_close_v2(db_); }
  int exec(const std::string& sql) { return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
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
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
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

  std::string dir_;
  SqliteOptions options_;
  std::unique_ptr<SqliteDatabase> db_;
};

TEST_F(SqliteDatabaseTest, CreatesParentDirectoriesAndUsesWal) {
  open_migrated();
  EXPECT_TRUE(std::filesystem::exists(options_.path));
  RawDb raw(options_.path);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("SELECT group_concat(version || ':' || name) FROM schema_migrations"), "1:0001_init");
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
    EXPECT_NE(std::string(migrations[i].sql).find("CREATE"), std::string::npos);
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
  ASSERT_TRUE(db_->replace_list("l", {"x"}, "alice").ok());
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
  auto out = db_->insert_decision(record("t-1"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().code, "unavailable");
  ASSERT_EQ(raw.exec("ROLLBACK"), SQLITE_OK);
  // Reads are not blocked by a writer (WAL), and writes work again.
  EXPECT_TRUE(db_->find_decision("m-1", "t-1").ok());
  auto again = db_->insert_decision(record("t-1"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->inserted);
}

TEST_F(SqliteDatabaseTest, UndecodableRowIsInternal) {
  open_migrated();
  ASSERT_TRUE(db_->insert_decision(record("t-1")).ok());
  {
    RawDb raw(options_.path);
    ASSERT_EQ(raw.exec("UPDATE transactions SET reasons = 'not json'"), SQLITE_OK) << raw.errmsg();
  }
  auto found = db_->find_decision("m-1", "t-1");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, "internal");
}

TEST_F(SqliteDatabaseTest, CallsBeforeMigrateAreInternalNotCrashes) {
  auto db = SqliteDatabase::open(options_);
  ASSERT_TRUE(db.ok());
  db_ = std::move(*db);
  auto found = db_->find_decision("m-1", "t-1");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, "internal");
  auto ins = db_->insert_decision(record("t-1"));
  ASSERT_FALSE(ins.ok());
  EXPECT_EQ(ins.error().code, "internal");
  EXPECT_TRUE(db_->ping().ok());
}

TEST_F(SqliteDatabaseTest, ConcurrentWritersShareCommits) {
  open_migrated();
  constexpr int kThreads = 64;
  constexpr int kPerThread = 10;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  auto before = db_->writer_stats();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (db_->insert_decision(record(std::to_string(t) + "-" + std::to_string(i))).ok()) ++ok;
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

}  // namespace
}  // namespace txv::store

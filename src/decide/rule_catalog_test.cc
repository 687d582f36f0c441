// RuleCatalog: two "replicas" (two engines, two catalogs, two Database
// objects on one SQLite file) see each other's rule and list changes.
#include "decide/rule_catalog.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cache/local/local_velocity_counters.h"
#include "decide/decide_test_support.h"
#include "store/sqlite/sqlite_database.h"

namespace txv::decide {
namespace {

using domain::RuleAction;
using test::rule;
using txv::testing::AsyncRunner;
using txv::testing::wait_until;

class Replica {
 public:
  Replica(const std::string& path, asio::thread_pool& admin, std::function<void()> announce = {}) {
    store::SqliteOptions options;
    options.path = path;
    auto db = store::open_sqlite_database(options);
    EXPECT_TRUE(db.ok());
    db_ = std::move(db).value();
    EXPECT_TRUE(db_->migrate().ok());
    engine_ = std::make_unique<RuleEngine>(RuleEngineOptions{}, counters_);
    RuleCatalogOptions options2;
    options2.admin = admin.get_executor();
    options2.poll_interval = std::chrono::milliseconds(20);
    options2.announce = std::move(announce);
    options2.on_refresh = [this](const Status& s) {
      if (s.ok()) refreshes.fetch_add(1);
    };
    catalog_ = std::make_unique<RuleCatalog>(std::move(options2), *db_, *db_, *engine_);
  }
  ~Replica() {
    catalog_->stop();
    db_->close();
  }
  store::Database& db() { return *db_; }
  RuleEngine& engine() { return *engine_; }
  RuleCatalog& catalog() { return *catalog_; }
  bool has(const std::string& list, const std::string& value) const {
    auto l = engine_->list(list);
    return l && l->count(value) != 0;
  }
  std::atomic<int> refreshes{0};

 private:
  std::unique_ptr<store::Database> db_;
  cache::LocalVelocityCounters counters_;
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<RuleCatalog> catalog_;
};

class RuleCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-catalog-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/txv.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  template <class T>
  T run(Task<T> t) {
    return test::run(runner_, std::move(t));
  }
  // A change through `r`, the way the admin handlers make one.
  void store_rule(Replica& r, const store::RuleRecord& record) {
    auto status = run([&]() -> Task<Status> {
      auto guard = co_await r.catalog().lock_changes();
      auto created = co_await r.db().create_rule(record, "tester");
      if (!created.ok()) co_return Error(created.error());
      co_return co_await r.catalog().rules_changed_locked();
    }());
    ASSERT_TRUE(status.ok()) << status.error().message;
  }
  void replace_list(Replica& r, const std::string& name, std::vector<std::string> entries) {
    auto status = run([&]() -> Task<Status> {
      auto guard = co_await r.catalog().lock_changes();
      auto summary = co_await r.db().replace_list(name, entries, "tester");
      if (!summary.ok()) co_return Error(summary.error());
      co_await r.catalog().list_changed_locked(*summary,
                                               std::make_shared<const ListEntries>(entries.begin(), entries.end()));
      co_return Ok{};
    }());
    ASSERT_TRUE(status.ok()) << status.error().message;
  }

  AsyncRunner runner_;
  asio::thread_pool admin_{1};
  std::string dir_, path_;
};

TEST_F(RuleCatalogTest, LoadAllAppliesWhatIsStored) {
  Replica a(path_, admin_);
  replace_list(a, "blocked", {"x", "y"});
  store_rule(a, rule("r1", "amount > 10", RuleAction::kDecline, 1));
  Replica b(path_, admin_);
  EXPECT_FALSE(b.has("blocked", "x"));
  ASSERT_TRUE(run(b.catalog().load_all()).ok());
  EXPECT_TRUE(b.has("blocked", "x"));
  EXPECT_TRUE(b.has("blocked", "y"));
  EXPECT_EQ(b.engine().rules_version(), a.engine().rules_version());
  EXPECT_GT(b.engine().rules_version(), 0);
}

TEST_F(RuleCatalogTest, RefreshPicksUpAnotherReplicasChanges) {
  Replica a(path_, admin_);
  Replica b(path_, admin_);
  ASSERT_TRUE(run(a.catalog().load_all()).ok());
  ASSERT_TRUE(run(b.catalog().load_all()).ok());
  const auto before = b.engine().rules_version();

  store_rule(a, rule("r1", "amount > 10", RuleAction::kDecline, 1));
  replace_list(a, "blocked", {"x"});
  EXPECT_EQ(b.engine().rules_version(), before);
  EXPECT_FALSE(b.has("blocked", "x"));

  ASSERT_TRUE(run(b.catalog().refresh()).ok());
  EXPECT_EQ(b.engine().rules_version(), a.engine().rules_version());
  EXPECT_TRUE(b.has("blocked", "x"));

  // A second change of the same list with the same entry count is seen too.
  replace_list(a, "blocked", {"z"});
  ASSERT_TRUE(run(b.catalog().refresh()).ok());
  EXPECT_TRUE(b.has("blocked", "z"));
  EXPECT_FALSE(b.has("blocked", "x"));
}

TEST_F(RuleCatalogTest, AChangeComputedFromAStaleListIsReReadNotTrusted) {
  Replica a(path_, admin_);
  Replica b(path_, admin_);
  ASSERT_TRUE(run(a.catalog().load_all()).ok());
  ASSERT_TRUE(run(b.catalog().load_all()).ok());
  replace_list(a, "blocked", {"x"});
  replace_list(b, "blocked", {"y"});  // b's lock_changes() refreshes first; its own change is then trusted
  EXPECT_TRUE(b.has("blocked", "y"));
  // a did not see b's change yet; pretend a made a change from its stale content (as an add would).
  auto status = run([&]() -> Task<Status> {
    auto guard = co_await a.catalog().lock_changes();  // refreshes: a now sees {"y"}
    EXPECT_TRUE(a.has("blocked", "y"));
    co_return Ok{};
  }());
  ASSERT_TRUE(status.ok());
  // Another replica's change lands between a's refresh and a's own change: a's result is not trusted.
  status = run([&]() -> Task<Status> {
    auto guard = co_await a.catalog().lock_changes();
    std::vector<std::string> theirs{"from-b"};
    auto other = co_await b.db().add_list_entries("blocked", theirs, "tester");
    if (!other.ok()) co_return Error(other.error());
    std::vector<std::string> mine{"from-a"};
    auto summary = co_await a.db().add_list_entries("blocked", mine, "tester");
    if (!summary.ok()) co_return Error(summary.error());
    auto stale = std::make_shared<ListEntries>();  // misses "from-b"
    stale->insert("y");
    stale->insert("from-a");
    co_await a.catalog().list_changed_locked(*summary, stale);
    co_return Ok{};
  }());
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_TRUE(run(a.catalog().refresh()).ok());
  EXPECT_TRUE(a.has("blocked", "from-b"));
  EXPECT_TRUE(a.has("blocked", "from-a"));
  EXPECT_TRUE(a.has("blocked", "y"));
}

TEST_F(RuleCatalogTest, ThePollLoopAndAnnouncementsPropagateChanges) {
  std::atomic<int> announced{0};
  Replica a(path_, admin_, [&announced] { announced.fetch_add(1); });
  Replica b(path_, admin_);
  ASSERT_TRUE(run(a.catalog().load_all()).ok());
  ASSERT_TRUE(run(b.catalog().load_all()).ok());
  asio::io_context loop_io;
  auto work = asio::make_work_guard(loop_io);
  std::thread loop_thread([&loop_io] { loop_io.run(); });
  b.catalog().start(loop_io.get_executor());

  replace_list(a, "blocked", {"p"});
  store_rule(a, rule("r1", "amount > 10", RuleAction::kDecline, 1));
  EXPECT_EQ(announced.load(), 2);
  b.catalog().notify();
  EXPECT_TRUE(
      wait_until([&] { return b.has("blocked", "p") && b.engine().rules_version() == a.engine().rules_version(); }));
  const int before = b.refreshes.load();
  EXPECT_TRUE(wait_until([&] { return b.refreshes.load() > before + 2; }));  // keeps polling

  b.catalog().stop();
  const int stopped_at = b.refreshes.load();
  replace_list(a, "blocked", {"q"});
  b.catalog().notify();  // ignored once stopped
  EXPECT_EQ(b.refreshes.load(), stopped_at);
  work.reset();
  loop_thread.join();
  EXPECT_FALSE(b.has("blocked", "q"));
}

TEST_F(RuleCatalogTest, AListDeletedFromTheStoreIsRemovedFromTheEngine) {
  Replica a(path_, admin_);
  ASSERT_TRUE(run(a.catalog().load_all()).ok());
  replace_list(a, "blocked", {"x"});
  EXPECT_TRUE(a.has("blocked", "x"));
  // Removing the last entry keeps the list (empty); the engine follows the store's content.
  auto removed = run(a.db().remove_list_entry("blocked", "x", "tester"));
  ASSERT_TRUE(removed.ok());
  ASSERT_TRUE(run(a.catalog().refresh()).ok());
  EXPECT_FALSE(a.has("blocked", "x"));
}

}  // namespace
}  // namespace txv::decide

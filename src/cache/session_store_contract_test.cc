// The session store contract (store::SessionStore), run against every
// implementation: SQLite and PostgreSQL (embedded / no Redis) and Redis
// (replica mode). PostgreSQL and Redis are the real test servers of
// scripts/test-servers.sh; without them the tests skip, or fail when
// TXV_REQUIRE_INTEGRATION=1.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_session_store.h"
#include "cache/redis/redis_test_env.h"
#include "common/async_test_runner.h"
#include "domain/time.h"
#include "store/postgres/postgres_database.h"
#include "store/postgres/test_schema.h"
#include "store/sqlite/sqlite_database.h"

namespace txv {
namespace {

using namespace std::chrono_literals;

// Owns whatever a store needs (a database, a client) and the store.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual store::SessionStore& sessions() = 0;
};

class DatabaseBackend final : public Backend {
 public:
  DatabaseBackend(std::unique_ptr<store::Database> db, std::function<void()> cleanup)
      : db_(std::move(db)), cleanup_(std::move(cleanup)) {}
  ~DatabaseBackend() override {
    db_->close();
    db_.reset();
    if (cleanup_) cleanup_();
  }
  store::SessionStore& sessions() override { return *db_; }

 private:
  std::unique_ptr<store::Database> db_;
  std::function<void()> cleanup_;
};

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(std::unique_ptr<cache::RedisClient> client)
      : client_(std::move(client)),
        store_(*client_, {"txv:test:session:" + std::to_string(::getpid()) + ":" +
                          std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":"}) {}
  store::SessionStore& sessions() override { return store_; }

 private:
  std::unique_ptr<cache::RedisClient> client_;
  cache::RedisSessionStore store_;
};

std::unique_ptr<Backend> make_sqlite() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "txv-session-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return nullptr;
  store::SqliteOptions options;
  options.path = tmpl + "/txv.db";
  auto db = store::open_sqlite_database(options);
  if (!db.ok() || !(*db)->migrate().ok()) return nullptr;
  return std::make_unique<DatabaseBackend>(std::move(*db), [tmpl] {
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
  });
}

std::unique_ptr<Backend> make_postgres() {
  auto url = store::pg::testing::test_database_url();
  if (!url) {
    if (store::pg::testing::integration_required()) {
      [] { FAIL() << "TXV_REQUIRE_INTEGRATION=1 but TXV_TEST_DATABASE_URL is not set"; }();
    }
    return nullptr;
  }
  auto schema = store::pg::testing::TestSchema::create(*url);
  if (!schema.ok()) {
    [&] { FAIL() << schema.error().message; }();
    return nullptr;
  }
  auto db = store::open_postgres_database((*schema)->options());
  if (!db.ok() || !(*db)->migrate().ok()) {
    [] { FAIL() << "could not open and migrate the test schema"; }();
    return nullptr;
  }
  auto shared = std::shared_ptr<store::pg::testing::TestSchema>(std::move(*schema));
  return std::make_unique<DatabaseBackend>(std::move(*db), [shared]() mutable { shared.reset(); });
}

std::unique_ptr<Backend> make_redis() {
  cache::RedisClientOptions options;
  options.command_timeout = 5s;  // counting correctness here, not latency
  auto client = cache::testing::redis_test_client(std::move(options));
  if (!client) return nullptr;
  return std::make_unique<RedisBackend>(std::move(client));
}

struct Factory {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

class SessionStoreContract : public ::testing::TestWithParam<Factory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (!backend_) GTEST_SKIP() << GetParam().name << " is not available";
  }
  store::SessionStore& sessions() { return backend_->sessions(); }

  // A session created `age` ago that ends 12 h after its creation.
  static store::Session session(const std::string& id, domain::TimePoint created) {
    return store::Session{"h-" + id, "key-hash-" + id, "csrf-" + id, created, created + 12h, created};
  }

  testing::AsyncRunner run_;
  std::unique_ptr<Backend> backend_;
};

constexpr auto kIdle = std::chrono::milliseconds(30min);

TEST_P(SessionStoreContract, CreatedSessionIsFoundAsStored) {
  auto now = domain::now_millis();
  auto s = session("a", now);
  ASSERT_TRUE(run_.run(sessions().create_session(s, kIdle)).ok());
  auto found = run_.run(sessions().find_session("h-a"));
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, s);
}

TEST_P(SessionStoreContract, UnknownSessionIsNotFound) {
  auto found = run_.run(sessions().find_session("h-nobody"));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  auto touched = run_.run(sessions().touch_session("h-nobody", domain::now_millis(), kIdle));
  ASSERT_FALSE(touched.ok());
  EXPECT_EQ(touched.error().code, ErrorCode::kNotFound);
}

TEST_P(SessionStoreContract, TouchMovesLastSeenForwardOnly) {
  auto now = domain::now_millis();
  ASSERT_TRUE(run_.run(sessions().create_session(session("t", now), kIdle)).ok());
  ASSERT_TRUE(run_.run(sessions().touch_session("h-t", now + 2min, kIdle)).ok());
  ASSERT_TRUE(run_.run(sessions().touch_session("h-t", now + 1min, kIdle)).ok());
  auto found = run_.run(sessions().find_session("h-t"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_seen_at, now + 2min);
  EXPECT_EQ((*found)->expires_at, now + 12h);
}

TEST_P(SessionStoreContract, DeleteEndsSessionAndIsIdempotent) {
  auto now = domain::now_millis();
  ASSERT_TRUE(run_.run(sessions().create_session(session("d", now), kIdle)).ok());
  ASSERT_TRUE(run_.run(sessions().create_session(session("e", now), kIdle)).ok());
  ASSERT_TRUE(run_.run(sessions().delete_session("h-d")).ok());
  ASSERT_TRUE(run_.run(sessions().delete_session("h-d")).ok());
  auto gone = run_.run(sessions().find_session("h-d"));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
  auto kept = run_.run(sessions().find_session("h-e"));
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->has_value());
}

// Bounded storage: a store forgets sessions that ended. The database stores do
// it when a session is created; Redis expires the key at the session's end.
TEST_P(SessionStoreContract, EndedSessionsAreForgotten) {
  auto now = domain::now_millis();
  // Idle since 31 minutes ago, and one whose 12 hours are over.
  ASSERT_TRUE(run_.run(sessions().create_session(session("idle", now - 31min), kIdle)).ok());
  auto old = session("old", now - 13h);
  old.last_seen_at = now - 2min;
  ASSERT_TRUE(run_.run(sessions().create_session(old, kIdle)).ok());
  ASSERT_TRUE(run_.run(sessions().create_session(session("new", now), kIdle)).ok());
  for (const char* ended : {"h-idle", "h-old"}) {
    auto found = run_.run(sessions().find_session(ended));
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(found->has_value()) << ended;
  }
  auto fresh = run_.run(sessions().find_session("h-new"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->has_value());
}

TEST_P(SessionStoreContract, ConcurrentTouchesKeepTheLatest) {
  auto now = domain::now_millis();
  ASSERT_TRUE(run_.run(sessions().create_session(session("c", now), kIdle)).ok());
  std::vector<std::thread> threads;
  for (int i = 1; i <= 8; ++i) {
    threads.emplace_back([this, now, i] {
      testing::AsyncRunner local(1);
      EXPECT_TRUE(local.run(sessions().touch_session("h-c", now + std::chrono::seconds(i), kIdle)).ok());
    });
  }
  for (auto& t : threads) t.join();
  auto found = run_.run(sessions().find_session("h-c"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->last_seen_at, now + 8s);
}

INSTANTIATE_TEST_SUITE_P(Backends, SessionStoreContract,
                         ::testing::Values(Factory{"sqlite", make_sqlite}, Factory{"postgres", make_postgres},
                                           Factory{"redis", make_redis}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace txv

// PostgreSQL specifics of store::PostgresDatabase: concurrent migrate,
// decision batching (conflicts inside one batch, a failing item alone), the
// pool's bound, connection loss and outages (a TCP proxy between the store and
// the server), deadlines, read_url routing, open's retry budget and
// What every back-end shares is in ../store_contract_test.cc.
//
// Needs TXV_TEST_DATABASE_URL (scripts/test-servers.sh); skipped without it,
// failed without it when TXV_REQUIRE_INTEGRATION=1.
#include "store/postgres/postgres_database.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/async_test_runner.h"
#include "common/hex.h"
#include "domain/time.h"
#include "store/postgres/test_schema.h"

namespace txv::store {
namespace {

using domain::Decision;
using domain::DecisionRecord;
using pg::testing::TestSchema;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using Runner = txv::testing::AsyncRunner;
using txv::testing::wait_until;
namespace ip = asio::ip;

const TimePoint kT0 = domain::parse_rfc3339("2026-11-24T10:00:00.000Z").value();

DecisionRecord make_record(const std::string& merchant, const std::string& txid, std::int64_t amount = 12550,
                           TimePoint decided_at = kT0) {
  DecisionRecord r;
  r.merchant_id = merchant;
  r.transaction_id = txid;
  r.request_hash = "hash-" + merchant + "-" + txid;
  r.type = domain::TransactionType::kPurchase;
  r.amount = amount;
  r.currency = "USD";
  r.decision = Decision::kApprove;
  r.rules_version = 7;
  r.card = domain::CardSummary{"visa", "424242", "4242", "0123456789abcdef0123456789abcdef"};
  r.occurred_at = decided_at - minutes(1);
  r.decided_at = decided_at;
  return r;
}

std::string random_hex() {
  std::random_device rd;
  unsigned char b[6];
  for (auto& x : b) x = static_cast<unsigned char>(rd());
  return hex_encode(b, sizeof b);
}

std::string with_param(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

// The URL with its "@host:port/" replaced by "@127.0.0.1:port/".
std::string with_port(const std::string& url, int port) {
  const auto at = url.rfind('@');
  const auto slash = url.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || slash == std::string::npos) return url;
  return url.substr(0, at + 1) + "127.0.0.1:" + std::to_string(port) + url.substr(slash);
}

// The host and port of a postgres://user@host:port/db URL.
std::pair<std::string, int> host_port(const std::string& url) {
  const auto at = url.rfind('@');
  const auto slash = url.find('/', at == std::string::npos ? 0 : at);
  if (at == std::string::npos || slash == std::string::npos) return {"127.0.0.1", 5432};
  const std::string hp = url.substr(at + 1, slash - at - 1);
  const auto colon = hp.rfind(':');
  if (colon == std::string::npos) return {hp, 5432};
  return {hp.substr(0, colon), std::stoi(hp.substr(colon + 1))};
}

// A port on which nothing listens (bound, never listening: refused).
class ClosedPort {
 public:
  ClosedPort() : socket_(io_, ip::tcp::v4()) { socket_.bind(ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0)); }
  int port() const { return socket_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  ip::tcp::socket socket_;
};

// A TCP proxy in front of the server: forwards, or rejects every connection
// (existing ones cut), or swallows everything (a server that went silent).
class Proxy {
 public:
  enum class Mode { kForward, kReject, kBlackhole };

  Proxy(std::string host, int port)
      : target_(ip::make_address(host == "localhost" ? "127.0.0.1" : host), static_cast<unsigned short>(port)),
        acceptor_(io_, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Proxy() {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
      cut();
    });
    io_.stop();
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  void set_mode(Mode m) {
    std::promise<void> done;
    asio::post(io_, [this, m, &done] {
      mode_ = m;
      if (m == Mode::kReject) cut();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  struct Pair {
    explicit Pair(asio::io_context& io) : client(io), server(io) {}
    ip::tcp::socket client;
    ip::tcp::socket server;
  };

  void cut() {
    for (auto& p : pairs_) {
      boost::system::error_code ec;
      p->client.close(ec);
      p->server.close(ec);
    }
    pairs_.clear();
  }

  Task<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      auto pair = std::make_shared<Pair>(io_);
      co_await acceptor_.async_accept(pair->client, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      if (mode_ == Mode::kReject) {
        pair->client.close(ec);
        continue;
      }
      co_await pair->server.async_connect(target_, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) continue;
      pairs_.push_back(pair);
      asio::co_spawn(io_, pump(pair, true), asio::detached);
      asio::co_spawn(io_, pump(pair, false), asio::detached);
    }
  }

  Task<void> pump(std::shared_ptr<Pair> pair, bool upstream) {
    ip::tcp::socket& from = upstream ? pair->client : pair->server;
    ip::tcp::socket& to = upstream ? pair->server : pair->client;
    std::array<char, 16384> buf;
    for (;;) {
      boost::system::error_code ec;
      std::size_t n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      if (mode_ == Mode::kBlackhole) continue;  // swallowed
      co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    boost::system::error_code ec;
    from.close(ec);
    to.close(ec);
  }

  asio::io_context io_;
  ip::tcp::endpoint target_;
  ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::shared_ptr<Pair>> pairs_;
  Mode mode_ = Mode::kForward;
};

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = pg::testing::test_database_url();
    if (!url) {
      if (pg::testing::integration_required()) {
        FAIL() << "TXV_REQUIRE_INTEGRATION=1 but TXV_TEST_DATABASE_URL is not set";
      }
      GTEST_SKIP() << "TXV_TEST_DATABASE_URL is not set (scripts/test-servers.sh start DIR)";
    }
    auto schema = TestSchema::create(*url);
    ASSERT_TRUE(schema.ok()) << schema.error().message;
    schema_ = std::move(*schema);
  }
  void TearDown() override {
    runner_.reset();
    schema_.reset();
  }

  Runner& runner() {
    if (!runner_) runner_ = std::make_unique<Runner>();
    return *runner_;
  }
  template <class T>
  T run(Task<T> task) {
    return runner().run(std::move(task));
  }

  PostgresOptions options() const { return schema_->options(); }

  std::unique_ptr<PostgresDatabase> open(const PostgresOptions& o, bool migrate = true) {
    auto db = PostgresDatabase::open(o);
    EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
    if (!db.ok()) return nullptr;
    if (migrate) {
      auto st = (*db)->migrate();
      EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    }
    return std::move(*db);
  }

  std::int64_t scalar(const std::string& sql, const std::vector<pg::Param>& params = {}) {
    auto r = schema_->exec(sql, params);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() && r->rows() > 0 ? r->int8(0, 0) : -1;
  }

  // Sessions of `application_name` waiting for a lock.
  std::int64_t lock_waiters(const std::string& application_name) {
    return scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                  {pg::text(application_name)});
  }

  std::unique_ptr<TestSchema> schema_;
  std::unique_ptr<Runner> runner_;
};

// ------------------------------------------------------------------ migrate

// Three processes started together migrate a fresh schema: each migration is
// applied exactly once and all three succeed.
TEST_F(PostgresStoreTest, ThreeProcessesMigratingAtOnceApplyEachMigrationOnce) {
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 3; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(go[1]);
      auto db = PostgresDatabase::open(options());
      if (!db.ok()) _exit(3);
      char c;
      if (read(go[0], &c, 1) != 1) _exit(4);  // all three start migrating together
      _exit((*db)->migrate().ok() ? 0 : 5);
    }
    children.push_back(pid);
  }
  close(go[0]);
  ASSERT_EQ(write(go[1], "xxx", 3), 3);
  close(go[1]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  const auto migrations = postgres_migrations();
  ASSERT_GE(migrations.size(), 2u);
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations"), static_cast<std::int64_t>(migrations.size()));
  EXPECT_EQ(scalar("SELECT count(DISTINCT version) FROM schema_migrations"),
            static_cast<std::int64_t>(migrations.size()));
  EXPECT_EQ(scalar("SELECT max(version) FROM schema_migrations"), migrations.back().version);
  EXPECT_EQ(scalar("SELECT count(*) FROM meta"), 2);  // 0001's seed rows, once

  // Again: nothing to do, nothing changes.
  auto db = open(options());
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(db->migrate().ok());
  EXPECT_EQ(scalar("SELECT count(*) FROM schema_migrations"), static_cast<std::int64_t>(migrations.size()));
  EXPECT_EQ(*run(db->rules_version()), 0);
}

TEST_F(PostgresStoreTest, MigrateRefusesADatabaseNewerThanTheBinary) {
  auto db = open(options());
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(
      schema_->exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)").ok());
  auto st = db->migrate();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "internal");
  EXPECT_NE(st.error().message.find("newer"), std::string::npos) << st.error().message;
}

// Before migrate() the tables are missing: "internal", naming the problem
// (the failed prepare's error, not an aborted pipeline).
TEST_F(PostgresStoreTest, CallsBeforeMigrateAnswerInternalNamingTheMissingTable) {
  auto db = open(options(), /*migrate=*/false);
  ASSERT_NE(db, nullptr);
  auto found = run(db->find_decision("m", "t"));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, "internal");
  EXPECT_NE(found.error().message.find("does not exist"), std::string::npos) << found.error().message;
  auto inserted = run(db->insert_decision(make_record("m", "t")));
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, "internal") << inserted.error().message;
  ASSERT_TRUE(db->migrate().ok());
  EXPECT_TRUE(run(db->insert_decision(make_record("m", "t"))).ok());  // the same connections, now migrated
  EXPECT_TRUE((*run(db->find_decision("m", "t"))).has_value());
}

// ------------------------------------------------------------------ batching

// Holds the writer: an uncommitted row of another session takes the key of
// the first insert, whose batch then waits for that session.
class Blocker {
 public:
  explicit Blocker(TestSchema& schema) : schema_(schema) {
    EXPECT_TRUE(schema_.exec("BEGIN").ok());
    EXPECT_TRUE(schema_
                    .exec("INSERT INTO transactions (merchant_id, transaction_id, request_hash, type, amount, "
                          "currency, decision, rules_version, card_brand, card_bin, card_last4, card_fingerprint, "
                          "has_customer, has_merchant, occurred_at, decided_at) VALUES ('m-block', 'blocker', 'h', "
                          "'purchase', 1, 'USD', 'approve', 1, 'visa', '424242', '4242', 'f', false, false, 0, 0)")
                    .ok());
  }
  void release() {
    if (released_) return;
    released_ = true;
    EXPECT_TRUE(schema_.exec("ROLLBACK").ok());
  }
  ~Blocker() { release(); }

 private:
  TestSchema& schema_;
  bool released_ = false;
};

// Decisions waiting while a batch is in flight go together in the next one:
// one INSERT for all, conflicts inside that batch (the same key several
// times) and with earlier rows resolved to the stored record.
TEST_F(PostgresStoreTest, OneBatchWithConflictsInsideItAnswersEveryCallerTheStoredRecord) {
  PostgresOptions o = options();
  o.insert_writers = 1;
  o.application_name = "txv_batch_" + random_hex();
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 5; ++i) {
    auto out = run(db->insert_decision(make_record("m-b", "pre-" + std::to_string(i), 1)));
    ASSERT_TRUE(out.ok() && out->inserted);
  }
  const auto before = db->writer_stats();

  Blocker blocker(*schema_);
  std::atomic<int> finished{0};
  Result<InsertOutcome> blocked = make_error("internal", "not run");
  PostgresDatabase* raw = db.get();
  runner().spawn([&, raw]() -> Task<void> {
    const DecisionRecord rec = make_record("m-block", "blocker");
    blocked = co_await raw->insert_decision(rec);
    ++finished;
  });
  ASSERT_TRUE(wait_until([&] { return lock_waiters(o.application_name) == 1; }));

  // 120 calls over 40 keys, 3 each (different amounts), and 10 on keys stored before.
  constexpr int kCalls = 130;
  std::vector<DecisionRecord> requests;
  for (int i = 0; i < 120; ++i) requests.push_back(make_record("m-b", "k-" + std::to_string(i % 40), 1000 + i));
  for (int i = 0; i < 10; ++i) requests.push_back(make_record("m-b", "pre-" + std::to_string(i % 5), 2000 + i));
  std::vector<std::optional<Result<InsertOutcome>>> outcomes(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    runner().spawn([&, raw, i]() -> Task<void> {
      outcomes[i].emplace(co_await raw->insert_decision(requests[i]));
      ++finished;
    });
  }
  ASSERT_TRUE(wait_until([&] { return raw->writer_stats().queued == kCalls; }));
  blocker.release();
  ASSERT_TRUE(wait_until([&] { return finished.load() == kCalls + 1; }));
  ASSERT_TRUE(blocked.ok()) << blocked.error().message;
  EXPECT_TRUE(blocked->inserted);

  const auto after = db->writer_stats();
  EXPECT_EQ(after.batches - before.batches, 2u);  // the blocked one, then all 130 together
  EXPECT_EQ(after.largest_batch, static_cast<std::uint64_t>(kCalls));
  EXPECT_EQ(after.fallbacks, 0u);

  std::map<std::string, std::vector<int>> by_key;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(outcomes[i].has_value());
    ASSERT_TRUE(outcomes[i]->ok()) << outcomes[i]->error().message;
    by_key[requests[i].transaction_id].push_back(i);
  }
  for (const auto& [key, calls] : by_key) {
    auto stored = run(db->find_decision("m-b", key));
    ASSERT_TRUE(stored.ok() && stored->has_value()) << key;
    int winners = 0;
    for (int i : calls) {
      const InsertOutcome& o = **outcomes[i];
      EXPECT_EQ(o.record, **stored) << key;  // every caller gets the stored record, byte for byte
      if (o.inserted) {
        ++winners;
        EXPECT_EQ(o.record.amount, requests[i].amount);
      }
    }
    EXPECT_EQ(winners, key.starts_with("pre-") ? 0 : 1) << key;  // the first of the key in the batch
  }
}

// A decision PostgreSQL refuses (invalid UTF-8) fails alone: the batch it was
// in is retried one decision at a time, each its own transaction. A NUL byte
// is refused before it reaches a batch.
TEST_F(PostgresStoreTest, AFailingDecisionFailsAloneInItsBatch) {
  PostgresOptions o = options();
  o.insert_writers = 1;
  o.application_name = "txv_fail_" + random_hex();
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  PostgresDatabase* raw = db.get();
  Blocker blocker(*schema_);
  std::atomic<int> finished{0};
  runner().spawn([&, raw]() -> Task<void> {
    const DecisionRecord rec = make_record("m-block", "blocker");
    (void)co_await raw->insert_decision(rec);
    ++finished;
  });
  ASSERT_TRUE(wait_until([&] { return lock_waiters(o.application_name) == 1; }));

  constexpr int kGood = 40;
  std::vector<DecisionRecord> requests;
  for (int i = 0; i < kGood; ++i) requests.push_back(make_record("m-f", "good-" + std::to_string(i)));
  DecisionRecord bad_utf8 = make_record("m-f", "bad-utf8");
  bad_utf8.customer.email = std::string("x\xff\xfe@example.com");
  bad_utf8.has_customer = true;
  requests.push_back(bad_utf8);
  DecisionRecord nul = make_record("m-f", "nul");
  nul.has_customer = true;
  nul.customer.device_id = std::string("a\0b", 3);
  requests.push_back(nul);
  const int n = static_cast<int>(requests.size());
  std::vector<std::optional<Result<InsertOutcome>>> outcomes(n);
  for (int i = 0; i < n; ++i) {
    runner().spawn([&, raw, i]() -> Task<void> {
      outcomes[i].emplace(co_await raw->insert_decision(requests[i]));
      ++finished;
    });
  }
  ASSERT_TRUE(wait_until([&] { return raw->writer_stats().queued == static_cast<std::uint64_t>(kGood + 1); }));
  blocker.release();
  ASSERT_TRUE(wait_until([&] { return finished.load() == n + 1; }));

  for (int i = 0; i < kGood; ++i) {
    ASSERT_TRUE(outcomes[i]->ok()) << outcomes[i]->error().message;
    EXPECT_TRUE((*outcomes[i])->inserted);
  }
  for (int i = kGood; i < n; ++i) {
    ASSERT_FALSE(outcomes[i]->ok()) << requests[i].transaction_id;
    EXPECT_EQ(outcomes[i]->error().code, "internal");
    EXPECT_EQ(outcomes[i]->error().message.find("x\xff"), std::string::npos);  // never the value
  }
  EXPECT_EQ(db->writer_stats().fallbacks, 1u);
  EXPECT_FALSE((*run(db->find_decision("m-f", "bad-utf8"))).has_value());
  EXPECT_TRUE((*run(db->find_decision("m-f", "good-7"))).has_value());
}

// ------------------------------------------------------------------ lists

// The contract's largest list: a 1,000,000-entry replace is staged in
// chunks, decisions keep committing meanwhile, and the list reads back whole.
TEST_F(PostgresStoreTest, AMillionEntryReplaceStagesInChunksWhileDecisionsCommit) {
  auto db = open(options());
  ASSERT_NE(db, nullptr);
  constexpr int kN = 1'000'000;
  std::vector<std::string> entries;
  entries.reserve(kN);
  for (int i = 0; i < kN; ++i) entries.push_back("e-" + std::to_string(1'000'000 + i));
  PostgresDatabase* raw = db.get();
  std::atomic<bool> done{false};
  Result<ListSummary> replaced = make_error("internal", "not run");
  const auto start = Clock::now();
  runner().spawn([&, raw]() -> Task<void> {
    const std::string name = "huge", actor = "alice";
    replaced = co_await raw->replace_list(name, entries, actor);
    done = true;
  });
  int inserted_during = 0;
  Clock::duration slowest{};
  for (int i = 0; !done.load(); ++i) {
    const auto t = Clock::now();
    auto r = run(db->insert_decision(make_record("m-l", "t-" + std::to_string(i))));
    ASSERT_TRUE(r.ok()) << r.error().message;
    slowest = std::max(slowest, Clock::now() - t);
    if (!done.load()) ++inserted_during;
  }
  const auto took = Clock::now() - start;
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(replaced->entry_count, kN);
  EXPECT_GT(inserted_during, 10);
  const auto read_start = Clock::now();
  auto stored = run(db->list_entries("huge"));
  const auto read_took = Clock::now() - read_start;
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ(**stored, entries);  // generated in sorted order
  auto ms = [](Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); };
  std::cout << "[ info ] 1M-entry replace " << ms(took) << " ms, " << inserted_during
            << " decisions meanwhile (slowest " << ms(slowest) << " ms); read back in " << ms(read_took) << " ms\n";
}

// ------------------------------------------------------------------ pool

TEST_F(PostgresStoreTest, ThePoolNeverExceedsItsBoundUnder200ConcurrentCalls) {
  PostgresOptions o = options();
  o.pool_size = 4;
  o.application_name = "txv_pool_" + random_hex();
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(run(db->insert_decision(make_record("m-p", "pre-" + std::to_string(i)))).ok());

  std::atomic<bool> done{false};
  std::atomic<int> max_total{0}, max_in_use{0};
  std::atomic<std::int64_t> max_backends{0};
  std::thread sampler([&] {
    for (int i = 0; !done.load(); ++i) {
      auto s = db->pool_stats();
      max_total = std::max(max_total.load(), s.idle + s.in_use);
      max_in_use = std::max(max_in_use.load(), s.in_use);
      if (i % 50 == 0) {
        auto n =
            scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", {pg::text(o.application_name)});
        max_backends = std::max(max_backends.load(), n);
      }
      std::this_thread::yield();
    }
  });
  constexpr int kCalls = 200;
  std::atomic<int> finished{0}, failed{0};
  PostgresDatabase* raw = db.get();
  for (int i = 0; i < kCalls; ++i) {
    runner().spawn([&, raw, i]() -> Task<void> {
      bool ok = true;
      switch (i % 4) {
        case 0: {
          const DecisionRecord r = make_record("m-p", "c-" + std::to_string(i));
          ok = (co_await raw->insert_decision(r)).ok();
          break;
        }
        case 1: {
          const std::string id = "pre-" + std::to_string(i % 20);
          ok = (co_await raw->find_decision("m-p", id)).ok();
          break;
        }
        case 2: {
          TransactionQuery q;
          q.merchant_id = "m-p";
          ok = (co_await raw->list_decisions(q)).ok();
          break;
        }
        default: {
          const std::string name = "l-" + std::to_string(i % 7);
          std::vector<std::string> entries;
          entries.push_back("a");
          entries.push_back(std::to_string(i));
          const std::string actor = "t";
          ok = (co_await raw->replace_list(name, entries, actor)).ok();
        }
      }
      if (!ok) ++failed;
      ++finished;
    });
  }
  ASSERT_TRUE(wait_until([&] { return finished.load() == kCalls; }));
  done = true;
  sampler.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(max_total.load(), 4);
  EXPECT_LE(max_backends.load(), 4);
  EXPECT_GE(max_in_use.load(), 2);  // the calls did overlap
  EXPECT_EQ(db->pool_stats().in_use, 0);
}

// ------------------------------------------------------------------ connection loss, outages, deadlines

// The server ends every session of the pool (pg_terminate_backend) while
// calls are in flight: each completes (ok or "unavailable", nothing else, no
// hang), and calls succeed afterwards without a restart.
TEST_F(PostgresStoreTest, TerminatedConnectionsAnswerUnavailableThenRecover) {
  PostgresOptions o = options();
  o.application_name = "txv_kill_" + random_hex();
  o.reconnect_backoff_max = milliseconds(200);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(run(db->insert_decision(make_record("m-k", "first"))).ok());

  // Idle connections killed: the next call does not even notice.
  EXPECT_GE(scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                   {pg::text(o.application_name)}),
            1);
  auto found = run(db->find_decision("m-k", "first"));
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_TRUE(found->has_value());

  // Killed mid-flight.
  constexpr int kCalls = 2000;
  std::atomic<int> finished{0}, ok{0}, unavailable{0}, other{0};
  PostgresDatabase* raw = db.get();
  for (int i = 0; i < kCalls; ++i) {
    runner().spawn([&, raw, i]() -> Task<void> {
      Status st = Ok{};
      if (i % 2 == 0) {
        const DecisionRecord rec = make_record("m-k", "t-" + std::to_string(i));
        auto r = co_await raw->insert_decision(rec);
        if (!r.ok()) st = r.error();
      } else {
        const domain::Resolution res{Decision::kApprove, "n", "b", kT0};
        const std::string m = "m-k", t = "none";
        auto r = co_await raw->resolve_review(m, t, res);
        if (!r.ok() && r.error().code != "not_found") st = r.error();
      }
      if (st.ok()) {
        ++ok;
      } else if (st.error().code == "unavailable") {
        ++unavailable;
      } else {
        ++other;
      }
      ++finished;
    });
  }
  while (finished.load() < kCalls) {
    (void)scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                 {pg::text(o.application_name)});
  }
  ASSERT_TRUE(wait_until([&] { return finished.load() == kCalls; }, seconds(60)));
  EXPECT_EQ(other.load(), 0);
  std::cout << "[ info ] " << ok.load() << " ok, " << unavailable.load() << " unavailable\n";

  // Recovered: every call succeeds again.
  ASSERT_TRUE(wait_until([&] { return run(db->ping()).ok(); }, seconds(10)));
  for (int i = 0; i < 20; ++i) {
    auto r = run(db->insert_decision(make_record("m-k", "after-" + std::to_string(i))));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->inserted);
  }
}

// The server goes away (connections cut, new ones refused): calls answer
// "unavailable" promptly, and the store recovers by itself when it returns.
TEST_F(PostgresStoreTest, DuringAnOutageCallsAnswerUnavailableQuicklyAndRecoverAfter) {
  auto [host, port] = host_port(schema_->url());
  Proxy proxy(host, port);
  PostgresOptions o = options();
  o.url = with_port(schema_->url(), proxy.port());
  o.call_timeout = seconds(2);
  o.reconnect_backoff_max = milliseconds(200);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(run(db->insert_decision(make_record("m-o", "before"))).ok());

  proxy.set_mode(Proxy::Mode::kReject);
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    auto ins = run(db->insert_decision(make_record("m-o", "during-" + std::to_string(i))));
    auto found = run(db->find_decision("m-o", "before"));
    auto listed = run(db->list_decisions({}));
    const auto took = Clock::now() - start;
    ASSERT_FALSE(ins.ok());
    EXPECT_EQ(ins.error().code, "unavailable") << ins.error().message;
    ASSERT_FALSE(found.ok());
    EXPECT_EQ(found.error().code, "unavailable") << found.error().message;
    ASSERT_FALSE(listed.ok());
    EXPECT_EQ(listed.error().code, "unavailable");
    EXPECT_LT(took, seconds(3));
  }
  EXPECT_FALSE(run(db->ping()).ok());

  proxy.set_mode(Proxy::Mode::kForward);
  const auto back = Clock::now();
  ASSERT_TRUE(wait_until([&] { return run(db->ping()).ok(); }, seconds(10)));
  std::cout << "[ info ] recovered " << std::chrono::duration_cast<milliseconds>(Clock::now() - back).count()
            << " ms after the server returned\n";
  auto after = run(db->insert_decision(make_record("m-o", "after")));
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_TRUE((*run(db->find_decision("m-o", "before"))).has_value());
}

// A server that stops answering (connections stay open, nothing comes back):
// each call ends at its deadline with "unavailable".
TEST_F(PostgresStoreTest, ASilentServerEndsCallsAtTheirDeadline) {
  auto [host, port] = host_port(schema_->url());
  Proxy proxy(host, port);
  PostgresOptions o = options();
  o.url = with_port(schema_->url(), proxy.port());
  o.call_timeout = milliseconds(800);
  o.connect_timeout = milliseconds(800);
  o.reconnect_backoff_max = milliseconds(100);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(run(db->ping()).ok());

  proxy.set_mode(Proxy::Mode::kBlackhole);
  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    auto r = run(db->insert_decision(make_record("m-s", "t-" + std::to_string(i))));
    const auto took = Clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "unavailable") << r.error().message;
    EXPECT_LT(took, milliseconds(2500));
  }
  proxy.set_mode(Proxy::Mode::kForward);
  ASSERT_TRUE(wait_until([&] { return run(db->ping()).ok(); }, seconds(10)));
  EXPECT_TRUE(run(db->insert_decision(make_record("m-s", "after"))).ok());
}

// A statement blocked on a row lock is cancelled by statement_timeout and
// answers "unavailable".
TEST_F(PostgresStoreTest, AStatementBlockedBeyondStatementTimeoutAnswersUnavailable) {
  PostgresOptions o = options();
  o.statement_timeout = milliseconds(300);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  DecisionRecord review = make_record("m-t", "rev");
  review.decision = Decision::kReview;
  ASSERT_TRUE(run(db->insert_decision(review)).ok());
  ASSERT_TRUE(schema_->exec("BEGIN").ok());
  ASSERT_TRUE(schema_->exec("SELECT 1 FROM transactions WHERE transaction_id = 'rev' FOR UPDATE").ok());
  const auto start = Clock::now();
  auto r = run(db->resolve_review("m-t", "rev", {Decision::kApprove, "n", "ann", kT0}));
  const auto took = Clock::now() - start;
  ASSERT_TRUE(schema_->exec("ROLLBACK").ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "unavailable") << r.error().message;
  EXPECT_LT(took, seconds(3));
  auto again = run(db->resolve_review("m-t", "rev", {Decision::kApprove, "n", "ann", kT0}));
  ASSERT_TRUE(again.ok()) << again.error().message;
}

// ------------------------------------------------------------------ read_url

// Lag-tolerant reads go to the read server; reads that must see the latest
// write (find_decision) go to the primary.
TEST_F(PostgresStoreTest, ReadUrlServesLagTolerantReadsAndThePrimaryTheRest) {
  const std::string tag = random_hex();
  const std::string primary_name = "txv_primary_" + tag;
  const std::string replica_name = "txv_replica_" + tag;
  PostgresOptions o = options();
  o.url = with_param(schema_->url(), "application_name=" + primary_name);
  o.read_url = with_param(schema_->url(), "application_name=" + replica_name);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(run(db->insert_decision(make_record("m-r", "t-1"))).ok());
  ASSERT_TRUE(run(db->replace_list("l", {"x"}, "a")).ok());
  TransactionQuery q;
  q.merchant_id = "m-r";
  auto page = run(db->list_decisions(q));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_EQ(run(db->list_lists())->size(), 1u);
  EXPECT_EQ((**run(db->list_entries("l"))), std::vector<std::string>{"x"});
  ASSERT_TRUE(run(db->list_decisions(q)).ok());            // the replica's last statement
  ASSERT_TRUE(run(db->find_decision("m-r", "t-1")).ok());  // the primary's last statement

  auto count = [&](const std::string& app, const std::string& like) {
    return scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2",
                  {pg::text(app), pg::text(like)});
  };
  EXPECT_GE(count(replica_name, "%FROM transactions WHERE true AND merchant_id%"), 1);
  EXPECT_EQ(count(replica_name, "%transaction_id = $2%"), 0);
  EXPECT_GE(count(primary_name, "%WHERE merchant_id = $1 AND transaction_id = $2%"), 1);
  EXPECT_EQ(count(primary_name, "%FROM transactions WHERE true%"), 0);
  auto stats = db->pool_stats();
  EXPECT_GE(stats.idle, 2);  // both pools
}

TEST_F(PostgresStoreTest, AnUnreachableReadServerFallsBackToThePrimary) {
  ClosedPort closed;
  PostgresOptions o = options();
  o.read_url = with_port(schema_->url(), closed.port());
  o.reconnect_backoff_max = milliseconds(100);
  auto db = open(o);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(run(db->insert_decision(make_record("m-u", "t-1"))).ok());
  for (int i = 0; i < 3; ++i) {
    auto page = run(db->list_decisions({}));
    ASSERT_TRUE(page.ok()) << page.error().message;
    EXPECT_EQ(page->items.size(), 1u);
  }
}

// ------------------------------------------------------------------ open

TEST_F(PostgresStoreTest, OpeningAnUnreachableServerRetriesForTheBudgetThenAnswersUnavailable) {
  ClosedPort closed;
  PostgresOptions o = options();
  o.url = "postgres://txv:s3cret-pw-42@127.0.0.1:" + std::to_string(closed.port()) + "/txv?sslmode=disable";
  o.connect_retry_budget = milliseconds(1200);
  const auto start = Clock::now();
  auto db = open_postgres_database(o);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, "unavailable");
  EXPECT_GE(took, milliseconds(900));
  EXPECT_LT(took, seconds(5));
  EXPECT_NE(db.error().message.find("127.0.0.1:" + std::to_string(closed.port()) + "/txv"), std::string::npos)
      << db.error().message;
  EXPECT_EQ(db.error().message.find("s3cret-pw-42"), std::string::npos) << db.error().message;
  EXPECT_EQ(db.error().message.find('\n'), std::string::npos) << db.error().message;
  std::cout << "[ info ] " << db.error().message << "\n";
}

TEST_F(PostgresStoreTest, AnUnparseableUrlIsAConfigurationError) {
  PostgresOptions o = options();
  o.url = "postgres://txv:pw@127.0.0.1:5432/txv?no_such_option=1";
  auto db = open_postgres_database(o);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, "invalid_configuration");
  EXPECT_EQ(db.error().message.find("pw"), std::string::npos);
}

}  // namespace
}  // namespace txv::store

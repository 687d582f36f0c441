// WarmingVelocityCounters against the real test servers (scripts/test-servers.sh: TXV_TEST_REDIS_URL and
// TXV_TEST_DATABASE_URL; without them the tests skip, or fail when TXV_REQUIRE_INTEGRATION=1): decisions are
// counted in Redis and stored in PostgreSQL, Redis is emptied (FLUSHDB of a database of Redis no other suite uses,
// one per test, so that CTest may run them alongside the rest), and the counts stay whole. Times come from the
// events (`at`), never from sleeping.
#include "cache/warming_velocity_counters.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "cache/redis/redis_test_env.h"
#include "common/async_test_runner.h"
#include "domain/time.h"
#include "store/postgres/postgres_database.h"
#include "store/postgres/test_schema.h"

namespace txv::cache {
namespace {

using namespace std::chrono_literals;
using domain::TimePoint;

// One replica's counters: its own Redis client, the Redis counters with the epoch marker, warming in front.
struct Replica {
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<RedisVelocityCounters> redis;
  std::unique_ptr<StoreVelocityCounters> store;
  std::unique_ptr<WarmingVelocityCounters> warming;
  std::mutex mu;
  std::vector<std::tuple<bool, TimePoint, bool>> states;  // on_state calls
};

class WarmingVelocity : public ::testing::Test {
 protected:
  // `redis_db`: a Redis database of this test's own (it is flushed).
  void start(int redis_db) {
    auto url = testing::redis_test_url();
    if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
    redis_url_ = testing::with_db(*url, redis_db);
    auto pg_url = store::pg::testing::test_database_url();
    if (!pg_url) {
      if (store::pg::testing::integration_required()) FAIL() << "TXV_TEST_DATABASE_URL is not set";
      GTEST_SKIP() << "TXV_TEST_DATABASE_URL is not set";
    }
    auto schema = store::pg::testing::TestSchema::create(*pg_url);
    ASSERT_TRUE(schema.ok()) << schema.error().message;
    schema_ = std::move(*schema);
    auto db = store::open_postgres_database(schema_->options());
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(*db);
    ASSERT_TRUE(db_->migrate().ok());
    prefix_ = "txv:test:warm:" + std::to_string(::getpid()) + ":" +
              std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":";
    admin_ = client();
    ASSERT_TRUE(admin_);
  }
  void TearDown() override {
    replicas_.clear();
    admin_.reset();
    if (db_) db_->close();
    db_.reset();
    schema_.reset();
  }

  std::unique_ptr<RedisClient> client() {
    RedisClientOptions o;
    o.url = redis_url_;
    o.command_timeout = 5s;  // counting here, not latency
    auto c = RedisClient::create(std::move(o));
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
    return c.ok() ? std::move(c).value() : nullptr;
  }
  RedisVelocityCountersOptions redis_options() const {
    RedisVelocityCountersOptions o;
    o.key_prefix = prefix_;
    o.epoch_key = prefix_ + "epoch";
    return o;
  }
  Replica& replica() {
    auto r = std::make_unique<Replica>();
    r->client = client();
    r->redis = std::make_unique<RedisVelocityCounters>(*r->client, redis_options());
    r->store = std::make_unique<StoreVelocityCounters>(*db_);
    WarmingVelocityCountersOptions o;
    Replica* raw = r.get();
    o.on_state = [raw](bool warming, TimePoint emptied_at, bool detected) {
      std::lock_guard lock(raw->mu);
      raw->states.emplace_back(warming, emptied_at, detected);
    };
    r->warming = std::make_unique<WarmingVelocityCounters>(*r->redis, *r->store, std::move(o));
    replicas_.push_back(std::move(r));
    return *replicas_.back();
  }
  std::vector<std::tuple<bool, TimePoint, bool>> states(Replica& r) {
    std::lock_guard lock(r.mu);
    return r.states;
  }
  RedisValue redis(std::vector<std::string> args) {
    auto r = run_.run(admin_->command(std::move(args)));
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : RedisValue{};
  }
  VelocityEventInput event(TimePoint at, std::int64_t amount = 100) const {
    VelocityEventInput in;
    in.keys[static_cast<std::size_t>(VelocityKey::kCard)] = card_;
    in.keys[static_cast<std::size_t>(VelocityKey::kMerchant)] = merchant_;
    in.amount = amount;
    in.currency = "USD";
    in.at = at;
    return in;
  }
  // One decision as the pipeline makes it: counted (and recorded in Redis), then stored in PostgreSQL.
  std::vector<std::optional<VelocityTotals>> decide(Replica& r, TimePoint at) {
    auto read = run_.run(r.warming->read_and_record(event(at), queries_));
    EXPECT_TRUE(read.ok()) << read.error().message;
    if (!read.ok()) return {};
    store_only(at);
    return read->totals;
  }
  // A decision stored in PostgreSQL.
  void store_only(TimePoint at) {
    domain::DecisionRecord rec;
    rec.merchant_id = merchant_;
    rec.transaction_id = "t-" + std::to_string(++serial_);
    rec.request_hash = "h-" + rec.transaction_id;
    rec.type = domain::TransactionType::kPurchase;
    rec.amount = 100;
    rec.currency = "USD";
    rec.decision = domain::Decision::kApprove;
    rec.card = domain::CardSummary{"visa", "424242", "4242", card_};
    rec.occurred_at = at;
    rec.decided_at = at;
    auto stored = run_.run(db_->insert_decision(rec));
    ASSERT_TRUE(stored.ok()) << stored.error().message;
  }
  static VelocityTotals n(std::int64_t count) { return VelocityTotals{count, count * 100}; }

  static constexpr std::int64_t kMinute = 60 * 1000;
  const std::vector<VelocityQuery> queries_{{VelocityKey::kCard, kMinute}, {VelocityKey::kCard, 10 * kMinute}};
  const std::string card_ = "0123456789abcdef0123456789abcdef";
  const std::string merchant_ = "m-warm";
  txv::testing::AsyncRunner run_;
  std::string redis_url_;
  std::unique_ptr<store::pg::testing::TestSchema> schema_;
  std::unique_ptr<store::Database> db_;
  std::string prefix_;
  std::unique_ptr<RedisClient> admin_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  int serial_ = 0;
};

TEST_F(WarmingVelocity, AnEmptiedRedisIsMadeWholeFromTheStoredDecisionsUntilTheLongestWindowHasPassed) {
  start(11);
  if (IsSkipped() || HasFatalFailure()) return;
  redis({"SET", prefix_ + "epoch", "0"});  // a Redis that has been counting for long
  Replica& a = replica();
  Replica& b = replica();
  const TimePoint t = std::chrono::floor<std::chrono::seconds>(domain::now_millis());

  // Five decisions, counted by Redis alone.
  for (int i = 0; i < 5; ++i) {
    auto totals = decide(a, t + std::chrono::seconds(i));
    ASSERT_EQ(totals.size(), 2u);
    EXPECT_EQ(totals[1], n(i)) << i;
  }
  EXPECT_FALSE(a.warming->warming());
  EXPECT_TRUE(states(a).empty());

  redis({"FLUSHDB"});  // Redis emptied (a restart without persistence, a new node, FLUSHALL)

  // The first read after it sees every stored decision; it notices the emptied Redis and sets the epoch F.
  const TimePoint f = t + 60s;
  auto totals = decide(a, f);
  EXPECT_EQ(totals[0], n(4));  // (t, f]: the decisions at t+1s .. t+4s
  EXPECT_EQ(totals[1], n(5));
  EXPECT_TRUE(a.warming->warming());
  EXPECT_EQ(states(a), (std::vector<std::tuple<bool, TimePoint, bool>>{{true, f, true}}));
  auto marker = redis({"GET", prefix_ + "epoch"});
  EXPECT_EQ(marker.str, std::to_string(f.time_since_epoch().count()));

  // Another replica agrees on F (it reads the marker) and counts the same way.
  totals = decide(b, f + 1s);
  EXPECT_EQ(totals[0], n(4));  // t+2s .. t+4s from the database, f from Redis
  EXPECT_EQ(totals[1], n(6));
  EXPECT_EQ(states(b), (std::vector<std::tuple<bool, TimePoint, bool>>{{true, f, false}}));

  // An event older than F (a replay of an outage's queue, a replica's lagging clock) is not recorded in Redis: the
  // database counts it.
  RedisVelocityEpoch seen;
  auto old = run_.run(a.redis->read_and_record(event(f - 1s), queries_, &seen));
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(seen.known);
  EXPECT_FALSE(seen.recorded);
  EXPECT_FALSE(seen.detected);
  EXPECT_EQ(seen.emptied_at, f);
  EXPECT_EQ(old->ticket.id, 0u);

  // A window lying wholly after F is Redis's alone; the longer one still adds the database's share.
  totals = decide(a, f + 90s);
  EXPECT_EQ(totals[0], n(0));  // (f+30s, f+90s]
  EXPECT_EQ(totals[1], n(7));  // 5 stored before F + f, f+1s in Redis

  // Once the longest window lies after F, Redis alone answers: the database is not asked any more (closed here,
  // it would fail the call, see ADatabaseFailureDuringWarmUpRecordsNothing).
  totals = decide(a, f + 10min + 1s);
  EXPECT_EQ(totals[0], n(0));
  EXPECT_EQ(totals[1], n(1));  // (f+1s, f+10min+1s]: f+90s
  EXPECT_FALSE(a.warming->warming());
  EXPECT_EQ(states(a), (std::vector<std::tuple<bool, TimePoint, bool>>{{true, f, true}, {false, f, false}}));
  db_->close();
  auto read = run_.run(a.warming->read_and_record(event(f + 10min + 2s), queries_));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->totals[1], n(2));
  read = run_.run(b.warming->read_and_record(event(f + 10min + 3s), queries_));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->totals[1], n(3));
  EXPECT_EQ(states(b), (std::vector<std::tuple<bool, TimePoint, bool>>{{true, f, false}, {false, f, false}}));
}

// The marker is missing but the call's key values hold state: a Redis filled by a txv that kept no marker (an
// upgrade), not an emptied one. The epoch is 0 and nothing is counted twice.
TEST_F(WarmingVelocity, AMissingMarkerOverHeldStateIsNotAnEmptiedRedis) {
  start(12);
  if (IsSkipped() || HasFatalFailure()) return;
  const TimePoint t = std::chrono::floor<std::chrono::seconds>(domain::now_millis());
  {
    auto c = client();
    RedisVelocityCountersOptions o = redis_options();
    o.epoch_key.clear();  // the previous version
    RedisVelocityCounters before(*c, o);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(run_.run(before.read_and_record(event(t + std::chrono::seconds(i)), queries_)).ok());
      store_only(t + std::chrono::seconds(i));
    }
  }
  Replica& a = replica();
  auto totals = decide(a, t + 10s);
  EXPECT_EQ(totals[1], n(3));
  EXPECT_FALSE(a.warming->warming());
  EXPECT_TRUE(states(a).empty());
  EXPECT_EQ(redis({"GET", prefix_ + "epoch"}).str, "0");
}

// At start-up a wholly empty Redis database gets its epoch before any decision; one holding anything does not.
TEST_F(WarmingVelocity, AWhollyEmptyRedisIsMarkedAtStartUp) {
  start(14);
  if (IsSkipped() || HasFatalFailure()) return;
  const TimePoint t = std::chrono::floor<std::chrono::seconds>(domain::now_millis());
  Replica& a = replica();
  redis({"FLUSHDB"});
  auto marked = run_.run(a.redis->mark_epoch_if_empty(t));
  ASSERT_TRUE(marked.ok()) << marked.error().message;
  EXPECT_TRUE(*marked);
  EXPECT_EQ(redis({"GET", prefix_ + "epoch"}).str, std::to_string(t.time_since_epoch().count()));
  marked = run_.run(a.redis->mark_epoch_if_empty(t + 1s));  // another replica starting: F stays
  ASSERT_TRUE(marked.ok());
  EXPECT_FALSE(*marked);
  EXPECT_EQ(redis({"GET", prefix_ + "epoch"}).str, std::to_string(t.time_since_epoch().count()));
  // A decision stamped before F (in flight at start-up) counts from the database; one after it from Redis.
  store_only(t - 2s);
  auto totals = decide(a, t + 1s);
  EXPECT_EQ(totals[1], n(1));
  EXPECT_EQ(states(a), (std::vector<std::tuple<bool, TimePoint, bool>>{{true, t, false}}));

  redis({"FLUSHDB"});
  redis({"SET", "something-else", "1"});  // e.g. a rate limit written first: leave it to the decisions
  marked = run_.run(a.redis->mark_epoch_if_empty(t + 2s));
  ASSERT_TRUE(marked.ok());
  EXPECT_FALSE(*marked);
  EXPECT_TRUE(redis({"GET", prefix_ + "epoch"}).is_nil());
}

// A database that fails during warm-up: the call answers its error and the event recorded in Redis is taken out.
TEST_F(WarmingVelocity, ADatabaseFailureDuringWarmUpRecordsNothing) {
  start(13);
  if (IsSkipped() || HasFatalFailure()) return;
  const TimePoint t = std::chrono::floor<std::chrono::seconds>(domain::now_millis());
  Replica& a = replica();
  store_only(t - 2s);          // history before the epoch: a share to add
  auto totals = decide(a, t);  // a fresh Redis: F = t
  EXPECT_EQ(totals[1], n(1));
  EXPECT_TRUE(a.warming->warming());
  db_->close();
  auto failed = run_.run(a.warming->read_and_record(event(t + 1s), queries_));
  EXPECT_FALSE(failed.ok());
  // Redis holds the first event only.
  RedisVelocityEpoch seen;
  auto read = run_.run(a.redis->read_and_record(event(t + 2s), queries_, &seen));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->totals[1], n(1));
}

// A fresh deployment (an empty Redis and no decision stored before its epoch) has nothing to warm: the database is
// not asked (here: it is closed, and decisions go on).
TEST_F(WarmingVelocity, NothingStoredBeforeTheEpochMeansNoWarmUp) {
  start(10);
  if (IsSkipped() || HasFatalFailure()) return;
  const TimePoint t = std::chrono::floor<std::chrono::seconds>(domain::now_millis());
  Replica& a = replica();
  auto totals = decide(a, t);  // F = t, and the store holds nothing before it
  EXPECT_EQ(totals[1], n(0));
  EXPECT_FALSE(a.warming->warming());
  db_->close();
  auto read = run_.run(a.warming->read_and_record(event(t + 1s), queries_));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->totals[1], n(1));  // Redis alone: the first event
  EXPECT_FALSE(a.warming->warming());
}

}  // namespace
}  // namespace txv::cache

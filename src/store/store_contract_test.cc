// The storage contract suite: what every back-end of store::Database must do
// (src/store/stores.h). Parameterised by back-end (store_contract_backends.cc);
// no test names a back-end.
#include "store/store_contract_test.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/async_test_runner.h"
#include "common/hex.h"
#include "domain/time.h"
#include "store/record_json.h"
#include "store/stores.h"

namespace txv::store::contract {

// Names the back-end in gtest's messages (instead of the parameter's bytes).
void PrintTo(const BackendFactory& f, std::ostream* os);
void PrintTo(const BackendFactory& f, std::ostream* os) { *os << f.name; }

namespace {

namespace json = boost::json;
using domain::Decision;
using domain::DecisionRecord;
using std::chrono::minutes;

TimePoint at(const char* rfc3339) { return domain::parse_rfc3339(rfc3339).value(); }

const TimePoint kT0 = at("2026-11-24T10:00:00.000Z");
const TimePoint kFarFuture = at("2100-01-01T00:00:00.000Z");

DecisionRecord make_record(const std::string& merchant, const std::string& txid, Decision decision = Decision::kApprove,
                           TimePoint decided_at = kT0) {
  DecisionRecord r;
  r.merchant_id = merchant;
  r.transaction_id = txid;
  r.request_hash = "hash-" + merchant + "-" + txid;
  r.type = domain::TransactionType::kPurchase;
  r.amount = 12550;
  r.currency = "USD";
  r.decision = decision;
  r.rules_version = 7;
  r.card = domain::CardSummary{"visa", "424242", "4242", "0123456789abcdef0123456789abcdef"};
  r.occurred_at = decided_at - minutes(1);
  r.decided_at = decided_at;
  return r;
}

DecisionRecord make_full_record(const std::string& merchant, const std::string& txid) {
  DecisionRecord r = make_record(merchant, txid, Decision::kReview, kT0 + std::chrono::milliseconds(123));
  r.type = domain::TransactionType::kRefund;
  r.amount = 1'000'000'000'000'000;
  r.currency = "KWD";
  r.reasons = {domain::Reason{"card_expired", "check", "", domain::RuleAction::kDecline},
               domain::Reason{"high_amount", "rule", "r-1", domain::RuleAction::kReview}};
  r.shadow_matches = {domain::ShadowMatch{"r-2", domain::RuleAction::kDecline, "shadow_code"}};
  r.has_customer = true;
  r.customer = domain::Customer{"c-7", "a@example.com", "2001:db8::1", "US", "d-1"};
  r.has_merchant = true;
  r.merchant = domain::Merchant{"5411", "DE"};
  r.metadata = {{"channel", "web"}, {"quote", "\"x\" \\ \u00e9"}};
  return r;
}

RuleRecord make_rule(const std::string& id, std::int64_t priority = 10) {
  RuleRecord r;
  r.id = id;
  r.name = "rule " + id;
  r.expression = "amount > 100000";
  r.action = domain::RuleAction::kReview;
  r.code = "high_amount";
  r.priority = priority;
  r.mode = RuleMode::kEnforce;
  r.created_at = kT0;
  r.updated_at = kT0;
  return r;
}

json::value parse_json(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

std::vector<std::string> json_strings(const json::value& v) {
  std::vector<std::string> out;
  if (!v.is_array()) {
    ADD_FAILURE() << "not an array: " << json::serialize(v);
    return out;
  }
  for (const auto& e : v.get_array()) out.emplace_back(e.as_string());
  return out;
}

#define ASSERT_OK(expr)                                                                                 \
  do {                                                                                                  \
    const auto& txv_r_ = (expr);                                                                        \
    ASSERT_TRUE(txv_r_.ok()) << #expr << ": " << txv_r_.error().code << ": " << txv_r_.error().message; \
  } while (0)

#define EXPECT_ERROR(expr, expected_code)                                      \
  do {                                                                         \
    const auto& txv_r_ = (expr);                                               \
    if (txv_r_.ok()) {                                                         \
      ADD_FAILURE() << #expr << " succeeded, expected " << (expected_code);    \
    } else {                                                                   \
      EXPECT_EQ(txv_r_.error().code, expected_code) << txv_r_.error().message; \
    }                                                                          \
  } while (0)

using txv::testing::wait_until;
using Runner = txv::testing::AsyncRunner;

class StoreContractTest : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override {
    backend_ = GetParam().make();
    if (!backend_) GTEST_SKIP() << GetParam().name << " back-end not available";
    runner_ = std::make_unique<Runner>();
    db_ = open_migrated();
    ASSERT_NE(db_, nullptr);
  }
  void TearDown() override {
    if (db_) db_->close();
    db_.reset();
    runner_.reset();
    backend_.reset();
  }

  template <class T>
  T run(Task<T> task) {
    return runner_->run(std::move(task));
  }

  std::unique_ptr<Database> open_migrated() {
    auto db = backend_->open();
    EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
    if (!db.ok()) return nullptr;
    auto st = (*db)->migrate();
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    return std::move(*db);
  }

  // Closes db_ and opens the same storage again.
  void reopen() {
    db_->close();
    db_.reset();
    db_ = open_migrated();
    ASSERT_NE(db_, nullptr);
  }

  InsertOutcome insert(const DecisionRecord& r) {
    auto out = run(db_->insert_decision(r));
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
    return out.ok() ? *out : InsertOutcome{};
  }

  // Every event of [since, until) in one vector, through the chunked scan, oldest first (the scan's own order is
  // only about time order; ties keep it).
  Result<std::vector<VelocityEvent>> scan(TimePoint since, TimePoint until, std::size_t chunk,
                                          const VelocityScanFields& fields = {}) {
    std::vector<VelocityEvent> out;
    Status st =
        db_->scan_velocity_events(since, until, chunk, fields, [&](std::span<const VelocityEvent> part) -> Status {
          out.insert(out.end(), part.begin(), part.end());
          return Ok{};
        });
    if (!st.ok()) return st.error();
    std::stable_sort(out.begin(), out.end(),
                     [](const VelocityEvent& a, const VelocityEvent& b) { return a.at < b.at; });
    return out;
  }

  std::vector<AuditEntry> all_audit(AuditQuery q = {}) {
    q.limit = 10000;
    q.max_bytes = std::numeric_limits<std::size_t>::max();
    auto page = run(db_->list_audit(q));
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<AuditEntry>{};
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Runner> runner_;
  std::unique_ptr<Database> db_;
};

// ------------------------------------------------------------------ migrate

TEST_P(StoreContractTest, MigrateIsIdempotentAndKeepsData) {
  ASSERT_OK(db_->migrate());
  ASSERT_OK(db_->migrate());
  insert(make_record("m-1", "t-1"));
  ASSERT_OK(run(db_->create_rule(make_rule("r-1"), "alice")));
  reopen();  // migrates again
  ASSERT_OK(db_->migrate());
  auto found = run(db_->find_decision("m-1", "t-1"));
  ASSERT_OK(found);
  EXPECT_TRUE(found->has_value());
  auto version = run(db_->rules_version());
  ASSERT_OK(version);
  EXPECT_EQ(*version, 1);
  auto lv = run(db_->lists_version());
  ASSERT_OK(lv);
  EXPECT_EQ(*lv, 0);
}

// ------------------------------------------------------------------ api keys

TEST_P(StoreContractTest, ApiKeysCreateFindList) {
  ApiKey admin{"key_a", "ops admin", Role::kAdmin, std::nullopt, std::string(64, 'a'), kT0, {}, {}};
  ApiKey validator{"key_v", "shop", Role::kValidator, "m-42", std::string(64, 'b'), kT0 + minutes(1), {}, {}};
  ApiKey analyst{"key_n", "analyst", Role::kAnalyst, std::nullopt, std::string(64, 'c'), kT0 - minutes(1), {}, {}};
  ASSERT_OK(run(db_->create_api_key(admin)));
  ASSERT_OK(run(db_->create_api_key(validator)));
  ASSERT_OK(run(db_->create_api_key(analyst)));

  auto found = run(db_->find_api_key_by_hash(std::string(64, 'b')));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, validator);
  auto missing = run(db_->find_api_key_by_hash(std::string(64, 'z')));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  auto all = run(db_->list_api_keys());
  ASSERT_OK(all);
  EXPECT_EQ(*all, (std::vector<ApiKey>{analyst, admin, validator}));  // by created_at

  ApiKey same_id = admin;
  same_id.secret_hash = std::string(64, 'd');
  EXPECT_ERROR(run(db_->create_api_key(same_id)), "conflict");
  ApiKey same_hash = admin;
  same_hash.id = "key_other";
  EXPECT_ERROR(run(db_->create_api_key(same_hash)), "conflict");
}

TEST_P(StoreContractTest, TraceLayoutsAreStoredOnceAndFoundById) {
  const std::string layout = R"({"r":[["a",1,"e",[0]]],"x":["amount"]})";
  ASSERT_OK(run(db_->save_trace_layout("0123456789abcdef", layout)));
  // Saving an id again (another replica compiled the same set) changes nothing and is no error.
  ASSERT_OK(run(db_->save_trace_layout("0123456789abcdef", layout)));
  auto found = run(db_->find_trace_layout("0123456789abcdef"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, layout);
  auto missing = run(db_->find_trace_layout("fedcba9876543210"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreContractTest, ApiKeysRevokeIsIdempotentTouchRecordsUseListShowsAll) {
  ApiKey admin{"key_a", "ops admin", Role::kAdmin, std::nullopt, std::string(64, 'a'), kT0, {}, {}};
  ApiKey validator{"key_v", "shop", Role::kValidator, "m-42", std::string(64, 'b'), kT0 + minutes(1), {}, {}};
  ApiKey analyst{"key_n", "analyst", Role::kAnalyst, std::nullopt, std::string(64, 'c'), kT0 + minutes(1), {}, {}};
  ASSERT_OK(run(db_->create_api_key(validator)));
  ASSERT_OK(run(db_->create_api_key(admin)));
  ASSERT_OK(run(db_->create_api_key(analyst)));

  auto fresh = run(db_->find_api_key_by_hash(admin.secret_hash));
  ASSERT_OK(fresh);
  ASSERT_TRUE(fresh->has_value());
  EXPECT_FALSE((*fresh)->revoked_at.has_value());
  EXPECT_FALSE((*fresh)->last_used_at.has_value());

  // Revoke: the key comes back with revoked_at; a second revoke keeps the first time.
  auto revoked = run(db_->revoke_api_key("key_a", kT0 + minutes(5)));
  ASSERT_OK(revoked);
  ApiKey expected_admin = admin;
  expected_admin.revoked_at = kT0 + minutes(5);
  EXPECT_EQ(*revoked, expected_admin);
  auto again = run(db_->revoke_api_key("key_a", kT0 + minutes(9)));
  ASSERT_OK(again);
  EXPECT_EQ(again->revoked_at, kT0 + minutes(5));
  EXPECT_ERROR(run(db_->revoke_api_key("key_unknown", kT0)), "not_found");

  // A revoked key is still found by its hash (the caller refuses it).
  auto found = run(db_->find_api_key_by_hash(admin.secret_hash));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, expected_admin);
  auto other = run(db_->find_api_key_by_hash(validator.secret_hash));
  ASSERT_OK(other);
  ASSERT_TRUE(other->has_value());
  EXPECT_FALSE((*other)->revoked_at.has_value());

  // Touch records the last use; it never moves backwards.
  ASSERT_OK(run(db_->touch_api_key("key_v", kT0 + minutes(10))));
  EXPECT_EQ((*run(db_->find_api_key_by_hash(validator.secret_hash)))->last_used_at, kT0 + minutes(10));
  ASSERT_OK(run(db_->touch_api_key("key_v", kT0 + minutes(20))));
  ASSERT_OK(run(db_->touch_api_key("key_v", kT0 + minutes(15))));
  EXPECT_EQ((*run(db_->find_api_key_by_hash(validator.secret_hash)))->last_used_at, kT0 + minutes(20));
  EXPECT_ERROR(run(db_->touch_api_key("key_unknown", kT0)), "not_found");

  // Every key, revoked ones included, by created_at then id; and it all persists.
  ApiKey expected_validator = validator;
  expected_validator.last_used_at = kT0 + minutes(20);
  const std::vector<ApiKey> expected{expected_admin, analyst, expected_validator};
  auto all = run(db_->list_api_keys());
  ASSERT_OK(all);
  EXPECT_EQ(*all, expected);
  reopen();
  all = run(db_->list_api_keys());
  ASSERT_OK(all);
  EXPECT_EQ(*all, expected);
}

// ------------------------------------------------------------------ decisions

TEST_P(StoreContractTest, InsertAndFindRoundTripEveryField) {
  DecisionRecord full = make_full_record("m-1", "t-full");
  InsertOutcome out = insert(full);
  EXPECT_TRUE(out.inserted);
  EXPECT_GT(out.record.seq, 0);
  DecisionRecord expected = full;
  expected.seq = out.record.seq;
  EXPECT_EQ(out.record, expected);

  auto found = run(db_->find_decision("m-1", "t-full"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, expected);

  DecisionRecord minimal = make_record("m-1", "t-min");  // no customer, merchant, reasons, metadata
  InsertOutcome out2 = insert(minimal);
  EXPECT_TRUE(out2.inserted);
  EXPECT_GT(out2.record.seq, out.record.seq);
  found = run(db_->find_decision("m-1", "t-min"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  minimal.seq = out2.record.seq;
  EXPECT_EQ(**found, minimal);

  auto missing = run(db_->find_decision("m-1", "nope"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
  missing = run(db_->find_decision("m-2", "t-full"));  // the key is (merchant, transaction)
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreContractTest, CountDecisionsByEachVelocityKeyInAWindowAndCurrency) {
  auto rec = [](const std::string& tx, std::int64_t amount, const std::string& currency, int minute,
                const std::string& email) {
    DecisionRecord r = make_record("m-c", tx, Decision::kApprove, kT0 + minutes(minute));
    r.amount = amount;
    r.currency = currency;
    r.has_customer = true;
    r.customer = domain::Customer{"cust-1", email, "192.0.2.1", "US", "dev-1"};
    return r;
  };
  insert(rec("a", 100, "USD", 0, "Ann@Example.com"));
  insert(rec("b", 200, "USD", 5, "ann@example.com"));
  insert(rec("c", 400, "EUR", 10, "ANN@EXAMPLE.COM"));
  insert(rec("d", 800, "USD", 15, "other@example.com"));
  DecisionRecord big = rec("e", std::numeric_limits<std::int64_t>::max(), "USD", 16, "big@example.com");
  big.card.fingerprint = "big";
  DecisionRecord big2 = big;
  big2.transaction_id = "f";
  insert(big);
  insert(big2);

  auto q = [](DecisionField f, std::string v, int after_minute, std::string currency = "USD") {
    return DecisionCountQuery{f, std::move(v), kT0 + minutes(after_minute), std::move(currency)};
  };
  std::vector<DecisionCountQuery> queries{
      q(DecisionField::kCardFingerprint, "0123456789abcdef0123456789abcdef", -1),  // a b c d
      q(DecisionField::kCustomerId, "cust-1", 0),                                  // after a (exclusive): b c d e f
      q(DecisionField::kEmailLowerCase, "ann@example.com", -1),                    // a b c (ASCII lower-case)
      q(DecisionField::kEmailLowerCase, "ann@example.com", -1, "EUR"),             // a b c, EUR only
      q(DecisionField::kIp, "192.0.2.1", 10),                                      // d e f
      q(DecisionField::kDeviceId, "nobody", -100),
      q(DecisionField::kMerchantId, "m-c", 14),       // d e f
      q(DecisionField::kCardFingerprint, "big", -1),  // saturates
  };
  auto counts = run(db_->count_decisions(queries));
  ASSERT_TRUE(counts.ok()) << counts.error().message;
  ASSERT_EQ(counts->size(), queries.size());
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::pair<std::int64_t, std::int64_t>> got;
  for (const auto& c : *counts) got.emplace_back(c.count, c.amount);
  EXPECT_EQ(got, (std::vector<std::pair<std::int64_t, std::int64_t>>{
                     {4, 1100}, {5, max}, {3, 300}, {3, 400}, {3, max}, {0, 0}, {3, max}, {2, max}}));
}

TEST_P(StoreContractTest, DuplicateKeyReturnsTheStoredRecord) {
  InsertOutcome first = insert(make_full_record("m-1", "t-1"));
  ASSERT_TRUE(first.inserted);

  DecisionRecord other = make_record("m-1", "t-1", Decision::kDecline);
  other.request_hash = "a-different-request";
  InsertOutcome second = insert(other);
  EXPECT_FALSE(second.inserted);
  EXPECT_EQ(second.record, first.record);

  InsertOutcome other_merchant = insert(make_record("m-2", "t-1"));
  EXPECT_TRUE(other_merchant.inserted);
  EXPECT_NE(other_merchant.record.seq, first.record.seq);

  auto page = run(db_->list_decisions({}));
  ASSERT_OK(page);
  EXPECT_EQ(page->items.size(), 2u);
}

TEST_P(StoreContractTest, ConcurrentDuplicateInsertsHaveExactlyOneWinner) {
  constexpr int kCoroutines = 16;  // all in flight at once
  std::vector<InsertOutcome> outcomes(kCoroutines);
  std::atomic<int> finished{0};
  std::atomic<int> failed{0};
  Database* db = db_.get();
  for (int i = 0; i < kCoroutines; ++i) {
    runner_->spawn([&, db, i]() -> Task<void> {
      DecisionRecord r = make_record("m-1", "same");
      r.amount = 100 + i;
      auto out = co_await db->insert_decision(r);
      if (out.ok()) {
        outcomes[i] = *out;
      } else {
        ++failed;
      }
      ++finished;
    });
  }
  ASSERT_TRUE(wait_until([&] { return finished.load() == kCoroutines; }));
  EXPECT_EQ(failed.load(), 0);
  int winners = 0;
  for (const auto& o : outcomes) {
    winners += o.inserted ? 1 : 0;
    EXPECT_EQ(o.record, outcomes[0].record);
  }
  EXPECT_EQ(winners, 1);
  EXPECT_GT(outcomes[0].record.seq, 0);
}

// ------------------------------------------------------------------ listing

std::vector<std::int64_t> seqs(const std::vector<DecisionRecord>& items) {
  std::vector<std::int64_t> out;
  for (const auto& r : items) out.push_back(r.seq);
  return out;
}

TEST_P(StoreContractTest, ListIsNewestFirstAndPagesWithCursors) {
  std::vector<std::int64_t> inserted;
  for (int i = 0; i < 25; ++i) inserted.push_back(insert(make_record("m-1", "t-" + std::to_string(i))).record.seq);
  std::reverse(inserted.begin(), inserted.end());

  std::vector<std::int64_t> listed;
  TransactionQuery q;
  q.limit = 10;
  std::vector<std::size_t> page_sizes;
  for (;;) {
    auto page = run(db_->list_decisions(q));
    ASSERT_OK(page);
    page_sizes.push_back(page->items.size());
    auto s = seqs(page->items);
    listed.insert(listed.end(), s.begin(), s.end());
    if (!page->next_before_seq) break;
    EXPECT_EQ(*page->next_before_seq, page->items.back().seq);
    q.before_seq = page->next_before_seq;
  }
  EXPECT_EQ(listed, inserted);
  EXPECT_EQ(page_sizes, (std::vector<std::size_t>{10, 10, 5}));

  // An exact multiple of the limit ends without a dangling cursor.
  TransactionQuery q20;
  q20.limit = 25;
  auto page = run(db_->list_decisions(q20));
  ASSERT_OK(page);
  EXPECT_EQ(page->items.size(), 25u);
  EXPECT_FALSE(page->next_before_seq.has_value());

  TransactionQuery empty;
  empty.merchant_id = "nobody";
  page = run(db_->list_decisions(empty));
  ASSERT_OK(page);
  EXPECT_TRUE(page->items.empty());
  EXPECT_FALSE(page->next_before_seq.has_value());
}

TEST_P(StoreContractTest, ListFilters) {
  // m-a: approve@t0, decline@t0+1m, review@t0+2m (resolved), review@t0+3m
  // m-b: approve@t0+4m, review@t0+5m
  std::map<std::string, std::int64_t> seq;
  auto add = [&](const char* m, const char* t, Decision d, int minute) {
    seq[t] = insert(make_record(m, t, d, kT0 + minutes(minute))).record.seq;
  };
  add("m-a", "a1", Decision::kApprove, 0);
  add("m-a", "a2", Decision::kDecline, 1);
  add("m-a", "a3", Decision::kReview, 2);
  add("m-a", "a4", Decision::kReview, 3);
  add("m-b", "b1", Decision::kApprove, 4);
  add("m-b", "b2", Decision::kReview, 5);
  ASSERT_OK(
      run(db_->resolve_review("m-a", "a3", domain::Resolution{Decision::kApprove, "ok", "ann", kT0 + minutes(9)})));

  auto ids_of = [&](TransactionQuery q) {
    auto page = run(db_->list_decisions(q));
    EXPECT_TRUE(page.ok());
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& r : page->items) ids.push_back(r.transaction_id);
    }
    return ids;
  };
  using V = std::vector<std::string>;
  TransactionQuery q;
  EXPECT_EQ(ids_of(q), (V{"b2", "b1", "a4", "a3", "a2", "a1"}));

  q = {};
  q.merchant_id = "m-a";
  EXPECT_EQ(ids_of(q), (V{"a4", "a3", "a2", "a1"}));

  q = {};
  q.decision = Decision::kReview;
  EXPECT_EQ(ids_of(q), (V{"b2", "a4", "a3"}));
  q.decision = Decision::kApprove;
  EXPECT_EQ(ids_of(q), (V{"b1", "a1"}));

  q = {};
  q.resolved = false;  // the review queue
  EXPECT_EQ(ids_of(q), (V{"b2", "a4"}));
  q.resolved = true;
  EXPECT_EQ(ids_of(q), (V{"a3"}));
  q.resolved = false;
  q.merchant_id = "m-a";
  q.decision = Decision::kReview;
  EXPECT_EQ(ids_of(q), (V{"a4"}));

  q = {};
  q.since = kT0 + minutes(2);  // inclusive
  EXPECT_EQ(ids_of(q), (V{"b2", "b1", "a4", "a3"}));
  q.until = kT0 + minutes(4);  // exclusive
  EXPECT_EQ(ids_of(q), (V{"a4", "a3"}));
  q.since.reset();
  EXPECT_EQ(ids_of(q), (V{"a4", "a3", "a2", "a1"}));

  q = {};
  q.before_seq = seq["a3"];
  EXPECT_EQ(ids_of(q), (V{"a2", "a1"}));

  q = {};
  q.merchant_id = "m-b";
  q.decision = Decision::kReview;
  q.since = kT0 + minutes(5);
  q.until = kT0 + minutes(6);
  q.resolved = false;
  EXPECT_EQ(ids_of(q), (V{"b2"}));
}

TEST_P(StoreContractTest, ListOldestFirstPagesAscendingWithCursors) {
  std::vector<std::int64_t> inserted;
  for (int i = 0; i < 25; ++i) inserted.push_back(insert(make_record("m-1", "t-" + std::to_string(i))).record.seq);
  std::vector<std::int64_t> listed;
  TransactionQuery q;
  q.order = TransactionQuery::Order::kOldestFirst;
  q.limit = 10;
  std::vector<std::size_t> page_sizes;
  for (;;) {
    auto page = run(db_->list_decisions(q));
    ASSERT_OK(page);
    EXPECT_FALSE(page->next_before_seq.has_value());
    page_sizes.push_back(page->items.size());
    auto s = seqs(page->items);
    listed.insert(listed.end(), s.begin(), s.end());
    if (!page->next_after_seq) break;
    EXPECT_EQ(*page->next_after_seq, page->items.back().seq);
    q.after_seq = page->next_after_seq;
    insert(make_record("m-1", "late-" + std::to_string(page_sizes.size())));  // appended behind the cursor
  }
  // The 25 first, then the ones inserted while paging (they are newer): still ascending, each once.
  ASSERT_GE(listed.size(), 25u);
  EXPECT_EQ(std::vector<std::int64_t>(listed.begin(), listed.begin() + 25), inserted);
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_EQ(std::set<std::int64_t>(listed.begin(), listed.end()).size(), listed.size());
  EXPECT_EQ(listed.size(), 27u);  // 25 + the two inserted after the first and second page
}

TEST_P(StoreContractTest, ListFiltersOnAmountInclusiveAndTheReviewQueueOldestFirst) {
  auto add = [&](const char* t, std::int64_t amount, Decision d) {
    DecisionRecord r = make_record("m-amt", t, d);
    r.amount = amount;
    insert(r);
  };
  add("x1", 100, Decision::kApprove);
  add("x2", 500, Decision::kReview);
  add("x3", 1000, Decision::kReview);
  add("x4", 1001, Decision::kDecline);
  add("x5", 5000, Decision::kReview);
  ASSERT_OK(run(db_->resolve_review("m-amt", "x3", domain::Resolution{Decision::kApprove, "", "ann", kT0})));
  auto ids_of = [&](TransactionQuery q) {
    auto page = run(db_->list_decisions(q));
    EXPECT_TRUE(page.ok());
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const auto& r : page->items) ids.push_back(r.transaction_id);
    }
    return ids;
  };
  using V = std::vector<std::string>;
  TransactionQuery q;
  q.min_amount = 500;
  EXPECT_EQ(ids_of(q), (V{"x5", "x4", "x3", "x2"}));
  q.max_amount = 1000;
  EXPECT_EQ(ids_of(q), (V{"x3", "x2"}));
  q.min_amount.reset();
  EXPECT_EQ(ids_of(q), (V{"x3", "x2", "x1"}));
  q.min_amount = 1001;
  q.max_amount = 1001;
  EXPECT_EQ(ids_of(q), (V{"x4"}));
  q.min_amount = 2000;
  q.max_amount = 1000;
  EXPECT_EQ(ids_of(q), V{});

  q = {};
  q.resolved = false;  // the review queue, oldest first
  q.order = TransactionQuery::Order::kOldestFirst;
  EXPECT_EQ(ids_of(q), (V{"x2", "x5"}));
  q.min_amount = 1000;
  EXPECT_EQ(ids_of(q), (V{"x5"}));
}

TEST_P(StoreContractTest, DecisionStatsCountPerBucketAndRuleMatchesInTheWindow) {
  using std::chrono::seconds;
  auto add = [&](const std::string& t, Decision d, TimePoint at, std::vector<domain::Reason> reasons = {},
                 std::vector<domain::ShadowMatch> shadow = {}) {
    DecisionRecord r = make_record("m-st", t, d, at);
    r.reasons = std::move(reasons);
    r.shadow_matches = std::move(shadow);
    insert(r);
  };
  const domain::Reason high{"high_amount", "rule", "r-high", domain::RuleAction::kDecline};
  const domain::Reason velocity{"velocity", "rule", "r-vel", domain::RuleAction::kReview};
  const domain::Reason expired{"card_expired", "check", "", domain::RuleAction::kDecline};
  const domain::ShadowMatch shadow{"r-new", domain::RuleAction::kDecline, "new_code"};
  add("before", Decision::kDecline, kT0 - std::chrono::milliseconds(1), {high});  // before since
  add("s0a", Decision::kApprove, kT0, {}, {shadow});
  add("s0b", Decision::kDecline, kT0 + seconds(59), {high, velocity}, {shadow});
  add("s1", Decision::kReview, kT0 + seconds(60), {velocity});
  add("s3a", Decision::kDecline, kT0 + seconds(200), {expired});
  add("s3b", Decision::kDecline, kT0 + seconds(239), {high});
  add("s4", Decision::kApprove, kT0 + seconds(250));                // the last, partial bucket
  add("until", Decision::kReview, kT0 + seconds(270), {velocity});  // at until: excluded

  DecisionStatsQuery q{kT0, kT0 + seconds(270), std::chrono::milliseconds(60000)};
  auto stats = run(db_->decision_stats(q));
  ASSERT_OK(stats);
  using B = DecisionStats::Bucket;
  EXPECT_EQ(stats->buckets, (std::vector<B>{{kT0, 1, 1, 0},
                                            {kT0 + seconds(60), 0, 0, 1},
                                            {kT0 + seconds(120), 0, 0, 0},
                                            {kT0 + seconds(180), 0, 2, 0},
                                            {kT0 + seconds(240), 1, 0, 0}}));
  using R = DecisionStats::RuleMatches;
  EXPECT_EQ(stats->rules, (std::vector<R>{{"r-high", "enforce", 2}, {"r-new", "shadow", 2}, {"r-vel", "enforce", 2}}));

  // A window with no decisions: every bucket, all zeros, no rules.
  auto quiet = run(db_->decision_stats(DecisionStatsQuery{kFarFuture, kFarFuture + seconds(600), seconds(300)}));
  ASSERT_OK(quiet);
  EXPECT_EQ(quiet->buckets, (std::vector<B>{{kFarFuture, 0, 0, 0}, {kFarFuture + seconds(300), 0, 0, 0}}));
  EXPECT_TRUE(quiet->rules.empty());
}

TEST_P(StoreContractTest, ListPagingIsStableUnderConcurrentInserts) {
  for (int i = 0; i < 60; ++i) insert(make_record("m-page", "pre-" + std::to_string(i)));

  // A background writer keeps inserting into the same merchant (and another).
  std::mutex mu;
  std::vector<std::int64_t> acked;  // seqs of m-page rows acknowledged so far
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto out = run(db_->insert_decision(make_record(i % 2 ? "m-page" : "m-other", "bg-" + std::to_string(i))));
      if (!out.ok()) continue;
      if (i % 2) {
        std::lock_guard lk(mu);
        acked.push_back(out->record.seq);
      }
    }
  });

  // Rows acknowledged before the first page is requested must all be listed.
  std::set<std::int64_t> existing;
  {
    TransactionQuery everything;
    everything.merchant_id = "m-page";
    everything.limit = 10000;
    auto all = run(db_->list_decisions(everything));
    ASSERT_OK(all);
    for (const auto& r : all->items) existing.insert(r.seq);
    std::lock_guard lk(mu);
    existing.insert(acked.begin(), acked.end());
  }

  std::vector<std::int64_t> listed;
  TransactionQuery q;
  q.merchant_id = "m-page";
  q.limit = 7;
  for (int page_no = 0;; ++page_no) {
    auto page = run(db_->list_decisions(q));
    ASSERT_OK(page);
    for (const auto& r : page->items) {
      EXPECT_EQ(r.merchant_id, "m-page");
      listed.push_back(r.seq);
    }
    // Interleave deterministic inserts between pages too.
    for (int k = 0; k < 2; ++k)
      insert(make_record("m-page", "mid-" + std::to_string(page_no) + "-" + std::to_string(k)));
    if (!page->next_before_seq) break;
    q.before_seq = page->next_before_seq;
  }
  stop = true;
  writer.join();

  for (std::size_t i = 1; i < listed.size(); ++i) {
    ASSERT_LT(listed[i], listed[i - 1]) << "pages overlap or are out of order at " << i;
  }
  std::set<std::int64_t> listed_set(listed.begin(), listed.end());
  for (auto s : existing) EXPECT_TRUE(listed_set.contains(s)) << "row " << s << " skipped by paging";
}

// ------------------------------------------------------------------ reviews

TEST_P(StoreContractTest, ResolveReviewRecordsResolutionAndAudit) {
  insert(make_record("m-1", "rev", Decision::kReview));
  insert(make_record("m-1", "ok", Decision::kApprove));
  domain::Resolution res{Decision::kDecline, "stolen card", "analyst ann", kT0 + minutes(5)};

  auto resolved = run(db_->resolve_review("m-1", "rev", res));
  ASSERT_OK(resolved);
  ASSERT_TRUE(resolved->resolution.has_value());
  EXPECT_EQ(*resolved->resolution, res);
  EXPECT_EQ(resolved->decision, Decision::kReview);  // the decision itself is kept
  auto found = run(db_->find_decision("m-1", "rev"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, *resolved);

  auto audit = all_audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "resolve");
  EXPECT_EQ(audit[0].object_type, "transaction");
  EXPECT_EQ(audit[0].object_id, "m-1/rev");
  EXPECT_EQ(audit[0].actor, "analyst ann");
  json::value before = parse_json(audit[0].before_json);
  json::value after = parse_json(audit[0].after_json);
  EXPECT_TRUE(before.at("resolution").is_null());
  EXPECT_EQ(after.at("resolution"), resolution_to_json(res));

  EXPECT_ERROR(run(db_->resolve_review("m-1", "rev", res)), "not_reviewable");  // only once
  EXPECT_ERROR(run(db_->resolve_review("m-1", "ok", res)), "not_reviewable");   // not a review
  EXPECT_ERROR(run(db_->resolve_review("m-1", "absent", res)), "not_found");
  EXPECT_ERROR(run(db_->resolve_review("m-2", "rev", res)), "not_found");
  EXPECT_EQ(all_audit().size(), 1u);  // failures leave no trace
  found = run(db_->find_decision("m-1", "ok"));
  ASSERT_OK(found);
  EXPECT_FALSE((*found)->resolution.has_value());
}

TEST_P(StoreContractTest, ConcurrentResolutionsOfOneReviewHaveOneWinner) {
  insert(make_record("m-1", "rev", Decision::kReview));
  constexpr int kThreads = 8;
  std::atomic<int> ok{0}, not_reviewable{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = run(db_->resolve_review("m-1", "rev", {Decision::kApprove, "n", "by-" + std::to_string(i), kT0}));
      if (r.ok()) {
        ++ok;
      } else if (r.error().code == "not_reviewable") {
        ++not_reviewable;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(not_reviewable.load(), kThreads - 1);
  EXPECT_EQ(all_audit().size(), 1u);
}

// ------------------------------------------------------------------ labels

Label make_label(const std::string& merchant, const std::string& txid, LabelValue value, TimePoint when,
                 const std::string& by = "analyst ann", std::optional<std::string> reason = std::nullopt) {
  Label l;
  l.merchant_id = merchant;
  l.transaction_id = txid;
  l.value = value;
  l.source = LabelSource::kChargeback;
  l.reason = std::move(reason);
  l.at = when;
  l.by = by;
  return l;
}

TEST_P(StoreContractTest, LabelsKeepAHistoryTheLatestByAtIsCurrentAndEachIsAudited) {
  insert(make_record("m-1", "t-1"));
  auto none = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());

  const Label first = make_label("m-1", "t-1", LabelValue::kFraud, kT0 + minutes(10), "ann", "chargeback 4837");
  auto stored = run(db_->add_label(first));
  ASSERT_OK(stored);
  EXPECT_EQ(*stored, first);
  auto current = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(current);
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ(**current, first);

  // An older `at` posted later joins the history and changes nothing else.
  Label older = make_label("m-1", "t-1", LabelValue::kNotFraud, kT0 + minutes(5), "bob");
  older.source = LabelSource::kCustomerReport;
  ASSERT_OK(run(db_->add_label(older)));
  current = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(current);
  EXPECT_EQ(**current, first);

  // The same `at`: the one stored last wins.
  Label tie = make_label("m-1", "t-1", LabelValue::kNotFraud, kT0 + minutes(10), "cid");
  tie.source = LabelSource::kIssuerAlert;
  ASSERT_OK(run(db_->add_label(tie)));
  current = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(current);
  EXPECT_EQ(**current, tie);

  auto history = run(db_->label_history("m-1", "t-1"));
  ASSERT_OK(history);
  EXPECT_EQ(*history, (std::vector<Label>{older, first, tie}));

  auto audit = all_audit();
  ASSERT_EQ(audit.size(), 3u);  // newest first
  for (const auto& e : audit) {
    EXPECT_EQ(e.action, "label");
    EXPECT_EQ(e.object_type, "transaction");
    EXPECT_EQ(e.object_id, "m-1/t-1");
  }
  EXPECT_EQ(audit[2].actor, "ann");
  EXPECT_TRUE(parse_json(audit[2].before_json).at("label").is_null());
  EXPECT_EQ(parse_json(audit[2].after_json).at("label"), json::value(label_to_json(first)));
  EXPECT_EQ(audit[1].actor, "bob");
  EXPECT_EQ(parse_json(audit[1].before_json).at("label"), json::value(label_to_json(first)));
  EXPECT_EQ(parse_json(audit[1].after_json).at("label"), json::value(label_to_json(first)));
  EXPECT_EQ(parse_json(audit[1].after_json).at("added"), json::value(label_to_json(older)));
  EXPECT_EQ(parse_json(audit[0].after_json).at("label"), json::value(label_to_json(tie)));

  EXPECT_ERROR(run(db_->add_label(make_label("m-1", "absent", LabelValue::kFraud, kT0))), "not_found");
  EXPECT_ERROR(run(db_->add_label(make_label("m-2", "t-1", LabelValue::kFraud, kT0))), "not_found");
  EXPECT_EQ(all_audit().size(), 3u);  // failures leave no trace
  auto absent = run(db_->find_label("m-1", "absent"));
  ASSERT_OK(absent);
  EXPECT_FALSE(absent->has_value());

  reopen();  // durable
  current = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(current);
  EXPECT_EQ(**current, tie);
}

TEST_P(StoreContractTest, LabelBatchStoresTheGoodOnesAndFailsUnknownTransactionsAlone) {
  insert(make_record("m-1", "t-1"));
  insert(make_record("m-1", "t-2"));
  std::vector<Label> batch = {
      make_label("m-1", "t-1", LabelValue::kNotFraud, kT0 + minutes(1)),
      make_label("m-1", "nope", LabelValue::kFraud, kT0),
      make_label("m-1", "t-2", LabelValue::kFraud, kT0 + minutes(2), "ann", "reason with \"quotes\", {braces}"),
      make_label("m-1", "t-1", LabelValue::kFraud, kT0 + minutes(3)),  // later in the batch, later `at`: wins
      make_label("m-1", "t-1", LabelValue::kNotFraud, kT0),            // older: history only
  };
  auto results = run(db_->add_labels(batch));
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().code, "not_found");
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[4].ok());

  auto t1 = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(t1);
  EXPECT_EQ(**t1, batch[3]);
  auto t2 = run(db_->find_label("m-1", "t-2"));
  ASSERT_OK(t2);
  EXPECT_EQ(**t2, batch[2]);
  auto history = run(db_->label_history("m-1", "t-1"));
  ASSERT_OK(history);
  EXPECT_EQ(*history, (std::vector<Label>{batch[4], batch[0], batch[3]}));
  EXPECT_EQ(all_audit().size(), 4u);

  // A large batch: every label stored, in order, whatever the chunking.
  std::vector<Label> many;
  for (int i = 0; i < 2500; ++i) {
    many.push_back(make_label("m-1", i % 2 == 0 ? "t-1" : "t-2",
                              i % 3 == 0 ? LabelValue::kFraud : LabelValue::kNotFraud,
                              kT0 + minutes(10) + std::chrono::milliseconds(i)));
  }
  auto many_results = run(db_->add_labels(many));
  ASSERT_EQ(many_results.size(), many.size());
  for (const auto& r : many_results) EXPECT_TRUE(r.ok());
  t1 = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(t1);
  EXPECT_EQ(**t1, many[2498]);
  t2 = run(db_->find_label("m-1", "t-2"));
  ASSERT_OK(t2);
  EXPECT_EQ(**t2, many[2499]);
  history = run(db_->label_history("m-1", "t-2"));
  ASSERT_OK(history);
  EXPECT_EQ(history->size(), 1u + 1250u);
}

TEST_P(StoreContractTest, ListFiltersOnTheCurrentLabelWithPaging) {
  std::map<std::string, std::int64_t> seq;
  for (const char* t : {"a1", "a2", "a3", "a4", "a5"}) seq[t] = insert(make_record("m-a", t)).record.seq;
  seq["b1"] = insert(make_record("m-b", "b1")).record.seq;
  ASSERT_OK(run(db_->add_label(make_label("m-a", "a1", LabelValue::kFraud, kT0))));
  ASSERT_OK(run(db_->add_label(make_label("m-a", "a2", LabelValue::kNotFraud, kT0))));
  ASSERT_OK(run(db_->add_label(make_label("m-a", "a3", LabelValue::kFraud, kT0))));
  // a4: fraud, then not_fraud (current) ...
  ASSERT_OK(run(db_->add_label(make_label("m-a", "a4", LabelValue::kFraud, kT0))));
  ASSERT_OK(run(db_->add_label(make_label("m-a", "a4", LabelValue::kNotFraud, kT0 + minutes(1)))));
  ASSERT_OK(run(db_->add_label(make_label("m-b", "b1", LabelValue::kFraud, kT0))));

  auto list_all = [&](TransactionQuery q) {
    std::vector<std::string> ids;
    q.limit = 1;
    for (int guard = 0; guard < 20; ++guard) {
      auto page = run(db_->list_decisions(q));
      EXPECT_TRUE(page.ok());
      if (!page.ok()) break;
      EXPECT_EQ(page->labels.size(), page->items.size());
      for (std::size_t i = 0; i < page->items.size(); ++i) {
        ids.push_back(page->items[i].transaction_id);
        const bool labelled = i < page->labels.size() && page->labels[i].has_value();
        if (q.label == TransactionQuery::LabelFilter::kNone) {
          EXPECT_FALSE(labelled);
        } else if (q.label) {
          EXPECT_TRUE(labelled);
          if (labelled) {
            EXPECT_EQ(page->labels[i]->value,
                      *q.label == TransactionQuery::LabelFilter::kFraud ? LabelValue::kFraud : LabelValue::kNotFraud);
            EXPECT_EQ(page->labels[i]->transaction_id, page->items[i].transaction_id);
          }
        }
      }
      if (!page->next_before_seq) break;
      q.before_seq = page->next_before_seq;
    }
    return ids;
  };
  TransactionQuery fraud;
  fraud.label = TransactionQuery::LabelFilter::kFraud;
  EXPECT_EQ(list_all(fraud), (std::vector<std::string>{"b1", "a3", "a1"}));
  fraud.merchant_id = "m-a";
  EXPECT_EQ(list_all(fraud), (std::vector<std::string>{"a3", "a1"}));
  TransactionQuery not_fraud;
  not_fraud.label = TransactionQuery::LabelFilter::kNotFraud;
  EXPECT_EQ(list_all(not_fraud), (std::vector<std::string>{"a4", "a2"}));
  TransactionQuery unlabelled;
  unlabelled.label = TransactionQuery::LabelFilter::kNone;
  EXPECT_EQ(list_all(unlabelled), (std::vector<std::string>{"a5"}));
  unlabelled.merchant_id = "m-b";
  EXPECT_TRUE(list_all(unlabelled).empty());

  // Without the filter every item carries its current label.
  TransactionQuery all;
  all.limit = 100;
  auto page = run(db_->list_decisions(all));
  ASSERT_OK(page);
  ASSERT_EQ(page->items.size(), 6u);
  ASSERT_EQ(page->labels.size(), 6u);
  EXPECT_EQ(page->items[2].transaction_id, "a4");
  ASSERT_TRUE(page->labels[2].has_value());
  EXPECT_EQ(page->labels[2]->value, LabelValue::kNotFraud);
  EXPECT_EQ(page->items[1].transaction_id, "a5");
  EXPECT_FALSE(page->labels[1].has_value());
}

TEST_P(StoreContractTest, ConcurrentLabelsOfOneTransactionKeepTheLatestAt) {
  insert(make_record("m-1", "t-1"));
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::vector<Label> two = {
          make_label("m-1", "t-1", i % 2 ? LabelValue::kFraud : LabelValue::kNotFraud, kT0 + minutes(i),
                     "by-" + std::to_string(i)),
          make_label("m-1", "t-1", LabelValue::kFraud, kT0 - minutes(i + 1), "old-" + std::to_string(i))};
      auto r = run(db_->add_labels(two));
      if (r.size() == 2 && r[0].ok() && r[1].ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  auto current = run(db_->find_label("m-1", "t-1"));
  ASSERT_OK(current);
  ASSERT_TRUE(current->has_value());
  EXPECT_EQ((*current)->by, "by-" + std::to_string(kThreads - 1));
  auto history = run(db_->label_history("m-1", "t-1"));
  ASSERT_OK(history);
  EXPECT_EQ(history->size(), 2u * kThreads);
  EXPECT_EQ(all_audit().size(), 2u * kThreads);
}

// ------------------------------------------------------------------ velocity

TEST_P(StoreContractTest, ScannedVelocityEventsCarryTheirKeyFields) {
  DecisionRecord with_customer = make_full_record("m-1", "v-cust");
  with_customer.decided_at = kT0 + minutes(3);
  insert(with_customer);
  insert(make_record("m-1", "v-old", Decision::kApprove, kT0 - minutes(10)));
  insert(make_record("m-2", "v-1", Decision::kDecline, kT0 + minutes(1)));
  insert(make_record("m-1", "v-edge", Decision::kApprove, kT0));

  auto events = scan(kT0, kFarFuture, 1000);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].at, kT0);
  EXPECT_EQ((*events)[1].at, kT0 + minutes(1));
  EXPECT_EQ((*events)[1].merchant_id, "m-2");
  EXPECT_FALSE((*events)[1].customer_id.has_value());
  EXPECT_FALSE((*events)[1].email.has_value());
  const VelocityEvent& e = (*events)[2];
  EXPECT_EQ(e.at, kT0 + minutes(3));
  EXPECT_EQ(e.amount, with_customer.amount);
  EXPECT_EQ(e.currency, "KWD");
  EXPECT_EQ(e.merchant_id, "m-1");
  EXPECT_EQ(e.card_fingerprint, with_customer.card.fingerprint);
  EXPECT_EQ(e.customer_id, "c-7");
  EXPECT_EQ(e.email, "a@example.com");
  EXPECT_EQ(e.ip, "2001:db8::1");
  EXPECT_EQ(e.device_id, "d-1");

  events = scan(kT0 + minutes(60), kFarFuture, 1000);
  ASSERT_OK(events);
  EXPECT_TRUE(events->empty());
}

// Key fields asked for from a time on: every decision still comes, and each asked-for field of a decision at or
// after its bound is there; before it, a field is absent or right (a back-end may read it anyway).
TEST_P(StoreContractTest, ScannedVelocityEventsLeaveOutOnlyFieldsNotAskedFor) {
  for (int i = 0; i < 6; ++i) {
    DecisionRecord r = make_full_record("m-f", "f-" + std::to_string(i));
    r.decided_at = kT0 + minutes(i);
    r.customer.email = "E" + std::to_string(i) + "@example.com";
    insert(r);
  }
  VelocityScanFields fields;
  fields.needed_from.fill(kT0 + minutes(4));  // merchant, customer, ip, device: the last two only
  fields.needed_from[0] = TimePoint::min();   // card: all
  fields.needed_from[2] = kT0 + minutes(2);   // email: from the third on
  auto events = scan(kT0, kFarFuture, 4, fields);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 6u);
  for (int i = 0; i < 6; ++i) {
    const VelocityEvent& e = (*events)[static_cast<std::size_t>(i)];
    EXPECT_EQ(e.at, kT0 + minutes(i));
    EXPECT_FALSE(e.card_fingerprint.empty()) << i;
    const std::string email = "E" + std::to_string(i) + "@example.com";
    if (i >= 2) {
      EXPECT_EQ(e.email, email) << i;
    } else {
      EXPECT_TRUE(!e.email || *e.email == email) << i;
    }
    if (i >= 4) {
      EXPECT_EQ(e.merchant_id, "m-f") << i;
      EXPECT_EQ(e.customer_id, "c-7") << i;
      EXPECT_TRUE(e.ip.has_value()) << i;
      EXPECT_TRUE(e.device_id.has_value()) << i;
    } else {
      EXPECT_TRUE(e.merchant_id.empty() || e.merchant_id == "m-f") << i;
      EXPECT_TRUE(!e.customer_id || *e.customer_id == "c-7") << i;
    }
  }
}

// 103 decisions over 11 distinct instants (ties on decided_at, inserted out of
// time order): every chunk holds at most `chunk` events, the chunks together
// hold exactly the rows with since <= decided_at < until, each once, and a
// failing sink stops the scan.
TEST_P(StoreContractTest, ScanVelocityEventsStreamsInBoundedChunks) {
  constexpr int kRows = 103;
  std::vector<std::pair<TimePoint, std::int64_t>> rows;  // (decided_at, amount), insertion order
  for (int i = 0; i < kRows; ++i) {
    DecisionRecord r = make_record("m-scan", "s-" + std::to_string(i), Decision::kApprove, kT0 + minutes((i * 7) % 11));
    r.amount = 1000 + i;  // identifies the row in its event
    insert(r);
    rows.emplace_back(r.decided_at, r.amount);
  }
  const TimePoint since = kT0 + minutes(2);  // inclusive
  const TimePoint until = kT0 + minutes(9);  // exclusive
  std::vector<std::pair<TimePoint, std::int64_t>> expected;
  for (const auto& r : rows) {
    if (r.first >= since && r.first < until) expected.push_back(r);
  }
  std::stable_sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_EQ(expected.size(), 65u);  // 7 of the 11 instants

  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{10}, std::size_t{1000}}) {
    std::vector<std::size_t> sizes;
    std::vector<std::pair<TimePoint, std::int64_t>> got;
    Status st = db_->scan_velocity_events(since, until, chunk, VelocityScanFields{},
                                          [&](std::span<const VelocityEvent> part) -> Status {
                                            sizes.push_back(part.size());
                                            for (const auto& e : part) got.emplace_back(e.at, e.amount);
                                            return Ok{};
                                          });
    ASSERT_OK(st);
    std::sort(got.begin(), got.end());
    std::vector<std::pair<TimePoint, std::int64_t>> want = expected;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "chunk " << chunk;
    for (auto n : sizes) {
      EXPECT_GE(n, 1u) << "chunk " << chunk;
      EXPECT_LE(n, chunk) << "chunk " << chunk;
    }
    EXPECT_EQ(sizes.size(), (expected.size() + chunk - 1) / chunk) << "chunk " << chunk;
  }

  int calls = 0;
  Status failed =
      db_->scan_velocity_events(since, until, 5, VelocityScanFields{}, [&](std::span<const VelocityEvent>) -> Status {
        ++calls;
        return make_error("internal", "sink full");
      });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "sink full");
  EXPECT_EQ(calls, 1);
}

TEST_P(StoreContractTest, ScannedDecisionsAreInDecisionOrderWithTheirCurrentLabel) {
  // Inserted out of decision order; two share an instant (then the store's sequence orders them).
  insert(make_record("m-1", "late", Decision::kDecline, kT0 + minutes(5)));
  insert(make_record("m-2", "same-a", Decision::kApprove, kT0 + minutes(2)));
  insert(make_record("m-1", "same-b", Decision::kReview, kT0 + minutes(2)));
  insert(make_record("m-1", "before", Decision::kApprove, kT0 - minutes(1)));
  insert(make_record("m-1", "until", Decision::kApprove, kT0 + minutes(6)));
  insert(make_full_record("m-3", "full"));  // decided at kT0 + 123 ms: every field round-trips
  ASSERT_OK(run(db_->add_label(make_label("m-1", "late", LabelValue::kNotFraud, kT0 + minutes(10), "ann", "x"))));
  ASSERT_OK(run(db_->add_label(make_label("m-1", "late", LabelValue::kFraud, kT0 + minutes(11), "ann", "y"))));
  ASSERT_OK(run(db_->add_label(make_label("m-2", "same-a", LabelValue::kNotFraud, kT0 + minutes(10), "ann", "z"))));

  for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{100}}) {
    std::vector<std::string> ids;
    std::vector<std::optional<bool>> fraud;
    std::size_t chunks = 0;
    Status st = db_->scan_decisions(kT0, kT0 + minutes(6), chunk, [&](std::vector<ReplayedDecision>& part) -> Status {
      ++chunks;
      EXPECT_LE(part.size(), chunk);
      for (const auto& d : part) {
        ids.push_back(d.record.transaction_id);
        fraud.push_back(d.fraud);
        if (d.record.transaction_id == "full") {
          DecisionRecord want = make_full_record("m-3", "full");
          want.seq = d.record.seq;
          EXPECT_EQ(d.record, want);
        }
      }
      return Ok{};
    });
    ASSERT_OK(st);
    EXPECT_EQ(ids, (std::vector<std::string>{"full", "same-a", "same-b", "late"})) << "chunk " << chunk;
    EXPECT_EQ(fraud, (std::vector<std::optional<bool>>{std::nullopt, false, std::nullopt, true})) << "chunk " << chunk;
    EXPECT_EQ(chunks, (ids.size() + chunk - 1) / chunk) << "chunk " << chunk;
  }
  Status failed = db_->scan_decisions(kT0, kT0 + minutes(6), 1, [](std::vector<ReplayedDecision>&) -> Status {
    return make_error("conflict", "cancelled");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "cancelled");
}

TEST_P(StoreContractTest, ATraceIsStoredWithItsDecisionAndReadOnRequest) {
  DecisionRecord traced = make_record("m-1", "traced");
  traced.trace = R"([{"rule_id":"r","rule_version":1,"mode":"enforce","result":"match","values":[]}])";
  insert(traced);
  insert(make_record("m-1", "untraced"));
  auto t = run(db_->find_trace("m-1", "traced"));
  ASSERT_OK(t);
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ(**t, traced.trace);
  auto none = run(db_->find_trace("m-1", "untraced"));
  ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  auto missing = run(db_->find_trace("m-1", "nope"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
  // Reading the decision does not carry the trace (it is read only when asked for).
  auto found = run(db_->find_decision("m-1", "traced"));
  ASSERT_OK(found);
  EXPECT_TRUE((*found)->trace.empty());
}

// ------------------------------------------------------------------ rules

TEST_P(StoreContractTest, RulesVersioningAndAudit) {
  auto v0 = run(db_->rules_version());
  ASSERT_OK(v0);
  EXPECT_EQ(*v0, 0);

  RuleRecord r1 = make_rule("r-1", 20);
  r1.version = 99;  // ignored: a new rule is version 1
  auto created = run(db_->create_rule(r1, "alice"));
  ASSERT_OK(created);
  EXPECT_EQ(created->version, 1);
  EXPECT_EQ(created->created_at, kT0);
  EXPECT_EQ(created->updated_at, kT0);
  ASSERT_OK(run(db_->create_rule(make_rule("r-0", 20), "alice")));
  ASSERT_OK(run(db_->create_rule(make_rule("r-2", 5), "alice")));
  EXPECT_EQ(*run(db_->rules_version()), 3);

  EXPECT_ERROR(run(db_->create_rule(make_rule("r-1"), "alice")), "conflict");
  EXPECT_EQ(*run(db_->rules_version()), 3);

  auto found = run(db_->find_rule("r-1"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, *created);
  auto missing = run(db_->find_rule("nope"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  RuleRecord change = make_rule("r-1", 1);
  change.expression = "amount > 5";
  change.action = domain::RuleAction::kDecline;
  change.mode = RuleMode::kShadow;
  change.created_at = kT0 + minutes(100);  // ignored: created_at is kept
  change.updated_at = kT0 + minutes(30);
  auto replaced = run(db_->replace_rule(change, "bob"));
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->version, 2);
  EXPECT_EQ(replaced->created_at, kT0);
  EXPECT_EQ(replaced->updated_at, kT0 + minutes(30));
  EXPECT_EQ(replaced->expression, "amount > 5");
  EXPECT_EQ(replaced->mode, RuleMode::kShadow);
  EXPECT_EQ(**run(db_->find_rule("r-1")), *replaced);
  EXPECT_EQ(run(db_->replace_rule(change, "bob"))->version, 3);
  EXPECT_EQ(*run(db_->rules_version()), 5);
  EXPECT_ERROR(run(db_->replace_rule(make_rule("absent"), "bob")), "not_found");

  auto listed = run(db_->list_rules());
  ASSERT_OK(listed);
  std::vector<std::string> ids;
  for (const auto& r : *listed) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"r-1", "r-2", "r-0"}));  // priority 1, 5, 20 (r-0 < r-1 by id at 20)

  ASSERT_OK(run(db_->delete_rule("r-2", "carol")));
  EXPECT_EQ(*run(db_->rules_version()), 6);
  EXPECT_FALSE(run(db_->find_rule("r-2"))->has_value());
  EXPECT_ERROR(run(db_->delete_rule("r-2", "carol")), "not_found");
  EXPECT_EQ(*run(db_->rules_version()), 6);

  AuditQuery aq;
  aq.object_type = "rule";
  auto audit = all_audit(aq);
  ASSERT_EQ(audit.size(), 6u);  // 3 creates, 2 updates, 1 delete; newest first
  const AuditEntry& del = audit[0];
  EXPECT_EQ(del.action, "delete");
  EXPECT_EQ(del.object_id, "r-2");
  EXPECT_EQ(del.actor, "carol");
  RuleRecord r2 = make_rule("r-2", 5);
  EXPECT_EQ(parse_json(del.before_json), json::value(rule_to_json(r2)));
  EXPECT_TRUE(parse_json(del.after_json).is_null());

  const AuditEntry& upd = audit[2];  // the first replace
  EXPECT_EQ(upd.action, "update");
  EXPECT_EQ(upd.actor, "bob");
  EXPECT_EQ(parse_json(upd.before_json), json::value(rule_to_json(*created)));
  EXPECT_EQ(parse_json(upd.after_json), json::value(rule_to_json(*replaced)));

  const AuditEntry& create = audit[5];
  EXPECT_EQ(create.action, "create");
  EXPECT_EQ(create.object_id, "r-1");
  EXPECT_EQ(create.actor, "alice");
  EXPECT_TRUE(parse_json(create.before_json).is_null());
  json::value after = parse_json(create.after_json);
  EXPECT_EQ(after, json::value(rule_to_json(*created)));
  EXPECT_EQ(after.at("created_at").as_string(), "2026-11-24T10:00:00.000Z");
  EXPECT_EQ(after.at("action").as_string(), "review");
}

std::vector<std::string> rule_ids(const std::vector<RuleRecord>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.id);
  return out;
}

TEST_P(StoreContractTest, ReplaceRuleSetAtAStaleVersionChangesNothing) {
  ASSERT_OK(run(db_->create_rule(make_rule("r-1"), "alice")));
  ASSERT_OK(run(db_->create_rule(make_rule("r-2"), "alice")));
  auto before = run(db_->list_rules());
  ASSERT_OK(before);
  const std::size_t audit_before = all_audit().size();
  RuleRecord changed = make_rule("r-1");
  changed.expression = "amount > 5";
  for (std::int64_t stale : {std::int64_t{1}, std::int64_t{3}, std::int64_t{0}}) {
    EXPECT_ERROR(run(db_->replace_rule_set({changed, make_rule("r-3")}, stale, "bob", kT0 + minutes(1))),
                 "version_mismatch");
  }
  EXPECT_EQ(*run(db_->rules_version()), 2);
  EXPECT_EQ(*run(db_->list_rules()), *before);
  EXPECT_EQ(all_audit().size(), audit_before);
  // Repeated ids are refused before anything is written.
  EXPECT_ERROR(run(db_->replace_rule_set({make_rule("r-9"), make_rule("r-9")}, 2, "bob", kT0)), "validation_failed");
  EXPECT_EQ(*run(db_->list_rules()), *before);
  EXPECT_EQ(*run(db_->rules_version()), 2);
}

TEST_P(StoreContractTest, ReplaceRuleSetCreatesUpdatesDeletesInOneBumpWithOneAuditEntryEach) {
  auto kept = run(db_->create_rule(make_rule("keep", 5), "alice"));
  ASSERT_OK(kept);
  auto old_upd = run(db_->create_rule(make_rule("upd", 7), "alice"));
  ASSERT_OK(old_upd);
  auto old_del = run(db_->create_rule(make_rule("del", 9), "alice"));
  ASSERT_OK(old_del);
  ASSERT_OK(run(db_->replace_rule(make_rule("upd", 7), "alice")));  // upd at version 2
  ASSERT_EQ(*run(db_->rules_version()), 4);
  const std::size_t audit_before = all_audit().size();

  const TimePoint now = kT0 + minutes(10);
  RuleRecord same = make_rule("keep", 5);
  same.version = 42;                     // ignored
  same.updated_at = kT0 + minutes(99);   // ignored: unchanged content keeps the stored rule
  RuleRecord upd = make_rule("upd", 1);  // the priority differs
  upd.mode = RuleMode::kShadow;
  RuleRecord fresh = make_rule("new", 3);
  fresh.action = domain::RuleAction::kDecline;
  auto change = run(db_->replace_rule_set({fresh, upd, same}, 4, "bob", now));
  ASSERT_OK(change);
  EXPECT_EQ(change->rules_version, 5);
  EXPECT_EQ(*run(db_->rules_version()), 5);
  EXPECT_EQ(change->created, (std::vector<std::string>{"new"}));
  EXPECT_EQ(change->updated, (std::vector<std::string>{"upd"}));
  EXPECT_EQ(change->deleted, (std::vector<std::string>{"del"}));
  auto listed = run(db_->list_rules());
  ASSERT_OK(listed);
  EXPECT_EQ(change->rules, *listed);
  EXPECT_EQ(rule_ids(*listed), (std::vector<std::string>{"upd", "new", "keep"}));  // priority 1, 3, 5

  const RuleRecord& stored_upd = (*listed)[0];
  EXPECT_EQ(stored_upd.version, 3);
  EXPECT_EQ(stored_upd.priority, 1);
  EXPECT_EQ(stored_upd.mode, RuleMode::kShadow);
  EXPECT_EQ(stored_upd.created_at, kT0);
  EXPECT_EQ(stored_upd.updated_at, now);
  const RuleRecord& stored_new = (*listed)[1];
  EXPECT_EQ(stored_new.version, 1);
  EXPECT_EQ(stored_new.action, domain::RuleAction::kDecline);
  EXPECT_EQ(stored_new.created_at, now);
  EXPECT_EQ(stored_new.updated_at, now);
  EXPECT_EQ((*listed)[2], *kept);  // untouched: version 1, times kept

  auto audit = all_audit();
  ASSERT_EQ(audit.size(), audit_before + 3);  // newest first: the three of the change
  std::map<std::string, AuditEntry> by_id;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(audit[i].actor, "bob");
    EXPECT_EQ(audit[i].object_type, "rule");
    by_id[audit[i].object_id] = audit[i];
  }
  ASSERT_EQ(by_id.size(), 3u);
  EXPECT_EQ(by_id["del"].action, "delete");
  EXPECT_EQ(parse_json(by_id["del"].before_json), json::value(rule_to_json(*old_del)));
  EXPECT_TRUE(parse_json(by_id["del"].after_json).is_null());
  EXPECT_EQ(by_id["upd"].action, "update");
  RuleRecord upd_v2 = *old_upd;
  upd_v2.version = 2;
  EXPECT_EQ(parse_json(by_id["upd"].before_json), json::value(rule_to_json(upd_v2)));
  EXPECT_EQ(parse_json(by_id["upd"].after_json), json::value(rule_to_json(stored_upd)));
  EXPECT_EQ(by_id["new"].action, "create");
  EXPECT_TRUE(parse_json(by_id["new"].before_json).is_null());
  EXPECT_EQ(parse_json(by_id["new"].after_json), json::value(rule_to_json(stored_new)));

  // The set survives a reopen (it was committed).
  reopen();
  EXPECT_EQ(*run(db_->list_rules()), change->rules);
  EXPECT_EQ(*run(db_->rules_version()), 5);
}

TEST_P(StoreContractTest, ReplaceRuleSetWithNothingChangedDoesNotBump) {
  ASSERT_OK(run(db_->create_rule(make_rule("a", 1), "alice")));
  ASSERT_OK(run(db_->create_rule(make_rule("b", 2), "alice")));
  auto before = run(db_->list_rules());
  ASSERT_OK(before);
  const std::size_t audit_before = all_audit().size();
  auto change = run(db_->replace_rule_set({make_rule("b", 2), make_rule("a", 1)}, 2, "bob", kT0 + minutes(5)));
  ASSERT_OK(change);
  EXPECT_EQ(change->rules_version, 2);
  EXPECT_TRUE(change->created.empty());
  EXPECT_TRUE(change->updated.empty());
  EXPECT_TRUE(change->deleted.empty());
  EXPECT_EQ(change->rules, *before);
  EXPECT_EQ(*run(db_->rules_version()), 2);
  EXPECT_EQ(*run(db_->list_rules()), *before);
  EXPECT_EQ(all_audit().size(), audit_before);

  // An empty set deletes every rule, still in one bump.
  auto emptied = run(db_->replace_rule_set({}, 2, "bob", kT0 + minutes(6)));
  ASSERT_OK(emptied);
  EXPECT_EQ(emptied->rules_version, 3);
  EXPECT_EQ(emptied->deleted, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(emptied->rules.empty());
  EXPECT_TRUE(run(db_->list_rules())->empty());
  EXPECT_EQ(all_audit().size(), audit_before + 2);
}

// ------------------------------------------------------------------ lists

json::value newest_after_json(const std::vector<AuditEntry>& audit) {
  return audit.empty() ? json::value() : parse_json(audit.front().after_json);
}

TEST_P(StoreContractTest, ListReplaceAddRemoveWithDiffAudit) {
  auto lv = [&] { return *run(db_->lists_version()); };
  EXPECT_EQ(lv(), 0);
  auto missing = run(db_->list_entries("blocked_ips"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  auto created = run(db_->replace_list("blocked_ips", {"b", "a", "a", "c"}, "alice"));
  ASSERT_OK(created);
  EXPECT_EQ(created->name, "blocked_ips");
  EXPECT_EQ(created->entry_count, 3);
  EXPECT_EQ(lv(), 1);
  EXPECT_EQ(**run(db_->list_entries("blocked_ips")), (std::vector<std::string>{"a", "b", "c"}));

  AuditQuery aq;
  aq.object_type = "list";
  aq.object_id = "blocked_ips";
  auto audit = all_audit(aq);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].action, "replace");
  EXPECT_EQ(audit[0].actor, "alice");
  json::value diff = parse_json(audit[0].after_json);
  EXPECT_EQ(json_strings(diff.at("added")), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(json_strings(diff.at("removed")).empty());

  auto replaced = run(db_->replace_list("blocked_ips", {"d", "c"}, "bob"));
  ASSERT_OK(replaced);
  EXPECT_EQ(replaced->entry_count, 2);
  EXPECT_EQ(**run(db_->list_entries("blocked_ips")), (std::vector<std::string>{"c", "d"}));
  diff = newest_after_json(all_audit(aq));
  EXPECT_EQ(json_strings(diff.at("added")), (std::vector<std::string>{"d"}));
  EXPECT_EQ(json_strings(diff.at("removed")), (std::vector<std::string>{"a", "b"}));

  auto added = run(db_->add_list_entries("blocked_ips", {"f", "d", "e", "f"}, "carol"));
  ASSERT_OK(added);
  EXPECT_EQ(added->entry_count, 4);
  EXPECT_EQ(**run(db_->list_entries("blocked_ips")), (std::vector<std::string>{"c", "d", "e", "f"}));
  audit = all_audit(aq);
  EXPECT_EQ(audit[0].action, "add_entries");
  diff = parse_json(audit[0].after_json);
  EXPECT_EQ(json_strings(diff.at("added")), (std::vector<std::string>{"f", "e"}));  // only the new ones
  EXPECT_TRUE(json_strings(diff.at("removed")).empty());

  auto removed = run(db_->remove_list_entry("blocked_ips", "e", "dave"));
  ASSERT_OK(removed);
  EXPECT_EQ(removed->entry_count, 3);
  audit = all_audit(aq);
  EXPECT_EQ(audit[0].action, "remove_entry");
  EXPECT_EQ(audit[0].actor, "dave");
  diff = parse_json(audit[0].after_json);
  EXPECT_TRUE(json_strings(diff.at("added")).empty());
  EXPECT_EQ(json_strings(diff.at("removed")), (std::vector<std::string>{"e"}));
  EXPECT_EQ(lv(), 4);

  EXPECT_ERROR(run(db_->remove_list_entry("blocked_ips", "e", "dave")), "not_found");
  EXPECT_ERROR(run(db_->remove_list_entry("no_such_list", "e", "dave")), "not_found");
  EXPECT_EQ(lv(), 4);
  EXPECT_EQ(all_audit(aq).size(), 4u);
  EXPECT_FALSE(run(db_->list_entries("no_such_list"))->has_value());

  // A list is created by its first add too; an emptied list still exists.
  ASSERT_OK(run(db_->add_list_entries("emails", {"x@example.com"}, "alice")));
  ASSERT_OK(run(db_->remove_list_entry("emails", "x@example.com", "alice")));
  auto emails = run(db_->list_entries("emails"));
  ASSERT_OK(emails);
  ASSERT_TRUE(emails->has_value());
  EXPECT_TRUE((*emails)->empty());
  ASSERT_OK(run(db_->replace_list("a_empty", {}, "alice")));

  auto lists = run(db_->list_lists());
  ASSERT_OK(lists);
  ASSERT_EQ(lists->size(), 3u);
  EXPECT_EQ((*lists)[0].name, "a_empty");
  EXPECT_EQ((*lists)[0].entry_count, 0);
  EXPECT_EQ((*lists)[1].name, "blocked_ips");
  EXPECT_EQ((*lists)[1].entry_count, 3);
  EXPECT_EQ((*lists)[2].name, "emails");
  EXPECT_EQ((*lists)[2].entry_count, 0);
  EXPECT_GT((*lists)[1].updated_at, TimePoint{});
  EXPECT_EQ(lv(), 7);
}

TEST_P(StoreContractTest, LargeListReplaceDiffs) {
  constexpr int kN = 200'000;
  std::vector<std::string> entries;
  entries.reserve(kN);
  for (int i = 0; i < kN; ++i) entries.push_back("198.51." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  auto start = std::chrono::steady_clock::now();
  auto first = run(db_->replace_list("big", entries, "alice"));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_OK(first);
  EXPECT_EQ(first->entry_count, kN);
  std::cout << "[ info ] replace_list of " << kN
            << " new entries: " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms\n";

  // Replace a tenth of it.
  for (int i = 0; i < kN / 10; ++i) entries[i] = "203.0.113.x" + std::to_string(i);
  start = std::chrono::steady_clock::now();
  auto second = run(db_->replace_list("big", entries, "alice"));
  elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_OK(second);
  EXPECT_EQ(second->entry_count, kN);
  std::cout << "[ info ] replace_list of " << kN
            << " entries, 10% changed: " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
            << " ms\n";

  auto stored = run(db_->list_entries("big"));
  ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(**stored, entries);

  AuditQuery aq;
  aq.object_id = "big";
  aq.limit = 1;
  auto audit = run(db_->list_audit(aq));
  ASSERT_OK(audit);
  ASSERT_EQ(audit->items.size(), 1u);
  json::value diff = parse_json(audit->items[0].after_json);
  // The counts are exact; the entries themselves are a bounded sample.
  EXPECT_EQ(diff.at("added_count").as_int64(), kN / 10);
  EXPECT_EQ(diff.at("removed_count").as_int64(), kN / 10);
  EXPECT_EQ(diff.at("added").as_array().size(), ListStore::kAuditSampleEntries);
  EXPECT_EQ(diff.at("removed").as_array().size(), ListStore::kAuditSampleEntries);
  EXPECT_TRUE(diff.at("truncated").as_bool());
}

std::string sha256_hex(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr), 1);
  return hex_encode(md, len);
}

// The digest the contract specifies: the sorted entries joined by '\n'.
std::string content_digest(std::vector<std::string> entries) {
  std::sort(entries.begin(), entries.end());
  std::string joined;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) joined += '\n';
    joined += entries[i];
  }
  return sha256_hex(joined);
}

std::vector<std::string> numbered(const std::string& prefix, int n, int from = 0) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = from; i < from + n; ++i) {
    std::string num = std::to_string(i);
    out.push_back(prefix + std::string(num.size() < 7 ? 7 - num.size() : 0, '0') + num);
  }
  return out;
}

TEST_P(StoreContractTest, ListAuditEntriesAreBounded) {
  constexpr std::size_t kSample = ListStore::kAuditSampleEntries;
  // 5,000 entries, given in reverse order.
  std::vector<std::string> first = numbered("e-", 5000);
  std::reverse(first.begin(), first.end());
  ASSERT_OK(run(db_->replace_list("big", first, "alice")));

  AuditQuery aq;
  aq.object_id = "big";
  auto audit = all_audit(aq);
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_TRUE(parse_json(audit[0].before_json).is_null());  // the list did not exist
  json::value after = parse_json(audit[0].after_json);
  EXPECT_EQ(after.at("added_count").as_int64(), 5000);
  EXPECT_EQ(after.at("removed_count").as_int64(), 0);
  EXPECT_EQ(after.at("entry_count").as_int64(), 5000);
  EXPECT_TRUE(after.at("truncated").as_bool());
  EXPECT_EQ(after.at("sha256").as_string(), content_digest(first));
  std::vector<std::string> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(json_strings(after.at("added")), std::vector<std::string>(sorted.begin(), sorted.begin() + kSample));
  EXPECT_TRUE(json_strings(after.at("removed")).empty());
  EXPECT_LT(audit[0].after_json.size(), 8u * 1024);  // 5,000 entries would be ~50 KB

  // Replace: 1,000 removed, 2,000 added.
  std::vector<std::string> second(sorted.begin() + 1000, sorted.end());
  for (auto& e : numbered("f-", 2000)) second.push_back(e);
  ASSERT_OK(run(db_->replace_list("big", second, "bob")));
  audit = all_audit(aq);
  ASSERT_EQ(audit.size(), 2u);
  json::value before = parse_json(audit[0].before_json);
  EXPECT_EQ(before.at("entry_count").as_int64(), 5000);
  EXPECT_EQ(before.at("sha256").as_string(), content_digest(first));
  after = parse_json(audit[0].after_json);
  EXPECT_EQ(after.at("added_count").as_int64(), 2000);
  EXPECT_EQ(after.at("removed_count").as_int64(), 1000);
  EXPECT_EQ(after.at("entry_count").as_int64(), 6000);
  EXPECT_TRUE(after.at("truncated").as_bool());
  EXPECT_EQ(after.at("sha256").as_string(), content_digest(second));
  EXPECT_EQ(json_strings(after.at("added")), numbered("f-", static_cast<int>(kSample)));
  EXPECT_EQ(json_strings(after.at("removed")), std::vector<std::string>(sorted.begin(), sorted.begin() + kSample));

  // Small changes are complete, not truncated, and carry the digest too.
  ASSERT_OK(run(db_->add_list_entries("big", {"g-2", "g-1", "f-0000001"}, "carol")));
  std::vector<std::string> third = second;
  third.push_back("g-2");
  third.push_back("g-1");
  after = parse_json(all_audit(aq)[0].after_json);
  EXPECT_EQ(json_strings(after.at("added")), (std::vector<std::string>{"g-2", "g-1"}));
  EXPECT_EQ(after.at("added_count").as_int64(), 2);
  EXPECT_EQ(after.at("entry_count").as_int64(), 6002);
  EXPECT_FALSE(after.at("truncated").as_bool());
  EXPECT_EQ(after.at("sha256").as_string(), content_digest(third));

  ASSERT_OK(run(db_->remove_list_entry("big", "g-1", "dave")));
  third.pop_back();
  after = parse_json(all_audit(aq)[0].after_json);
  EXPECT_EQ(json_strings(after.at("removed")), (std::vector<std::string>{"g-1"}));
  EXPECT_EQ(after.at("removed_count").as_int64(), 1);
  EXPECT_EQ(after.at("entry_count").as_int64(), 6001);
  EXPECT_EQ(after.at("sha256").as_string(), content_digest(third));
  EXPECT_EQ(**run(db_->list_entries("big")), [&] {
    auto v = third;
    std::sort(v.begin(), v.end());
    return v;
  }());
}

// Every page of a prefix (limit `limit`), following the keyset cursor; fails
// the test on an error or a list that vanished.
std::vector<std::string> page_through(Runner& runner, Database& db, const std::string& name, const std::string& prefix,
                                      int limit, std::int64_t expected_total) {
  std::vector<std::string> out;
  ListEntriesQuery q{name, prefix, std::nullopt, limit};
  for (int pages = 0; pages < 100000; ++pages) {
    auto page = runner.run(db.list_entries_page(q));
    EXPECT_TRUE(page.ok()) << (page.ok() ? "" : page.error().message);
    if (!page.ok() || !page->has_value()) return out;
    EXPECT_EQ((*page)->total, expected_total);
    EXPECT_LE(static_cast<int>((*page)->items.size()), limit);
    out.insert(out.end(), (*page)->items.begin(), (*page)->items.end());
    if (!(*page)->more) return out;
    EXPECT_FALSE((*page)->items.empty());
    if ((*page)->items.empty()) return out;
    q.after = (*page)->items.back();
  }
  ADD_FAILURE() << "too many pages";
  return out;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& sorted, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : sorted) {
    if (e.compare(0, prefix.size(), prefix) == 0) out.push_back(e);
  }
  return out;
}

TEST_P(StoreContractTest, ListEntriesPagesAreSortedPrefixFilteredAndKeysetPaged) {
  auto missing = run(db_->list_entries_page(ListEntriesQuery{"nope", "", std::nullopt, 10}));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());

  // Prefix edges: bytewise order, case-sensitive, multi-byte code points, the
  // largest code point right after a prefix, and the code point after a prefix's last.
  const std::vector<std::string> entries = {"a",
                                            "ab",
                                            "abc",
                                            "ab\xF4\x8F\xBF\xBF",
                                            "ab\xF4\x8F\xBF\xBFz",
                                            "ac",
                                            "Ab",
                                            "b",
                                            "\xC3\xA9t\xC3\xA9",
                                            "\xC3\xA9",
                                            "\xC3\xAA",
                                            "ab ",
                                            "\xED\x9F\xBF",
                                            "\xED\x9F\xBFx",
                                            "\xEE\x80\x80",
                                            "zz"};
  ASSERT_OK(run(db_->replace_list("edges", entries, "alice")));
  std::vector<std::string> sorted = entries;
  std::sort(sorted.begin(), sorted.end());
  const auto total = static_cast<std::int64_t>(entries.size());
  for (const std::string prefix :
       {"", "a", "ab", "abc", "A", "\xC3\xA9", "ab\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "zz", "zzz", "q"}) {
    for (int limit : {1, 2, 3, 50}) {
      EXPECT_EQ(page_through(*runner_, *db_, "edges", prefix, limit, total), with_prefix(sorted, prefix))
          << "prefix " << prefix << " limit " << limit;
    }
  }

  // An empty list exists and has no entries.
  ASSERT_OK(run(db_->replace_list("empty", {}, "alice")));
  auto empty = run(db_->list_entries_page(ListEntriesQuery{"empty", "", std::nullopt, 10}));
  ASSERT_OK(empty);
  ASSERT_TRUE(empty->has_value());
  EXPECT_TRUE((*empty)->items.empty());
  EXPECT_FALSE((*empty)->more);
  EXPECT_EQ((*empty)->total, 0);
}

// A list made of several live generations (a large add publishes one more)
// pages as one sorted set.
TEST_P(StoreContractTest, ListEntriesPagesMergeEveryLiveGeneration) {
  std::vector<std::string> first, second;
  for (int i = 0; i < 12000; ++i) (i % 2 == 0 ? first : second).push_back("e" + std::to_string(100000 + i));
  ASSERT_OK(run(db_->replace_list("big", first, "alice")));
  ASSERT_OK(run(db_->add_list_entries("big", second, "alice")));  // 6,000: a staged generation on every back-end
  ASSERT_OK(run(db_->add_list_entries("big", {"e1000005x", "f"}, "alice")));  // a small add in place
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.push_back("e1000005x");
  all.push_back("f");
  std::sort(all.begin(), all.end());
  const auto total = static_cast<std::int64_t>(all.size());
  EXPECT_EQ(page_through(*runner_, *db_, "big", "", 500, total), all);
  EXPECT_EQ(page_through(*runner_, *db_, "big", "e10000", 7, total), with_prefix(all, "e10000"));
  EXPECT_EQ(page_through(*runner_, *db_, "big", "e1000005", 3, total), with_prefix(all, "e1000005"));
  auto one = run(db_->list_entries_page(ListEntriesQuery{"big", "e1", std::string("e100011"), 2}));
  ASSERT_OK(one);
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->items, (std::vector<std::string>{"e100012", "e100013"}));
  EXPECT_TRUE((*one)->more);
}

TEST_P(StoreContractTest, FindListSummarisesOneList) {
  auto missing = run(db_->find_list("nope"));
  ASSERT_OK(missing);
  EXPECT_FALSE(missing->has_value());
  auto created = run(db_->replace_list("l", {"x", "y"}, "alice"));
  ASSERT_OK(created);
  auto found = run(db_->find_list("l"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, *created);
  EXPECT_EQ((*found)->entry_count, 2);
  auto after_add = run(db_->add_list_entries("l", {"z"}, "alice"));
  ASSERT_OK(after_add);
  EXPECT_EQ(**run(db_->find_list("l")), *after_add);
  EXPECT_EQ((*run(db_->find_list("l")))->entry_count, 3);
}

// A reader never sees a list half replaced: while a 200,000-entry replace of
// a 100,000-entry list runs, every read (entries, summary, version) answers
// the old list or the new one.
TEST_P(StoreContractTest, LargeReplaceIsAtomicToConcurrentReaders) {
  const std::vector<std::string> old_entries = numbered("old-", 100'000);
  const std::vector<std::string> new_entries = numbered("new-", 200'000);
  ASSERT_OK(run(db_->replace_list("atomic", old_entries, "alice")));
  const std::int64_t v0 = *run(db_->lists_version());

  Database* db = db_.get();
  std::atomic<bool> replace_done{false};
  std::atomic<bool> replace_ok{false};
  runner_->spawn([&, db]() -> Task<void> {
    auto r = co_await db->replace_list("atomic", new_entries, "bob");
    replace_ok = r.ok() && r->entry_count == 200'000;
    replace_done = true;
  });

  std::atomic<int> readers_running{2};
  std::atomic<int> reads_during{0};  // reads begun and ended while the replace ran
  std::atomic<int> bad_reads{0};
  std::mutex mu;
  std::set<std::size_t> counts_seen;
  for (int r = 0; r < 2; ++r) {
    runner_->spawn([&, db]() -> Task<void> {
      while (!replace_done.load()) {
        auto entries = co_await db->list_entries("atomic");
        auto summary = co_await db->find_list("atomic");
        auto version = co_await db->lists_version();
        const bool during = !replace_done.load();
        bool good = entries.ok() && entries->has_value() && summary.ok() && summary->has_value() && version.ok();
        if (good) {
          const auto& e = **entries;
          const bool is_old = e.size() == 100'000 && e.front() == old_entries.front() && e.back() == old_entries.back();
          const bool is_new = e.size() == 200'000 && e.front() == new_entries.front() && e.back() == new_entries.back();
          const std::int64_t count = (*summary)->entry_count;
          good = (is_old || is_new) && (count == 100'000 || count == 200'000) && (*version == v0 || *version == v0 + 1);
          std::lock_guard lk(mu);
          counts_seen.insert(e.size());
        }
        if (!good) ++bad_reads;
        if (during) ++reads_during;
      }
      --readers_running;
    });
  }
  ASSERT_TRUE(wait_until([&] { return replace_done.load() && readers_running.load() == 0; }));
  EXPECT_TRUE(replace_ok.load());
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_GT(reads_during.load(), 0);
  for (auto n : counts_seen) EXPECT_TRUE(n == 100'000 || n == 200'000) << n;
  std::cout << "[ info ] " << reads_during.load() << " reads during the replace saw sizes:";
  for (auto n : counts_seen) std::cout << " " << n;
  std::cout << "\n";
  auto final_entries = run(db_->list_entries("atomic"));
  ASSERT_OK(final_entries);
  EXPECT_EQ(**final_entries, new_entries);
  EXPECT_EQ(*run(db_->lists_version()), v0 + 1);
}

// Decisions are not held behind a large list change: while a 200,000-entry
// replace runs, waves of 50 concurrent decision inserts keep completing
// (the replace is staged in bounded transactions that decisions' commits
// interleave with). Mostly ordering: the first wave, started right after the
// replace, completes entirely before the replace does, and further waves
// complete while it still runs. One relative timing: no wave waits anywhere
// near as long as the replace takes (a replace written in one transaction
// would hold a wave for most of its duration).
TEST_P(StoreContractTest, DecisionInsertsCompleteWhileALargeReplaceRuns) {
  using Clock = std::chrono::steady_clock;
  const std::vector<std::string> entries = numbered("ip-", 200'000);
  Database* db = db_.get();
  std::atomic<bool> replace_done{false};
  std::atomic<bool> replace_ok{false};
  const Clock::time_point replace_start = Clock::now();
  Clock::duration replace_took{};
  runner_->spawn([&, db]() -> Task<void> {
    auto r = co_await db->replace_list("big", entries, "alice");
    replace_took = Clock::now() - replace_start;
    replace_ok = r.ok();
    replace_done = true;
  });
  Clock::duration longest_wave{};

  constexpr int kWave = 50;
  int waves_before_done = 0;
  int first_wave_before_done = -1;
  int total_inserted = 0;
  for (int wave = 0; wave == 0 || !replace_done.load(); ++wave) {
    const Clock::time_point wave_start = Clock::now();
    std::atomic<int> finished{0};
    std::atomic<int> before_done{0};
    std::atomic<int> inserted{0};
    for (int i = 0; i < kWave; ++i) {
      runner_->spawn([&, db, wave, i]() -> Task<void> {
        auto out =
            co_await db->insert_decision(make_record("m-w", "w" + std::to_string(wave) + "-" + std::to_string(i)));
        if (!replace_done.load()) ++before_done;
        if (out.ok() && out->inserted) ++inserted;
        ++finished;
      });
    }
    ASSERT_TRUE(wait_until([&] { return finished.load() == kWave; }));
    EXPECT_EQ(inserted.load(), kWave);
    total_inserted += inserted.load();
    if (wave == 0) first_wave_before_done = before_done.load();
    if (before_done.load() == kWave) ++waves_before_done;
    longest_wave = std::max(longest_wave, Clock::now() - wave_start);  // every wave began before the replace ended
  }
  ASSERT_TRUE(wait_until([&] { return replace_done.load(); }));
  EXPECT_TRUE(replace_ok.load());
  EXPECT_EQ(first_wave_before_done, kWave);
  // Whole waves finishing before the replace did is what shows decisions were not held behind it; counted, not
  // timed (the durations are printed below for the reader, never asserted: the machine is shared).
  EXPECT_GE(waves_before_done, 3);
  auto ms = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "[ info ] " << waves_before_done << " waves of " << kWave
            << " inserts completed while a 200,000-entry replace ran (" << ms(replace_took) << " ms); the slowest took "
            << ms(longest_wave) << " ms\n";
  TransactionQuery q;
  q.merchant_id = "m-w";
  q.limit = 10000;
  auto page = run(db_->list_decisions(q));
  ASSERT_OK(page);
  EXPECT_EQ(static_cast<int>(page->items.size()), total_inserted);
  EXPECT_EQ((*run(db_->find_list("big")))->entry_count, 200'000);
}

// ------------------------------------------------------------------ audit

TEST_P(StoreContractTest, AuditPagesNewestFirstWithFilters) {
  TimePoint before_all = domain::now_millis();
  for (int i = 0; i < 12; ++i) ASSERT_OK(run(db_->create_rule(make_rule("r-" + std::to_string(i)), "alice")));
  ASSERT_OK(run(db_->replace_list("l", {"x"}, "bob")));
  ASSERT_OK(run(db_->replace_rule(make_rule("r-3"), "bob")));

  std::vector<std::int64_t> ids;
  AuditQuery q;
  q.limit = 5;
  std::vector<std::size_t> sizes;
  for (;;) {
    auto page = run(db_->list_audit(q));
    ASSERT_OK(page);
    sizes.push_back(page->items.size());
    for (const auto& e : page->items) ids.push_back(e.id);
    if (!page->next_before_id) break;
    EXPECT_EQ(*page->next_before_id, page->items.back().id);
    q.before_id = page->next_before_id;
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{5, 5, 4}));
  EXPECT_TRUE(std::is_sorted(ids.rbegin(), ids.rend()));
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 14u);

  AuditQuery by_type;
  by_type.object_type = "list";
  auto lists = all_audit(by_type);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0].object_id, "l");
  EXPECT_GE(lists[0].at, before_all);
  EXPECT_LE(lists[0].at, domain::now_millis());

  AuditQuery by_id;
  by_id.object_type = "rule";
  by_id.object_id = "r-3";
  auto r3 = all_audit(by_id);
  ASSERT_EQ(r3.size(), 2u);
  EXPECT_EQ(r3[0].action, "update");
  EXPECT_EQ(r3[1].action, "create");

  AuditQuery since;
  since.since = before_all;
  EXPECT_EQ(all_audit(since).size(), 14u);
  since.since = domain::now_millis() + minutes(1);
  EXPECT_TRUE(all_audit(since).empty());
}

// Pages are bounded by size as well as count: entries are added while their
// before/after JSON fits in max_bytes (at least one entry a page), and the
// cursor continues where the page stopped.
TEST_P(StoreContractTest, AuditPagesBySize) {
  for (int i = 0; i < 9; ++i) {
    RuleRecord r = make_rule("r-" + std::to_string(i));
    r.expression = "amount > " + std::string(static_cast<std::size_t>(100 + 150 * (i % 3)), '9');  // unequal sizes
    ASSERT_OK(run(db_->create_rule(r, "alice")));
  }
  const std::vector<AuditEntry> all = all_audit();
  ASSERT_EQ(all.size(), 9u);
  auto size_of = [](const AuditEntry& e) { return e.before_json.size() + e.after_json.size(); };
  const std::size_t max_bytes = size_of(all[0]) + size_of(all[1]) + size_of(all[2]) / 2;  // 2 fit, not 3

  for (std::size_t budget : {std::size_t{1}, max_bytes, 3 * max_bytes}) {
    std::vector<std::int64_t> ids;
    std::vector<std::size_t> page_sizes;
    AuditQuery q;
    q.limit = 4;
    q.max_bytes = budget;
    for (int pages = 0; pages < 20; ++pages) {
      auto page = run(db_->list_audit(q));
      ASSERT_OK(page);
      ASSERT_FALSE(page->items.empty());
      std::size_t bytes = 0;
      for (const auto& e : page->items) {
        ids.push_back(e.id);
        bytes += size_of(e);
      }
      page_sizes.push_back(page->items.size());
      EXPECT_LE(page->items.size(), 4u);
      if (page->items.size() > 1) {
        EXPECT_LE(bytes, budget) << "budget " << budget;
      }
      if (!page->next_before_id) break;
      EXPECT_EQ(*page->next_before_id, page->items.back().id);
      // Maximal: the next entry would not have fitted (unless the count limit stopped the page).
      const std::size_t next = ids.size();
      ASSERT_LT(next, all.size());
      if (page->items.size() < 4) {
        EXPECT_GT(bytes + size_of(all[next]), budget) << "budget " << budget;
      }
      q.before_id = page->next_before_id;
    }
    std::vector<std::int64_t> expected;
    for (const auto& e : all) expected.push_back(e.id);
    EXPECT_EQ(ids, expected) << "budget " << budget;
    if (budget == 1) {
      EXPECT_EQ(page_sizes, std::vector<std::size_t>(9, 1));
    } else if (budget == max_bytes) {
      EXPECT_EQ(page_sizes, (std::vector<std::size_t>{2, 2, 2, 2, 1}));
    } else {
      EXPECT_EQ(page_sizes, (std::vector<std::size_t>{4, 4, 1}));
    }
  }
}

// ------------------------------------------------------------------ backtests

BacktestRecord make_backtest(const std::string& id, TimePoint created, TimePoint heartbeat) {
  BacktestRecord b;
  b.id = id;
  b.by = "ann";
  b.created_at = created;
  b.heartbeat_at = heartbeat;
  b.since = kT0 - minutes(60);
  b.until = kT0;
  b.merchant_id = "m-1";
  return b;
}

TEST_P(StoreContractTest, BacktestsAreStoredProgressedAndFinishedOnce) {
  BacktestRecord b = make_backtest("bt_1", kT0, kT0);
  ASSERT_OK(run(db_->create_backtest(b)));
  EXPECT_ERROR(run(db_->create_backtest(b)), "conflict");
  auto found = run(db_->find_backtest("bt_1"));
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, b);
  auto stop = run(db_->update_backtest_progress("bt_1", 0.25, 40, kT0 + minutes(1)));
  ASSERT_OK(stop);
  EXPECT_FALSE(*stop);
  // The heartbeat never moves back.
  ASSERT_OK(run(db_->update_backtest_progress("bt_1", 0.5, 80, kT0)));
  found = run(db_->find_backtest("bt_1"));
  EXPECT_EQ((*found)->progress, 0.5);
  EXPECT_EQ((*found)->transactions, 80);
  EXPECT_EQ((*found)->heartbeat_at, kT0 + minutes(1));
  EXPECT_ERROR(run(db_->update_backtest_progress("bt_nope", 0.5, 1, kT0)), "not_found");

  BacktestRecord done = b;
  done.status = BacktestStatus::kDone;
  done.progress = 1;
  done.transactions = 160;
  done.finished_at = kT0 + minutes(2);
  done.result_json = R"({"changes":{"approve->decline":1}})";
  auto finished = run(db_->finish_backtest(done));
  ASSERT_OK(finished);
  EXPECT_TRUE(*finished);
  found = run(db_->find_backtest("bt_1"));
  done.heartbeat_at = *done.finished_at;
  EXPECT_EQ(**found, done);
  // The first end wins: a later finish, progress or cancel changes nothing.
  BacktestRecord failed = b;
  failed.status = BacktestStatus::kFailed;
  failed.error = "late";
  failed.finished_at = kT0 + minutes(3);
  finished = run(db_->finish_backtest(failed));
  ASSERT_OK(finished);
  EXPECT_FALSE(*finished);
  stop = run(db_->update_backtest_progress("bt_1", 0.1, 1, kT0 + minutes(4)));
  ASSERT_OK(stop);
  EXPECT_TRUE(*stop);  // not running any more
  EXPECT_ERROR(run(db_->cancel_backtest("bt_1", kT0 + minutes(5))), "conflict");
  EXPECT_EQ(**run(db_->find_backtest("bt_1")), done);
  EXPECT_ERROR(run(db_->finish_backtest(make_backtest("bt_nope", kT0, kT0))), "not_found");
  reopen();
  EXPECT_EQ(**run(db_->find_backtest("bt_1")), done);  // durable
}

TEST_P(StoreContractTest, ACancelledBacktestAsksItsRunnerToStop) {
  ASSERT_OK(run(db_->create_backtest(make_backtest("bt_c", kT0, kT0))));
  auto cancelled = run(db_->cancel_backtest("bt_c", kT0 + minutes(1)));
  ASSERT_OK(cancelled);
  EXPECT_EQ(cancelled->status, BacktestStatus::kCancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  EXPECT_EQ(cancelled->finished_at, kT0 + minutes(1));
  auto stop = run(db_->update_backtest_progress("bt_c", 0.5, 10, kT0 + minutes(2)));
  ASSERT_OK(stop);
  EXPECT_TRUE(*stop);
  BacktestRecord late = make_backtest("bt_c", kT0, kT0);
  late.status = BacktestStatus::kCancelled;
  late.finished_at = kT0 + minutes(3);
  auto finished = run(db_->finish_backtest(late));
  ASSERT_OK(finished);
  EXPECT_FALSE(*finished);
  EXPECT_EQ((*run(db_->find_backtest("bt_c")))->finished_at, kT0 + minutes(1));
  EXPECT_ERROR(run(db_->cancel_backtest("bt_c", kT0)), "conflict");
  EXPECT_ERROR(run(db_->cancel_backtest("bt_nope", kT0)), "not_found");
}

TEST_P(StoreContractTest, StaleOrEveryRunningBacktestIsFailed) {
  ASSERT_OK(run(db_->create_backtest(make_backtest("bt_old", kT0, kT0))));
  ASSERT_OK(run(db_->create_backtest(make_backtest("bt_new", kT0, kT0 + minutes(10)))));
  BacktestRecord done = make_backtest("bt_done", kT0, kT0);
  ASSERT_OK(run(db_->create_backtest(done)));
  done.status = BacktestStatus::kDone;
  done.finished_at = kT0;
  ASSERT_OK(run(db_->finish_backtest(done)));
  auto n = run(db_->fail_stale_backtests(kT0 + minutes(5), kT0 + minutes(11), "gone"));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  auto old = **run(db_->find_backtest("bt_old"));
  EXPECT_EQ(old.status, BacktestStatus::kFailed);
  EXPECT_EQ(old.error, "gone");
  EXPECT_EQ(old.finished_at, kT0 + minutes(11));
  EXPECT_EQ((*run(db_->find_backtest("bt_new")))->status, BacktestStatus::kRunning);
  EXPECT_EQ((*run(db_->find_backtest("bt_done")))->status, BacktestStatus::kDone);
  n = run(db_->fail_running_backtests(kT0 + minutes(12), "restarted"));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  EXPECT_EQ((*run(db_->find_backtest("bt_new")))->error, "restarted");
  EXPECT_EQ((*run(db_->find_backtest("bt_old")))->error, "gone");
}

TEST_P(StoreContractTest, BacktestsListNewestFirstWithoutTheirResult) {
  for (int i = 0; i < 5; ++i) {
    BacktestRecord b = make_backtest("bt_" + std::to_string(i), kT0 + minutes(i), kT0);
    b.merchant_id = i % 2 == 0 ? std::optional<std::string>("m-1") : std::nullopt;
    ASSERT_OK(run(db_->create_backtest(b)));
    b.status = BacktestStatus::kDone;
    b.result_json = "{}";
    b.finished_at = kT0 + minutes(i);
    ASSERT_OK(run(db_->finish_backtest(b)));
  }
  auto listed = run(db_->list_backtests(3));
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 3U);
  EXPECT_EQ((*listed)[0].id, "bt_4");
  EXPECT_EQ((*listed)[1].id, "bt_3");
  EXPECT_EQ((*listed)[2].id, "bt_2");
  EXPECT_FALSE((*listed)[0].result_json.has_value());
  EXPECT_EQ((*listed)[0].merchant_id, "m-1");
  EXPECT_FALSE((*listed)[1].merchant_id.has_value());
  EXPECT_EQ((*listed)[0].status, BacktestStatus::kDone);
  EXPECT_EQ(run(db_->list_backtests(100))->size(), 5U);
}

// ------------------------------------------------------------------ concurrency, durability, close

TEST_P(StoreContractTest, ConcurrentInsertsFrom32ThreadsAreAllDurableAndDistinct) {
  constexpr int kThreads = 32;
  constexpr int kPerThread = 20;
  std::vector<std::vector<std::int64_t>> seqs_by_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto out = run(db_->insert_decision(make_record("m-c", "t" + std::to_string(t) + "-" + std::to_string(i))));
        if (out.ok() && out->inserted) seqs_by_thread[t].push_back(out->record.seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::int64_t> all;
  for (const auto& v : seqs_by_thread) {
    EXPECT_EQ(v.size(), static_cast<std::size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // a thread's own inserts are ordered
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));

  reopen();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto found = run(db_->find_decision("m-c", "t" + std::to_string(t) + "-" + std::to_string(i)));
      ASSERT_OK(found);
      ASSERT_TRUE(found->has_value());
      EXPECT_EQ((*found)->seq, seqs_by_thread[t][i]);
    }
  }
}

TEST_P(StoreContractTest, FailingWritesDoNotAffectConcurrentOnes) {
  constexpr int kThreads = 16;
  std::atomic<int> created{0}, conflicts{0}, inserted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        auto rule = run(db_->create_rule(make_rule("dup"), "t" + std::to_string(t)));
        if (rule.ok()) {
          ++created;
        } else if (rule.error().code == "conflict") {
          ++conflicts;
        }
        auto out = run(db_->insert_decision(make_record("m-f", "t" + std::to_string(t) + "-" + std::to_string(i))));
        if (out.ok() && out->inserted) ++inserted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads * 5 - 1);
  EXPECT_EQ(inserted.load(), kThreads * 5);
  EXPECT_EQ(*run(db_->rules_version()), 1);
  EXPECT_EQ(all_audit().size(), 1u);
}

TEST_P(StoreContractTest, PingAndPoolStats) {
  ASSERT_OK(run(db_->ping()));
  auto stats = db_->pool_stats();
  EXPECT_GE(stats.idle, 1);
  EXPECT_EQ(stats.in_use, 0);
}

TEST_P(StoreContractTest, CloseMakesEveryCallUnavailable) {
  insert(make_record("m-1", "t-1"));
  db_->close();
  db_->close();  // idempotent
  const std::string u = "unavailable";
  EXPECT_ERROR(run(db_->ping()), u);
  EXPECT_ERROR(db_->migrate(), u);
  EXPECT_ERROR(run(db_->create_api_key(ApiKey{"k", "n", Role::kAdmin, {}, "h", kT0, {}, {}})), u);
  EXPECT_ERROR(run(db_->find_api_key_by_hash("h")), u);
  EXPECT_ERROR(run(db_->list_api_keys()), u);
  EXPECT_ERROR(run(db_->insert_decision(make_record("m-1", "t-2"))), u);
  EXPECT_ERROR(run(db_->find_decision("m-1", "t-1")), u);
  EXPECT_ERROR(run(db_->list_decisions({})), u);
  EXPECT_ERROR(run(db_->resolve_review("m-1", "t-1", {})), u);
  EXPECT_ERROR(db_->scan_velocity_events(kT0, kFarFuture, 10, VelocityScanFields{},
                                         [](std::span<const VelocityEvent>) -> Status { return Ok{}; }),
               u);
  EXPECT_ERROR(run(db_->revoke_api_key("k", kT0)), u);
  EXPECT_ERROR(run(db_->touch_api_key("k", kT0)), u);
  EXPECT_ERROR(run(db_->find_list("l")), u);
  EXPECT_ERROR(run(db_->create_rule(make_rule("r"), "a")), u);
  EXPECT_ERROR(run(db_->replace_rule(make_rule("r"), "a")), u);
  EXPECT_ERROR(run(db_->delete_rule("r", "a")), u);
  EXPECT_ERROR(run(db_->find_rule("r")), u);
  EXPECT_ERROR(run(db_->list_rules()), u);
  EXPECT_ERROR(run(db_->rules_version()), u);
  EXPECT_ERROR(run(db_->replace_list("l", {"x"}, "a")), u);
  EXPECT_ERROR(run(db_->add_list_entries("l", {"x"}, "a")), u);
  EXPECT_ERROR(run(db_->remove_list_entry("l", "x", "a")), u);
  EXPECT_ERROR(run(db_->list_entries("l")), u);
  EXPECT_ERROR(run(db_->list_lists()), u);
  EXPECT_ERROR(run(db_->lists_version()), u);
  EXPECT_ERROR(run(db_->list_audit({})), u);
  (void)db_->pool_stats();  // no crash
}

TEST_P(StoreContractTest, CloseDrainsWritesInFlight) {
  constexpr int kThreads = 8;
  std::atomic<int> started{0};
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto out = run(db_->insert_decision(make_record("m-d", id)));
        started.fetch_add(1);
        if (!out.ok()) {
          if (out.error().code != "unavailable") ++other_errors;
          return;  // closed
        }
        std::lock_guard lk(mu);
        acknowledged.push_back(id);
      }
    });
  }
  // Close once every thread has completed at least a few calls (poll, no sleep).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (started.load() < kThreads * 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  db_->close();
  for (auto& t : threads) t.join();
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_FALSE(acknowledged.empty());

  db_ = open_migrated();
  ASSERT_NE(db_, nullptr);
  for (const auto& id : acknowledged) {
    auto found = run(db_->find_decision("m-d", id));
    ASSERT_OK(found);
    EXPECT_TRUE(found->has_value()) << id;
  }
}

// A child process inserts in a loop and reports every acknowledged insert over
// a pipe; the parent SIGKILLs it mid-flight; every acknowledged record must be
// in the database afterwards.
TEST_P(StoreContractTest, AcknowledgedInsertsSurviveSigkill) {
  db_->close();  // no threads of ours may be running across fork()
  db_.reset();
  runner_.reset();

  struct Ack {
    std::int64_t id;
    std::int64_t seq;
  };
  static_assert(sizeof(Ack) <= PIPE_BUF, "pipe writes must be atomic");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto db = backend_->open();
    if (!db.ok()) _exit(3);
    Database* child_db = db->get();
    const int ack_fd = fds[1];
    Runner child;  // four inserting coroutines, each acknowledging over the pipe
    for (int t = 0; t < 4; ++t) {
      child.spawn([child_db, ack_fd, t]() -> Task<void> {
        for (std::int64_t i = 0;; ++i) {
          std::int64_t id = t * 1'000'000'000LL + i;
          auto out = co_await child_db->insert_decision(make_record("m-kill", std::to_string(id)));
          if (!out.ok()) _exit(4);
          Ack ack{id, out->record.seq};
          char bytes[sizeof(Ack)];  // (a plain buffer: GCC 12 misjudges a struct in a coroutine frame)
          std::memcpy(bytes, &ack, sizeof bytes);
          ssize_t n;
          do {
            n = write(ack_fd, bytes, sizeof bytes);
          } while (n < 0 && errno == EINTR);
          if (n != static_cast<ssize_t>(sizeof bytes)) _exit(5);
        }
      });
    }
    for (;;) pause();  // until SIGKILL
  }
  close(fds[1]);

  std::vector<Ack> acks;
  std::string buffer;
  auto read_available = [&](int timeout_ms) {  // false on EOF
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) return true;
    char chunk[4096];
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n <= 0) return !(n == 0);
    buffer.append(chunk, static_cast<std::size_t>(n));
    while (buffer.size() >= sizeof(Ack)) {
      Ack a;
      std::memcpy(&a, buffer.data(), sizeof a);
      acks.push_back(a);
      buffer.erase(0, sizeof a);
    }
    return true;
  };
  constexpr std::size_t kKillAfter = 300;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool open_pipe = true;
  while (open_pipe && acks.size() < kKillAfter && std::chrono::steady_clock::now() < deadline) {
    open_pipe = read_available(100);
  }
  kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  while (read_available(1000)) {
  }  // the rest of what the child acknowledged, until EOF
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with status " << WEXITSTATUS(status);
  ASSERT_GE(acks.size(), kKillAfter) << "child made too little progress before the deadline";

  runner_ = std::make_unique<Runner>();
  db_ = open_migrated();
  ASSERT_NE(db_, nullptr);
  std::set<std::int64_t> seen_seqs;
  for (const Ack& a : acks) {
    auto found = run(db_->find_decision("m-kill", std::to_string(a.id)));
    ASSERT_OK(found);
    ASSERT_TRUE(found->has_value()) << "acknowledged insert " << a.id << " lost";
    EXPECT_EQ((*found)->seq, a.seq);
    seen_seqs.insert(a.seq);
  }
  EXPECT_EQ(seen_seqs.size(), acks.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, ::testing::ValuesIn(contract_backends()),
                         [](const ::testing::TestParamInfo<BackendFactory>& info) { return info.param.name; });

}  // namespace
}  // namespace txv::store::contract

#include "decide/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "domain/time.h"
#include "store/sqlite/sqlite_database.h"

namespace txv::decide {
namespace {

using domain::Decision;
using domain::Reason;
using domain::RuleAction;

Reason check(const char* code) { return Reason{code, "check", "", RuleAction::kDecline}; }
Reason rule(RuleAction a) { return Reason{"r", "rule", "rule_1", a}; }

TEST(Combine, OutcomeOrderOfTheContract) {
  EXPECT_EQ(combine({}), Decision::kApprove);
  EXPECT_EQ(combine({check("invalid_card_number")}), Decision::kDecline);
  EXPECT_EQ(combine({check("card_expired"), rule(RuleAction::kApprove)}), Decision::kDecline);
  EXPECT_EQ(combine({rule(RuleAction::kApprove), rule(RuleAction::kDecline)}), Decision::kApprove);
  EXPECT_EQ(combine({rule(RuleAction::kReview), rule(RuleAction::kDecline)}), Decision::kDecline);
  EXPECT_EQ(combine({rule(RuleAction::kReview)}), Decision::kReview);
  EXPECT_EQ(combine({rule(RuleAction::kApprove), rule(RuleAction::kReview)}), Decision::kApprove);
}

TEST(Checks, LuhnAndExpiry) {
  domain::CardInput card;
  card.number = "4242424242424242";
  card.expiry_month = 11;
  card.expiry_year = 2026;
  auto in_month = *domain::parse_rfc3339("2026-11-30T23:59:59.999Z");
  auto next_month = *domain::parse_rfc3339("2026-12-01T00:00:00Z");
  EXPECT_TRUE(DecisionPipeline::run_checks(card, in_month).empty());
  auto expired = DecisionPipeline::run_checks(card, next_month);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].code, "card_expired");
  card.number = "4242424242424241";
  auto both = DecisionPipeline::run_checks(card, next_month);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].code, "invalid_card_number");
  domain::CardInput token;
  token.token = "tok_1";
  EXPECT_TRUE(DecisionPipeline::run_checks(token, next_month).empty());
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("txv-pipeline-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    store::SqliteOptions options;
    options.path = (dir_ / "txv.db").string();
    auto db = store::open_sqlite_database(options);
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    ASSERT_TRUE(db_->migrate().ok());
    pipeline_ = std::make_unique<DecisionPipeline>(DecisionPipelineOptions{}, *db_, fingerprinter_, rules_);
  }
  void TearDown() override {
    pipeline_.reset();
    db_->close();
    std::filesystem::remove_all(dir_);
  }
  static domain::TransactionRequest request(const std::string& id) {
    domain::TransactionRequest r;
    r.transaction_id = id;
    r.merchant_id = "m-1";
    r.amount = 1250;
    r.currency = "USD";
    r.card.number = "4242424242424242";
    r.card.expiry_month = 12;
    r.card.expiry_year = 2030;
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Database> db_;
  Fingerprinter fingerprinter_{std::string(32, 'k')};
  NoRulesStage rules_;
  std::unique_ptr<DecisionPipeline> pipeline_;
};

TEST_F(PipelineTest, DecidesStoresAndReplays) {
  auto first = pipeline_->decide(request("t1"), "hash-a");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->record.decision, Decision::kApprove);
  EXPECT_EQ(first->record.card.brand, "visa");
  EXPECT_EQ(first->record.card.bin, "424242");
  EXPECT_EQ(first->record.card.last4, "4242");
  EXPECT_EQ(first->record.card.fingerprint.size(), 32u);
  EXPECT_EQ(first->record.card.fingerprint, fingerprinter_.card_number("4242424242424242"));

  auto again = pipeline_->decide(request("t1"), "hash-a");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->record.decided_at, first->record.decided_at);

  auto conflict = pipeline_->decide(request("t1"), "hash-b");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "idempotency_conflict");
}

TEST_F(PipelineTest, ConcurrentIdenticalRequestsDecideOnce) {
  constexpr int kThreads = 100;
  std::atomic<int> fresh{0}, replays{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      auto r = pipeline_->decide(request("same"), "hash-same");
      if (!r.ok()) {
        ++errors;
      } else if (r->replayed) {
        ++replays;
      } else {
        ++fresh;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(replays.load(), kThreads - 1);
}

TEST(Fingerprinter, KeyedAndDomainSeparated) {
  Fingerprinter a(std::string(32, 'a')), b(std::string(32, 'b'));
  EXPECT_NE(a.card_number("4242424242424242"), b.card_number("4242424242424242"));
  EXPECT_NE(a.card_number("tok"), a.token("tok"));
  EXPECT_EQ(a.request_digest("{}").size(), 64u);
  EXPECT_EQ(a.card_number("4242424242424242").find("4242"), std::string::npos);
}

}  // namespace
}  // namespace txv::decide

// Backtests against a history whose answers are known: which transactions a
// proposed rule catches (one only because of a velocity count built from
// decisions before the range and at another merchant), with labels; every
// number of the result is asserted.
#include "decide/backtest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "decide/rule_record_test_support.h"

namespace txv::decide {
namespace {

using domain::Decision;
using domain::RuleAction;
using std::chrono::minutes;

using test::rule;

const domain::TimePoint kSince = domain::TimePoint(std::chrono::milliseconds(1'790'000'000'000));
const domain::TimePoint kUntil = kSince + minutes(10);

ReplayedDecision decision(std::string id, std::string card, domain::TimePoint at, std::int64_t amount, Decision actual,
                          std::optional<bool> fraud = std::nullopt, std::string merchant = "m-1") {
  ReplayedDecision d;
  d.record.merchant_id = std::move(merchant);
  d.record.transaction_id = std::move(id);
  d.record.card.fingerprint = std::move(card);
  d.record.card.bin = "424242";
  d.record.amount = amount;
  d.record.currency = "USD";
  d.record.decided_at = at;
  d.record.decision = actual;
  d.fraud = fraud;
  return d;
}

class BacktestTest : public ::testing::Test {
 protected:
  BacktestTest() {
    history_ = {
        decision("t1", "A", kSince - minutes(30), 1000, Decision::kApprove, std::nullopt, "m-2"),  // warm-up only
        decision("t2", "A", kSince + minutes(1), 1000, Decision::kApprove),
        decision("t3", "A", kSince + minutes(2), 2000, Decision::kApprove, true),  // caught by velocity only
        decision("t4", "B", kSince + minutes(3), 60000, Decision::kApprove, false),
        decision("t5", "C", kSince + minutes(4), 150000, Decision::kDecline, true),
        decision("t6", "B", kSince + minutes(5), 100, Decision::kDecline),
        decision("t7", "A", kUntil, 5000, Decision::kApprove, true),  // outside [since, until)
    };
    history_[5].record.reasons.push_back(domain::Reason{"card_expired", "check", "", RuleAction::kDecline});
    request_.live = {rule("big", "amount > 100000", RuleAction::kDecline, 10)};
    request_.proposed = request_.live;
    auto velocity = rule("", "velocity('card', '1h').count >= 2", RuleAction::kDecline, 20);
    velocity.name = "card burst";
    auto review = rule("", "amount > 50000", RuleAction::kReview, 30);
    review.name = "large";
    request_.proposed.push_back(velocity);
    request_.proposed.push_back(review);
    request_.since = kSince;
    request_.until = kUntil;
  }

  Result<BacktestResult> run() {
    DecisionSource source = [this](domain::TimePoint since, domain::TimePoint until, const ReplaySink& sink) -> Status {
      scanned_from_ = since;
      std::vector<ReplayedDecision> chunk;
      for (const auto& d : history_) {
        if (d.record.decided_at < since || d.record.decided_at >= until) continue;
        chunk.push_back(d);
        if (chunk.size() == 2) {
          if (auto st = sink(chunk); !st.ok()) return st;
          chunk.clear();
        }
      }
      return chunk.empty() ? Status(Ok{}) : sink(chunk);
    };
    return run_backtest(request_, source, lists_, control_);
  }

  std::vector<ReplayedDecision> history_;
  BacktestRequest request_;
  ListLookup lists_;
  BacktestControl control_;
  domain::TimePoint scanned_from_{};
};

TEST_F(BacktestTest, EveryNumberOfAKnownHistory) {
  auto r = run();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->transactions, 5);
  EXPECT_EQ(control_.transactions.load(), 5);
  EXPECT_EQ(control_.progress.load(), 1.0);
  // The scan starts the longest window (1 h) and a minute before `since`, so t1 counts for t3.
  EXPECT_EQ(scanned_from_, kSince - minutes(61));

  const auto idx = [](Decision d) { return static_cast<std::size_t>(d); };
  EXPECT_EQ(r->actual[idx(Decision::kApprove)].count, 3);
  EXPECT_EQ(r->actual[idx(Decision::kApprove)].amount.at("USD"), 63000);
  EXPECT_EQ(r->actual[idx(Decision::kDecline)].count, 2);
  EXPECT_EQ(r->actual[idx(Decision::kDecline)].amount.at("USD"), 150100);
  EXPECT_EQ(r->actual[idx(Decision::kReview)].count, 0);

  EXPECT_EQ(r->live[idx(Decision::kApprove)].count, 3);
  EXPECT_EQ(r->live[idx(Decision::kDecline)].count, 2);
  EXPECT_EQ(r->live[idx(Decision::kReview)].count, 0);

  EXPECT_EQ(r->proposed[idx(Decision::kApprove)].count, 1);
  EXPECT_EQ(r->proposed[idx(Decision::kApprove)].amount.at("USD"), 1000);
  EXPECT_EQ(r->proposed[idx(Decision::kDecline)].count, 3);
  EXPECT_EQ(r->proposed[idx(Decision::kDecline)].amount.at("USD"), 152100);
  EXPECT_EQ(r->proposed[idx(Decision::kReview)].count, 1);
  EXPECT_EQ(r->proposed[idx(Decision::kReview)].amount.at("USD"), 60000);

  EXPECT_EQ(r->changes, (std::map<std::string, std::int64_t>{{"approve->decline", 1}, {"approve->review", 1}}));
  ASSERT_EQ(r->samples.size(), 2U);
  ASSERT_EQ(r->samples.at("approve->decline").size(), 1U);
  EXPECT_EQ(r->samples.at("approve->decline")[0].transaction_id, "t3");
  ASSERT_EQ(r->samples.at("approve->review").size(), 1U);
  EXPECT_EQ(r->samples.at("approve->review")[0].transaction_id, "t4");

  ASSERT_EQ(r->rules.size(), 3U);
  EXPECT_EQ(r->rules[0].rule_id, "big");
  EXPECT_EQ(r->rules[0].matches_live, 1);
  EXPECT_EQ(r->rules[0].matches_proposed, 1);
  EXPECT_EQ(r->rules[1].name, "card burst");
  EXPECT_EQ(r->rules[1].matches_live, -1);
  EXPECT_EQ(r->rules[1].matches_proposed, 1);
  EXPECT_EQ(r->rules[2].name, "large");
  EXPECT_EQ(r->rules[2].matches_proposed, 2);

  EXPECT_EQ(r->fraud.total, 2);
  EXPECT_EQ(r->fraud.stopped_live, 1);
  EXPECT_EQ(r->fraud.stopped_proposed, 2);
  EXPECT_EQ(r->not_fraud.total, 1);
  EXPECT_EQ(r->not_fraud.stopped_live, 0);
  EXPECT_EQ(r->not_fraud.stopped_proposed, 1);
  EXPECT_DOUBLE_EQ(*r->precision_live, 1.0);
  EXPECT_DOUBLE_EQ(*r->precision_proposed, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*r->recall_live, 0.5);
  EXPECT_DOUBLE_EQ(*r->recall_proposed, 1.0);
}

TEST_F(BacktestTest, WithoutTheEarlierDecisionTheVelocityRuleDoesNotCatchIt) {
  history_.erase(history_.begin());  // t1 gone: t3 sees one earlier decision only
  auto r = run();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rules[1].matches_proposed, 0);
  EXPECT_EQ(r->changes.count("approve->decline"), 0U);
  EXPECT_DOUBLE_EQ(*r->recall_proposed, 0.5);
}

TEST_F(BacktestTest, AMerchantFilterReplaysOneMerchantButCountsEveryMerchant) {
  history_[2].record.merchant_id = "m-2";  // t3 elsewhere; t2 (m-1) still sees t1 (m-2) as 1 earlier
  history_[1].record.amount = 1;
  request_.merchant_id = "m-2";
  auto r = run();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->transactions, 1);  // t3 only (t1 is before the range)
  EXPECT_EQ(r->rules[1].matches_proposed, 1);
  EXPECT_EQ(r->changes.at("approve->decline"), 1);
}

TEST_F(BacktestTest, AProposedRuleReplacesTheLiveOneWithTheSameId) {
  request_.proposed = {rule("big", "amount > 1500", RuleAction::kDecline, 10)};
  auto r = run();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rules.size(), 1U);
  EXPECT_EQ(r->rules[0].matches_live, 1);      // t5
  EXPECT_EQ(r->rules[0].matches_proposed, 3);  // t3 (2000), t4 (60000), t5; not t2 (1000) or t6 (100)
  EXPECT_EQ(r->changes.at("approve->decline"), 2);
}

TEST_F(BacktestTest, ListsAreUsedAsTheyAreNowAndShadowRulesNeverDecide) {
  auto entries = std::make_shared<ListEntries>(ListEntries{"B"});
  lists_ = [entries](const std::string& name) { return name == "risky_cards" ? entries : nullptr; };
  request_.proposed = {rule("cards", "card.fingerprint in list('risky_cards')", RuleAction::kDecline, 1),
                       rule("watch", "amount > 0", RuleAction::kDecline, 2, store::RuleMode::kShadow)};
  request_.live = {};
  auto r = run();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rules[0].matches_proposed, 2);  // t4, t6
  EXPECT_EQ(r->rules[1].matches_proposed, 5);
  EXPECT_EQ(r->changes, (std::map<std::string, std::int64_t>{{"approve->decline", 1}}));  // t4; t6 failed a check
}

TEST_F(BacktestTest, AnInvalidProposedExpressionIsRefusedBeforeReading) {
  request_.proposed.push_back(rule("", "amount >", RuleAction::kDecline, 1));
  auto r = run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression);
  EXPECT_EQ(scanned_from_, domain::TimePoint{});
}

TEST_F(BacktestTest, ACancelledBacktestStopsAtTheNextChunk) {
  control_.cancel = true;
  auto r = run();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(control_.transactions.load(), 0);
}

}  // namespace
}  // namespace txv::decide

#include "decide/rule_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "cache/local/local_velocity_counters.h"
#include "decide/pipeline.h"
#include "domain/time.h"

namespace txv::decide {
namespace {

using domain::RuleAction;

store::RuleRecord rule(std::string id, std::string expr, RuleAction action, std::int64_t priority,
                       store::RuleMode mode = store::RuleMode::kEnforce) {
  store::RuleRecord r;
  r.id = std::move(id);
  r.name = r.id;
  r.expression = std::move(expr);
  r.action = action;
  r.code = "code_" + r.id;
  r.priority = priority;
  r.mode = mode;
  return r;
}

class RuleEngineTest : public ::testing::Test {
 protected:
  domain::TransactionRequest req_ = [] {
    domain::TransactionRequest r;
    r.transaction_id = "t";
    r.merchant_id = "m-1";
    r.amount = 60000;
    r.currency = "USD";
    r.customer.email = "A@Example.com";
    r.customer.country = "US";
    r.metadata["channel"] = "web";
    return r;
  }();
  domain::CardSummary card_{"visa", "424242", "4242", "fp-1"};

  RulesVerdict run() {
    auto v = engine_.evaluate(DecisionInput{req_, card_, domain::now_millis()});
    EXPECT_TRUE(v.ok());
    if (v->reservation) v->reservation->commit();
    return std::move(v).value();
  }

  cache::LocalVelocityCounters counters_;
  RuleEngine engine_{RuleEngineOptions{}, counters_};
};

TEST_F(RuleEngineTest, NoRulesNoMatchesVersionZero) {
  auto v = run();
  EXPECT_TRUE(v.matches.empty());
  EXPECT_EQ(v.rules_version, 0);
}

TEST_F(RuleEngineTest, MatchesInPriorityOrderWithShadowSeparate) {
  auto problems =
      engine_.replace_rules({rule("b", "amount > 50000", RuleAction::kDecline, 20),
                             rule("a", "customer.country == 'US'", RuleAction::kReview, 10),
                             rule("s", "metadata.channel == 'web'", RuleAction::kDecline, 5, store::RuleMode::kShadow),
                             rule("d", "true", RuleAction::kDecline, 1, store::RuleMode::kDisabled),
                             rule("n", "amount > 10000000", RuleAction::kDecline, 0)},
                            7);
  EXPECT_TRUE(problems.empty());
  auto v = run();
  EXPECT_EQ(v.rules_version, 7);
  ASSERT_EQ(v.matches.size(), 3u);
  EXPECT_EQ(v.matches[0].rule_id, "s");
  EXPECT_TRUE(v.matches[0].shadow);
  EXPECT_EQ(v.matches[1].rule_id, "a");
  EXPECT_EQ(v.matches[2].rule_id, "b");
  EXPECT_FALSE(v.matches[2].shadow);
}

TEST_F(RuleEngineTest, StoredExpressionThatNoLongerCompilesIsSkippedAndReported) {
  auto problems = engine_.replace_rules(
      {rule("bad", "amount >", RuleAction::kDecline, 1), rule("good", "amount > 1", RuleAction::kDecline, 2)}, 3);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("bad"), std::string::npos);
  auto v = run();
  ASSERT_EQ(v.matches.size(), 1u);
  EXPECT_EQ(v.matches[0].rule_id, "good");
}

TEST_F(RuleEngineTest, ListsAreLiveAndSwapped) {
  engine_.replace_rules({rule("l", "card.bin in list('bins')", RuleAction::kDecline, 1)}, 1);
  EXPECT_TRUE(run().matches.empty());  // the list does not exist yet: contains nothing
  engine_.set_list("bins", std::make_shared<const ListEntries>(ListEntries{"424242"}));
  EXPECT_EQ(run().matches.size(), 1u);
  engine_.set_list("bins", std::make_shared<const ListEntries>(ListEntries{"555555"}));
  EXPECT_TRUE(run().matches.empty());
}

TEST_F(RuleEngineTest, VelocityCountsEarlierDecisionsOnly) {
  engine_.replace_rules({rule("v", "velocity('card', '1h').count >= 2", RuleAction::kDecline, 1)}, 1);
  EXPECT_TRUE(run().matches.empty());   // 0 earlier
  EXPECT_TRUE(run().matches.empty());   // 1 earlier
  EXPECT_EQ(run().matches.size(), 1u);  // 2 earlier
}

TEST_F(RuleEngineTest, EmailVelocityIsCaseInsensitive) {
  engine_.replace_rules({rule("e", "velocity('email', '1h').count >= 1", RuleAction::kDecline, 1)}, 1);
  EXPECT_TRUE(run().matches.empty());
  req_.customer.email = "a@example.COM";
  EXPECT_EQ(run().matches.size(), 1u);
}

TEST_F(RuleEngineTest, ReleasedReservationIsNotCounted) {
  engine_.replace_rules({rule("v", "velocity('card', '1h').count >= 1", RuleAction::kDecline, 1)}, 1);
  auto v = engine_.evaluate(DecisionInput{req_, card_, domain::now_millis()});
  ASSERT_TRUE(v.ok());
  v->reservation->release();
  EXPECT_TRUE(run().matches.empty());
}

TEST_F(RuleEngineTest, ExactUnderConcurrency) {
  engine_.replace_rules({rule("v", "velocity('card', '1h').count >= 3", RuleAction::kDecline, 1)}, 1);
  for (int round = 0; round < 20; ++round) {
    card_.fingerprint = "fp-round-" + std::to_string(round);
    std::atomic<int> approvals{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 50; ++i) {
      threads.emplace_back([&] {
        auto v = engine_.evaluate(DecisionInput{req_, card_, domain::now_millis()});
        ASSERT_TRUE(v.ok());
        v->reservation->commit();
        std::vector<domain::Reason> reasons;
        for (const auto& m : v->matches) reasons.push_back({m.code, "rule", m.rule_id, m.action});
        if (combine(reasons) == domain::Decision::kApprove) ++approvals;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(approvals.load(), 3) << "round " << round;
  }
}

TEST_F(RuleEngineTest, BackfillFromHistoryWhenARuleNeedsALongerWindow) {
  std::vector<store::VelocityEvent> history;
  auto now = domain::now_millis();
  for (int i = 0; i < 4; ++i) {
    store::VelocityEvent e;
    e.at = now - std::chrono::hours(5) + std::chrono::minutes(i);
    e.amount = 100;
    e.currency = "USD";
    e.merchant_id = "m-1";
    e.card_fingerprint = "fp-1";
    history.push_back(e);
  }
  cache::LocalVelocityCounters counters;
  RuleEngine engine(RuleEngineOptions{[&](domain::TimePoint since) -> Result<std::vector<store::VelocityEvent>> {
                                        std::vector<store::VelocityEvent> out;
                                        for (const auto& e : history) {
                                          if (e.at >= since) out.push_back(e);
                                        }
                                        return out;
                                      },
                                      {}},
                    counters);
  ASSERT_TRUE(engine.rebuild_counters().ok());  // retention 1h: the 5h-old history is outside
  engine.replace_rules({rule("v", "velocity('card', '24h').count >= 4", RuleAction::kDecline, 1)}, 1);
  auto v = engine.evaluate(DecisionInput{req_, card_, domain::now_millis()});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->matches.size(), 1u);
}

}  // namespace
}  // namespace txv::decide

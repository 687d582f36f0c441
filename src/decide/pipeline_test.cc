// The decision pipeline on a real SQLite store (temporary directory), driven as
// the server drives it: coroutines on an io_context run by several threads.
#include "decide/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/local/local_velocity_counters.h"
#include "decide/decide_test_support.h"
#include "decide/rule_engine.h"
#include "domain/time.h"

namespace txv::decide {
namespace {

using domain::Decision;
using domain::Reason;
using domain::RuleAction;
using test::card_number;
using test::request;
using txv::testing::AsyncRunner;
using txv::testing::wait_until;

Reason check(const char* code) { return Reason{code, "check", "", RuleAction::kDecline}; }
Reason rule_reason(RuleAction a) { return Reason{"r", "rule", "rule_1", a}; }

TEST(Combine, OutcomeOrderOfTheContract) {
  EXPECT_EQ(combine({}), Decision::kApprove);
  EXPECT_EQ(combine({check("invalid_card_number")}), Decision::kDecline);
  EXPECT_EQ(combine({check("card_expired"), rule_reason(RuleAction::kApprove)}), Decision::kDecline);
  EXPECT_EQ(combine({rule_reason(RuleAction::kApprove), rule_reason(RuleAction::kDecline)}), Decision::kApprove);
  EXPECT_EQ(combine({rule_reason(RuleAction::kReview), rule_reason(RuleAction::kDecline)}), Decision::kDecline);
  EXPECT_EQ(combine({rule_reason(RuleAction::kReview)}), Decision::kReview);
  EXPECT_EQ(combine({rule_reason(RuleAction::kApprove), rule_reason(RuleAction::kReview)}), Decision::kApprove);
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

TEST(Fingerprinter, KeyedDomainSeparatedLowerCaseHex) {
  Fingerprinter a(std::string(32, 'a')), b(std::string(32, 'b'));
  EXPECT_NE(a.card_number("4242424242424242"), b.card_number("4242424242424242"));
  EXPECT_NE(a.card_number("tok"), a.token("tok"));
  EXPECT_EQ(a.card_number("4242424242424242").size(), 32u);
  EXPECT_EQ(a.request_digest("{}").size(), 64u);
  EXPECT_NE(a.request_digest("{}"), b.request_digest("{}"));
  EXPECT_EQ(a.card_number("4242424242424242").find("4242"), std::string::npos);
  // Lower-case hex of HMAC-SHA-256 (independently computed: Python's hmac module).
  EXPECT_EQ(a.request_digest("{}"), "4019dceec8d0960b28ba5a7041bc649bc6254f0ee358f0e7c6ae889a0041db8b");
  EXPECT_EQ(a.card_number("4242424242424242"), "3532e842d29c0370bff00bcfb9d5b174");
}

// Forwards to the engine, counting the evaluations (decisions actually made, not replayed).
class CountingStage final : public RulesStage {
 public:
  explicit CountingStage(RulesStage& inner) : inner_(inner) {}
  Task<Result<RulesVerdict>> evaluate(const DecisionInput& input) override {
    ++evaluations;
    co_return co_await inner_.evaluate(input);
  }
  std::atomic<int> evaluations{0};

 private:
  RulesStage& inner_;
};

// A pipeline over a real SQLite store, with the rule engine and in-process counters, on 4 I/O threads.
class PipelineTest : public ::testing::Test {
 protected:
  PipelineTest() : scripted_(tmp_.db()) {
    engine_ = std::make_unique<RuleEngine>(RuleEngineOptions{&tmp_.db(), {}, {}, 4096}, counters_, &counters_);
    stage_ = std::make_unique<CountingStage>(*engine_);
    pipeline_ = std::make_unique<DecisionPipeline>(DecisionPipelineOptions{}, scripted_, fingerprinter_, *stage_);
  }
  Result<Decided> decide(const domain::TransactionRequest& r, const std::string& hash) {
    return test::run(runner_, pipeline_->decide(r, hash));
  }
  void set_rules(std::vector<store::RuleRecord> rules, std::int64_t version) {
    auto problems = test::run(runner_, engine_->replace_rules(std::move(rules), version));
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  std::int64_t card_count(const std::string& number, std::int64_t window_ms = 3'600'000) {
    cache::VelocityEventInput probe;
    probe.keys[static_cast<std::size_t>(cache::VelocityKey::kCard)] = fingerprinter_.card_number(number);
    probe.currency = "USD";
    probe.at = domain::now_millis();
    const cache::VelocityQuery q{cache::VelocityKey::kCard, window_ms};
    auto r = counters_.record_now(probe, std::span(&q, 1));
    EXPECT_TRUE(r.ok());
    (void)counters_.cancel_now(r->ticket);
    return r->totals[0]->count;
  }

  test::TempDatabase tmp_;
  test::ScriptedStore scripted_;
  Fingerprinter fingerprinter_{std::string(32, 'k')};
  cache::LocalVelocityCounters counters_;
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<CountingStage> stage_;
  std::unique_ptr<DecisionPipeline> pipeline_;
  AsyncRunner runner_{4};
};

TEST_F(PipelineTest, DecidesStoresAndReplays) {
  auto first = decide(request("t1", "4242424242424242"), "hash-a");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->record.decision, Decision::kApprove);
  EXPECT_EQ(first->record.card.brand, "visa");
  EXPECT_EQ(first->record.card.bin, "424242");
  EXPECT_EQ(first->record.card.last4, "4242");
  EXPECT_EQ(first->record.card.fingerprint, fingerprinter_.card_number("4242424242424242"));
  auto stored = test::run(runner_, tmp_.db().find_decision("m-1", "t1"));
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());  // durable before decide() completed
  EXPECT_EQ((*stored)->request_hash, "hash-a");

  auto again = decide(request("t1", "4242424242424242"), "hash-a");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->record.decided_at, first->record.decided_at);
  EXPECT_EQ(card_count("4242424242424242"), 1);  // a replay is not counted again

  auto conflict = decide(request("t1", "4242424242424242"), "hash-b");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "idempotency_conflict");
}

// 100 concurrent identical requests: the key lock lets one decide; the others wait suspended and replay it.
TEST_F(PipelineTest, ConcurrentIdenticalRequestsDecideOnceAndReplay) {
  constexpr int kRequests = 100;
  const auto req = request("same", card_number(7));
  std::atomic<int> fresh{0}, replays{0}, errors{0}, done{0};
  for (int i = 0; i < kRequests; ++i) {
    runner_.spawn([&]() -> Task<void> {
      auto r = co_await pipeline_->decide(req, "hash-same");
      if (!r.ok()) {
        ++errors;
      } else if (r->replayed) {
        ++replays;
      } else {
        ++fresh;
      }
      ++done;
    });
  }
  ASSERT_TRUE(wait_until([&] { return done.load() == kRequests; }));
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fresh.load(), 1);
  EXPECT_EQ(replays.load(), kRequests - 1);
  EXPECT_EQ(stage_->evaluations.load(), 1);  // the others waited for the first and replayed it
  EXPECT_EQ(card_count(card_number(7)), 1);  // counted once
  store::TransactionQuery q;
  q.merchant_id = "m-1";
  q.limit = 500;
  auto page = test::run(runner_, tmp_.db().list_decisions(q));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u);
}

// The same key with a different body: 409 idempotency_conflict, concurrently too; exactly one is stored.
TEST_F(PipelineTest, SameKeyDifferentBodyIsAConflict) {
  constexpr int kRequests = 60;
  const auto req = request("contested", card_number(8));
  std::mutex mu;
  std::vector<std::string> outcomes;  // "fresh:H", "replay:H", "conflict:H"
  std::atomic<int> done{0};
  for (int i = 0; i < kRequests; ++i) {
    const std::string hash = i % 2 == 0 ? "hash-A" : "hash-B";
    runner_.spawn([&, hash]() -> Task<void> {
      auto r = co_await pipeline_->decide(req, hash);
      std::string o = !r.ok() ? (r.error().code == "idempotency_conflict" ? "conflict:" : "error:")
                              : (r->replayed ? "replay:" : "fresh:");
      {
        std::lock_guard lock(mu);
        outcomes.push_back(o + hash);
      }
      ++done;
    });
  }
  ASSERT_TRUE(wait_until([&] { return done.load() == kRequests; }));
  std::lock_guard lock(mu);
  int fresh = 0;
  std::string winner;
  for (const auto& o : outcomes) {
    if (o.rfind("fresh:", 0) == 0) {
      ++fresh;
      winner = o.substr(6);
    }
  }
  ASSERT_EQ(fresh, 1);
  for (const auto& o : outcomes) {
    const std::string hash = o.substr(o.find(':') + 1);
    if (o.rfind("fresh:", 0) == 0) continue;
    EXPECT_EQ(o, (hash == winner ? "replay:" : "conflict:") + hash);
  }
  EXPECT_EQ(stage_->evaluations.load(), 1);
  EXPECT_EQ(card_count(card_number(8)), 1);
}

// The contract's example end to end: `velocity('card', '1h').count >= 3` declining, 50 simultaneous decisions for
// one card get exactly 3 approvals. 20 rounds, a fresh card each.
TEST_F(PipelineTest, FiftySimultaneousDecisionsForOneCardGetExactlyThreeApprovals) {
  set_rules({test::rule("v", "velocity('card', '1h').count >= 3", RuleAction::kDecline, 1)}, 1);
  constexpr int kRequests = 50;
  for (int round = 0; round < 20; ++round) {
    const std::string card = card_number(1000 + round);
    std::atomic<int> approvals{0}, declines{0}, errors{0}, done{0};
    for (int i = 0; i < kRequests; ++i) {
      runner_.spawn([&, round, i]() -> Task<void> {
        const auto req = request("r" + std::to_string(round) + "-" + std::to_string(i), card);
        auto r = co_await pipeline_->decide(req, "hash-" + std::to_string(i));
        if (!r.ok()) {
          ++errors;
        } else if (r->record.decision == Decision::kApprove) {
          ++approvals;
        } else {
          ++declines;
        }
        ++done;
      });
    }
    ASSERT_TRUE(wait_until([&] { return done.load() == kRequests; })) << "round " << round;
    EXPECT_EQ(errors.load(), 0) << "round " << round;
    EXPECT_EQ(approvals.load(), 3) << "round " << round;
    EXPECT_EQ(declines.load(), kRequests - 3) << "round " << round;
    EXPECT_EQ(card_count(card), kRequests) << "round " << round;
  }
}

// A decision the store did not take is uncounted (the reservation is released after the failed insert).
TEST_F(PipelineTest, ADecisionThatWasNotStoredIsNotCounted) {
  set_rules({test::rule("v", "velocity('card', '1h').count >= 1", RuleAction::kDecline, 1)}, 1);
  scripted_.fail_insert = [](const domain::DecisionRecord& r) { return r.transaction_id.rfind("fail", 0) == 0; };
  const std::string card = card_number(42);
  for (int i = 0; i < 3; ++i) {
    auto failed = decide(request("fail-" + std::to_string(i), card), "h");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "unavailable");
  }
  EXPECT_EQ(card_count(card), 0);
  auto first = decide(request("ok-1", card), "h");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->record.decision, Decision::kApprove);  // nothing earlier counts
  auto second = decide(request("ok-2", card), "h");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->record.decision, Decision::kDecline);
}

// Another process stored the key between our look-up and our insert: we answer its decision (or a conflict) and
// our counted event is released.
TEST_F(PipelineTest, AKeyDecidedElsewhereMeanwhileIsReplayedAndNotCountedTwice) {
  const std::string card = card_number(43);
  auto elsewhere = decide(request("raced", card), "hash-raced");  // "the other process"
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(card_count(card), 1);
  scripted_.hide = [](const std::string& id) { return id == "raced"; };  // our look-up misses it
  auto replay = decide(request("raced", card), "hash-raced");
  ASSERT_TRUE(replay.ok());
  EXPECT_TRUE(replay->replayed);
  EXPECT_EQ(replay->record.decided_at, elsewhere->record.decided_at);
  auto conflict = decide(request("raced", card), "other-hash");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "idempotency_conflict");
  EXPECT_EQ(card_count(card), 1);  // both of our counted events were released
}

}  // namespace
}  // namespace txv::decide

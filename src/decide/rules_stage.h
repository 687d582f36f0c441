// The seam where admin rules plug into the decision pipeline.
//
// evaluate() runs the current rule snapshot against one transaction and, where
// velocity counters are involved, records the transaction in them atomically
// with reading them (so N concurrent requests see exact counts). The returned
// Reservation must be settled: commit() once the decision is durably stored,
// release() if it was not (the transaction is then removed from the counters).
//
// Thread-safety: evaluate() is called concurrently from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/result.h"
#include "domain/transaction.h"

namespace txv::decide {

struct DecisionInput {
  const domain::TransactionRequest& request;
  const domain::CardSummary& card;
  domain::TimePoint decided_at;
};

struct RuleMatch {
  std::string rule_id;
  std::string code;
  domain::RuleAction action = domain::RuleAction::kDecline;
  std::int64_t priority = 0;
  bool shadow = false;
};

class Reservation {
 public:
  virtual ~Reservation() = default;
  virtual void commit() = 0;
  virtual void release() = 0;
};

struct RulesVerdict {
  std::vector<RuleMatch> matches;  // enforced and shadow, in priority order
  std::int64_t rules_version = 0;
  std::unique_ptr<Reservation> reservation;  // may be null: nothing to settle
};

class RulesStage {
 public:
  virtual ~RulesStage() = default;
  virtual Result<RulesVerdict> evaluate(const DecisionInput& input) = 0;
};

// No rules: rules_version 0, no matches. Used until rules are configured.
class NoRulesStage final : public RulesStage {
 public:
  Result<RulesVerdict> evaluate(const DecisionInput&) override { return RulesVerdict{}; }
};

}  // namespace txv::decide

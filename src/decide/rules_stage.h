// The seam where admin rules plug into the decision pipeline.
//
// evaluate() runs the current rule snapshot against one transaction and, where
// velocity counters are involved, records the transaction in them atomically
// with reading them (so N concurrent requests see exact counts). It is a Task
// (common/async.h): a shared counter back-end answers over the network.
// The returned Reservation must be settled: commit() once the decision is
// durably stored, co_await release() if it was not (the transaction is then
// removed from the counters). A Reservation destroyed unsettled (an exception
// between evaluating and storing) releases itself in the background.
//
// Thread-safety: evaluate() is called concurrently from many threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/async.h"
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
  // The decision is stored: the counted event stays.
  virtual void commit() = 0;
  // The decision was not stored: uncount the event. An Error means the
  // counters could not be reached (the event may still count).
  virtual Task<Status> release() = 0;
};

struct RulesVerdict {
  std::vector<RuleMatch> matches;  // enforced and shadow, in priority order
  std::int64_t rules_version = 0;
  // The decision trace (contract section 10) in its stored form (decide/decision_trace.h): per evaluated rule, in
  // priority order, what it saw. Empty when the stage does not trace.
  std::string trace;
  std::unique_ptr<Reservation> reservation;  // may be null: nothing to settle
};

class RulesStage {
 public:
  virtual ~RulesStage() = default;
  // `input` must live until the Task completes (callers co_await at once).
  virtual Task<Result<RulesVerdict>> evaluate(const DecisionInput& input) = 0;
};

// No rules: rules_version 0, no matches. Used until rules are configured.
class NoRulesStage final : public RulesStage {
 public:
  Task<Result<RulesVerdict>> evaluate(const DecisionInput&) override { co_return RulesVerdict{}; }
};

}  // namespace txv::decide

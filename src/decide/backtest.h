// Backtest: replays stored decisions against live and proposed rule sets
// (contract section 11) and answers what each would have decided.
//
// Semantics:
// - Decisions with since <= decided_at < until (and merchant_id, when given)
//   are replayed in decision order (decided_at, then the store's sequence).
// - Velocity values are those each transaction saw when it was decided:
//   velocity counts do not depend on rules (every decision counts), so the
//   replay rebuilds them from the stored decisions themselves, in a private
//   in-process counter, starting the longest window before `since` and counting
//   every merchant's decisions (a card's velocity crosses merchants).
// - Lists are used as they are now (`list` below). Built-in check reasons are
//   taken from the stored decision.
// - actual = the stored decision; live and proposed = the check reasons plus
//   the enforced matches of that rule set, combined as the pipeline does.
//   Shadow rules are evaluated and counted in `rules`, never decide.
//
// Cost: one pass over the stored decisions of [since - longest window, until),
// in chunks (memory: one chunk plus the counters' state for the longest
// window, plus at most 20 samples per change). Cancellable between chunks.
//
// Thread-safety: run() blocks its caller (run it off the request path, at low
// priority); Control may be read and cancelled from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "decide/list_entries.h"
#include "domain/transaction.h"
#include "store/records.h"

namespace txv::decide {

// One stored decision as the replay reads it, with its current label.
using ReplayedDecision = store::ReplayedDecision;

// Streams the stored decisions with since <= decided_at < until, oldest first, in chunks, to `sink`; stops at the
// first error (the sink's or its own) and answers it.
// The sink may move the decisions out of the chunk.
using ReplaySink = std::function<Status(std::vector<ReplayedDecision>& chunk)>;
using DecisionSource = std::function<Status(domain::TimePoint since, domain::TimePoint until, const ReplaySink& sink)>;

struct BacktestRequest {
  std::vector<store::RuleRecord> live;      // the live rule set
  std::vector<store::RuleRecord> proposed;  // the complete proposed set (an empty id: a new rule, named by name)
  domain::TimePoint since{};
  domain::TimePoint until{};
  std::optional<std::string> merchant_id;
};

struct BacktestControl {
  std::atomic<bool> cancel{false};
  std::atomic<double> progress{0};            // 0..1, by decided_at through [since, until)
  std::atomic<std::int64_t> transactions{0};  // replayed so far (in range, merchant filter applied)
};

struct OutcomeTotals {
  std::int64_t count = 0;
  std::map<std::string, std::int64_t> amount;  // by currency
};
// By domain::Decision (approve, decline, review).
using OutcomeTable = std::array<OutcomeTotals, 3>;

struct RuleHits {
  std::string rule_id;  // empty for a new proposed rule
  std::string name;
  std::int64_t matches_live = 0;      // -1: not in the live set
  std::int64_t matches_proposed = 0;  // -1: not in the proposed set
};

struct LabelTotals {
  std::int64_t total = 0;
  std::int64_t stopped_live = 0;  // stopped = decline or review
  std::int64_t stopped_proposed = 0;
};

struct SampleId {
  std::string merchant_id;
  std::string transaction_id;
};

struct BacktestResult {
  std::int64_t transactions = 0;
  OutcomeTable actual, live, proposed;
  // "approve->decline" -> count, live -> proposed, non-zero only.
  std::map<std::string, std::int64_t> changes;
  std::vector<RuleHits> rules;  // live rules in priority order, then new proposed ones
  LabelTotals fraud, not_fraud;
  std::optional<double> precision_live, precision_proposed, recall_live, recall_proposed;  // nullopt: 0 / 0
  std::map<std::string, std::vector<SampleId>> samples;  // per change, up to kMaxSamples
  static constexpr std::size_t kMaxSamples = 20;
};

using ListLookup = std::function<std::shared_ptr<const ListEntries>(const std::string& name)>;

// Errors: "invalid_expression" (a proposed rule does not compile; message names the rule), "conflict" when
// cancelled (control.cancel), or the
// source's error.
Result<BacktestResult> run_backtest(const BacktestRequest& request, const DecisionSource& source,
                                    const ListLookup& list, BacktestControl& control);

}  // namespace txv::decide

// RuleEngine: the RulesStage that decides with admin rules, named lists and
// velocity counters (contract sections 5 and 6).
//
// Snapshots. Everything a decision reads (the compiled RuleSet, each rule's
// id/code/action/priority/mode, rules_version and the list entry sets bound to
// the set's list slots) lives in one immutable Snapshot. Changes build a new
// snapshot and swap it in atomically, so a decision sees the old rules or the
// new ones, never a mix. Readers take a shared_ptr copy and never block writers.
//
// Velocity. Every decision is recorded in the counters under all six keys
// (card fingerprint, customer id, email lower-cased, ip, device id, merchant
// id) whether or not a rule reads them, atomically with reading the windows the
// current rules ask for, so counting is exact under concurrency. Counters keep
// events for max(1h, the longest window any rule uses); when a rule change
// needs a longer history, the counters are rebuilt from stored decisions
// (backfill) before the new rules go live.
//
// Thread-safety: evaluate() concurrently from any thread; the mutators
// (replace_rules, set_list, ...) are serialised internally.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/velocity_counters.h"
#include "decide/rules_stage.h"
#include "rules/rule_set.h"
#include "store/records.h"

namespace txv::decide {

// Hashes std::string and std::string_view alike, so look-ups never allocate.
struct TransparentStringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
// The entries of one named list. Immutable once published.
using ListEntries = std::unordered_set<std::string, TransparentStringHash, std::equal_to<>>;

struct RuleEngineOptions {
  // Loads decisions for a velocity backfill (events with decided_at >= since).
  std::function<Result<std::vector<store::VelocityEvent>>(domain::TimePoint since)> load_history;
  std::function<domain::TimePoint()> now;  // defaults to the system clock
};

class RuleEngine final : public RulesStage {
 public:
  RuleEngine(RuleEngineOptions options, cache::VelocityCounters& counters);

  Result<RulesVerdict> evaluate(const DecisionInput& input) override;

  // Replaces the whole rule set (stored records; disabled rules are kept out
  // of the compiled set). A stored expression that no longer compiles is
  // skipped and reported in the returned error list (never at decision time).
  std::vector<std::string> replace_rules(const std::vector<store::RuleRecord>& rules, std::int64_t rules_version);
  void set_list(const std::string& name, std::shared_ptr<const ListEntries> entries);
  std::shared_ptr<const ListEntries> list(const std::string& name) const;

  std::int64_t rules_version() const;
  // Rebuilds the velocity counters from stored decisions for the current
  // retention. Call once at start-up after the first replace_rules(); from
  // then on replace_rules() backfills by itself when it needs more history.
  Status rebuild_counters();

 private:
  struct RuleMeta {
    std::string id;
    std::string code;
    domain::RuleAction action;
    std::int64_t priority;
    bool shadow;
  };
  struct Snapshot {
    std::shared_ptr<const rules::RuleSet> set;
    std::vector<RuleMeta> meta;  // by RuleSet index
    std::int64_t rules_version = 0;
    std::vector<std::shared_ptr<const ListEntries>> lists;  // by ListSlot
    std::vector<cache::VelocityQuery> velocity_queries;     // by VelocitySlot
  };

  // Rebuilds the snapshot from compiled_ and lists_; caller holds write_mu_.
  void publish_locked();
  Status rebuild_locked();
  std::chrono::milliseconds retention_for(const rules::RuleSet& set) const;

  RuleEngineOptions options_;
  cache::VelocityCounters& counters_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;

  mutable std::mutex write_mu_;
  std::shared_ptr<const rules::RuleSet> compiled_;
  std::vector<RuleMeta> compiled_meta_;
  std::int64_t compiled_version_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const ListEntries>> lists_;
  std::chrono::milliseconds retention_{0};
  bool history_loaded_ = false;
  // Shared by each decision from counting until it is stored; exclusive while
  // the counters are rebuilt from stored decisions.
  std::shared_mutex counting_gate_;
  std::mutex turnstile_;
};

}  // namespace txv::decide

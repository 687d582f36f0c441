// RuleEngine: the RulesStage that decides with admin rules, named lists and
// velocity counters (contract sections 5 and 6).
//
// Snapshots. Everything a decision reads (the compiled RuleSet, each rule's
// id/code/action/priority/mode, rules_version, the velocity queries and the
// list entry sets bound to the set's list slots) lives in one immutable
// Snapshot behind an atomic shared_ptr. Changes build a new snapshot and swap
// it in, so a decision sees the old rules or the new ones, never a mix, and
// never waits for a change.
//
// Velocity. Every decision is recorded in the counters under all six keys (the
// one mapping of cache/velocity_keys.h) whether or not a rule reads them,
// atomically with reading the windows the current rules ask for, so counting
// is exact under concurrency. There is no gate between decisions and history
// work: decisions never wait for a backfill.
//
// History (only with an in-process counter back-end, cache::VelocityHistory).
// The counters keep, per velocity key k, max(1 h, the longest window of any
// live or shadow rule reading key k): a key no rule reads keeps 1 h, so the
// start-up load and the memory follow the windows the rules use per key. When
// a new rule set needs a longer window under some keys, replace_rules() grows
// those keys' retention, loads ONLY the older stored decisions the counters
// lack for them (one TransactionStore::scan_velocity_events over the union of
// their ranges, reading a key's field only within its range, in chunks, on the
// admin executor), merges them into the counters shard by shard, and only
// then publishes the new set; decisions keep using the old rules meanwhile.
// When a key's longest window shrinks, the new set is published first, then
// the counters drop what is past that key's new retention and give the memory
// back.
//
// Thread-safety: evaluate() concurrently from any thread; replace_rules() calls
// are applied one at a time in call order; set_list()/list() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cache/velocity_counters.h"
#include "cache/velocity_history.h"
#include "common/async.h"
#include "common/async_key_lock.h"
#include "decide/list_entries.h"
#include "decide/rules_stage.h"
#include "rules/rule_set.h"
#include "store/records.h"
#include "store/stores.h"

namespace txv::decide {

struct RuleEngineOptions {
  // Stored decisions that velocity history is loaded from (start-up rebuild,
  // backfills) with the blocking TransactionStore::scan_velocity_events.
  // Null: no history is loaded.
  store::TransactionStore* history = nullptr;
  // Where blocking and long admin work runs: history scans and merges, pruning,
  // compiling rule sets, freeing replaced lists (e.g. an asio::thread_pool's
  // executor; never an I/O thread). It must outlive the engine and every
  // decision in flight. Empty: that work runs on the calling thread (tests).
  Executor admin;
  std::function<domain::TimePoint()> now;  // defaults to the system clock (ms)
  std::size_t history_chunk = 131072;      // events per chunk of a history scan
  // Record a decision trace (RulesVerdict::trace) with every evaluation: what each rule saw, taken from the
  // evaluation itself (rules::RuleSet::evaluate_traced).
  bool traces = true;
  // Where each compiled rule set's trace layout is stored (decide/decision_trace.h), so that a decision stores
  // only what it read. Null, or when storing fails: self-contained traces.
  store::TraceLayoutStore* trace_layouts = nullptr;
};

class RuleEngine final : public RulesStage {
 public:
  // `history`: the counters' in-process history (LocalVelocityCounters is
  // both); null for a back-end that keeps its own (Redis), in which case no
  // rebuild, backfill or retention change happens here. The counters must
  // outlive the decisions in flight (a reservation destroyed unsettled
  // releases its event later, on the decision's executor): stop and join the
  // I/O threads before destroying them.
  RuleEngine(RuleEngineOptions options, cache::VelocityCounters& counters, cache::VelocityHistory* history = nullptr);

  Task<Result<RulesVerdict>> evaluate(const DecisionInput& input) override;

  // Replaces the whole rule set (stored records; disabled rules are kept out
  // of the compiled set). Completes once the new set is live (after a
  // backfill, when it needs one). A stored expression that no longer compiles
  // is skipped and reported in the returned list, as is a failed backfill
  // (the set is published anyway: windows longer than what the counters hold
  // then see only what they hold, and the next change retries). A set with a
  // lower rules_version than the live one is not applied (reported).
  Task<std::vector<std::string>> replace_rules(std::vector<store::RuleRecord> rules, std::int64_t rules_version);

  // Swaps in an immutable list the caller built off the request path (null
  // removes the list). Cheap: no copy of the entries; decisions see the old
  // list or the new one. A replaced list is freed on the admin executor once
  // the last decision using it is done.
  void set_list(const std::string& name, std::shared_ptr<const ListEntries> entries);
  std::shared_ptr<const ListEntries> list(const std::string& name) const;

  std::int64_t rules_version() const;
  // The retention the counters are asked to keep (for tests and gauges): the longest of any key, and per key.
  std::chrono::milliseconds velocity_retention() const;
  cache::KeyRetention velocity_retentions() const;

  // Blocking; at start-up, after the first replace_rules() and before serving:
  // loads the velocity history the current rules need from options.history,
  // in chunks of history_chunk events (bounded memory besides the counters).
  // From then on replace_rules() backfills by itself when it needs more.
  Status rebuild_counters();

 private:
  struct RuleMeta {
    std::string id;
    std::string code;
    domain::RuleAction action;
    std::int64_t priority;
    bool shadow;
    // Precomputed parts of the stored trace (decide/decision_trace.h): `[RULE_ID,VERSION,MODE,"` and, per traced
    // value of the rule (RuleSet::trace_exprs), its index in CompiledRules::trace_exprs.
    std::string trace_head;
    std::vector<std::uint32_t> trace_value_ids;
  };
  // A compiled rule set and what a decision needs with it. Immutable.
  struct CompiledRules {
    std::shared_ptr<const rules::RuleSet> set;
    std::vector<RuleMeta> meta;                          // by RuleSet tag
    std::vector<cache::VelocityQuery> velocity_queries;  // by VelocitySlot
    std::int64_t rules_version = 0;
    cache::KeyRetention retention{};       // per key: max(1 h, longest window reading it)
    std::vector<std::string> trace_exprs;  // every rule's distinct traced expressions, as JSON strings
    std::string trace_layout;              // decide/decision_trace.h, by set order
    std::string trace_layout_id;           // set once the layout is stored: decisions refer to it
  };
  struct Snapshot {
    std::shared_ptr<const CompiledRules> rules;
    std::vector<std::shared_ptr<const ListEntries>> lists;  // by ListSlot
  };
  struct Compiled {
    std::shared_ptr<CompiledRules> rules;
    std::vector<std::string> problems;
  };

  static Compiled compile(const std::vector<store::RuleRecord>& records, std::int64_t rules_version);
  // Evaluates every rule into `out`; with `trace`, also writes the decision trace there.
  static void match(const CompiledRules& rules, const rules::Activation& activation, std::vector<RuleMatch>& out,
                    std::string* trace);
  static void append_trace_value(std::string& out, const rules::TraceValue& value);
  // Builds and swaps in the snapshot from compiled_ and lists_; caller holds write_mu_.
  void publish_locked();
  // Blocking (admin executor): grows the counters' retention of the keys where `retention` is longer (the others are
  // as held) and merges the missing older history of those keys.
  Status grow_history(const cache::KeyRetention& retention);
  // Lowers each key's retention to at most `retention` (never raises one).
  Status shrink_history(const cache::KeyRetention& retention);
  // Blocking: the stored events of `ranges` into `batch` (built for them), in one store scan.
  Status load_history(const cache::KeyRanges& ranges, cache::VelocityHistory::Batch& batch);
  void store_retention(const cache::KeyRetention& retention);
  std::shared_ptr<const ListEntries> freed_on_admin(std::shared_ptr<const ListEntries> entries) const;

  RuleEngineOptions options_;
  cache::VelocityCounters& counters_;
  cache::VelocityHistory* history_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;

  AsyncKeyLock changes_;  // one replace_rules at a time, in call order (held across its awaits)

  mutable std::mutex write_mu_;  // compiled_, lists_; short holds, never across a co_await
  std::shared_ptr<const CompiledRules> compiled_;
  std::unordered_map<std::string, std::shared_ptr<const ListEntries>> lists_;

  // History state; touched only by blocking admin work (admin executor, start-up), never on an I/O thread.
  std::mutex history_mu_;
  std::array<std::atomic<std::int64_t>, cache::kVelocityKeyCount> retention_ms_{};  // asked of the counters, per key
  bool history_loaded_ = false;
};

}  // namespace txv::decide

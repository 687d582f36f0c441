#include "decide/backtest.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "cache/local/local_velocity_counters.h"
#include "cache/velocity_keys.h"
#include "decide/pipeline.h"
#include "decide/transaction_activation.h"
#include "rules/expression.h"
#include "rules/rule_set.h"

namespace txv::decide {
namespace {

constexpr std::chrono::milliseconds kMinWindow = std::chrono::hours(1);

// What the replay knows about one compiled rule (by RuleSet tag).
struct ReplayRule {
  bool proposed = false;  // which set it belongs to
  bool shadow = false;
  domain::RuleAction action = domain::RuleAction::kDecline;
  std::size_t hits = 0;  // index into BacktestResult::rules
};

std::size_t decision_index(domain::Decision d) { return static_cast<std::size_t>(d); }

void add_outcome(OutcomeTable& table, domain::Decision d, const domain::DecisionRecord& r) {
  OutcomeTotals& t = table[decision_index(d)];
  ++t.count;
  t.amount[r.currency] += r.amount;
}

bool stopped(domain::Decision d) { return d != domain::Decision::kApprove; }

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
  if (den == 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

std::vector<const store::RuleRecord*> enabled_by_priority(const std::vector<store::RuleRecord>& rules) {
  std::vector<const store::RuleRecord*> out;
  for (const auto& r : rules) {
    if (r.mode != store::RuleMode::kDisabled) out.push_back(&r);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
  });
  return out;
}

// Runs `source` on a thread of its own (it inherits the caller's CPU priority), reading up to kPrefetchChunks
// chunks ahead of `sink`, which runs on the calling thread: reading and decoding the history overlaps the replay.
constexpr std::size_t kPrefetchChunks = 2;

Status run_prefetched(const DecisionSource& source, domain::TimePoint since, domain::TimePoint until,
                      const ReplaySink& sink) {
  std::mutex mu;
  std::condition_variable changed;
  std::deque<std::vector<ReplayedDecision>> ready;
  bool read_all = false;
  bool stopped = false;  // the sink failed: the reader stops at its next chunk
  Status read_status = Ok{};
  std::thread reader([&] {
    Status st = source(since, until, [&](std::vector<ReplayedDecision>& chunk) -> Status {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return ready.size() < kPrefetchChunks || stopped; });
      if (stopped) return make_error("conflict", "the replay stopped");
      ready.push_back(std::move(chunk));
      changed.notify_all();
      return Ok{};
    });
    std::lock_guard lock(mu);
    read_all = true;
    read_status = std::move(st);
    changed.notify_all();
  });
  Status replayed = Ok{};
  for (;;) {
    std::vector<ReplayedDecision> chunk;
    {
      std::unique_lock lock(mu);
      changed.wait(lock, [&] { return !ready.empty() || read_all; });
      if (ready.empty()) break;
      chunk = std::move(ready.front());
      ready.pop_front();
      changed.notify_all();
    }
    if (auto st = sink(chunk); !st.ok()) {
      replayed = std::move(st);
      std::lock_guard lock(mu);
      stopped = true;
      changed.notify_all();
      break;
    }
  }
  reader.join();
  if (!replayed.ok()) return replayed;
  return read_status;
}

}  // namespace

Result<BacktestResult> run_backtest(const BacktestRequest& request, const DecisionSource& source,
                                    const ListLookup& list, BacktestControl& control) {
  BacktestResult result;
  std::vector<ReplayRule> replay_rules;
  rules::RuleSet::Builder builder;
  const auto add_set = [&](const std::vector<store::RuleRecord>& records, bool proposed) -> Status {
    for (const auto* r : enabled_by_priority(records)) {
      auto compiled = rules::compile(r->expression);
      if (!compiled.ok()) {
        if (!proposed) continue;  // a stored rule that no longer compiles is skipped live too (RuleEngine)
        return make_error("invalid_expression", "rule '" + (r->id.empty() ? r->name : r->id) +
                                                    "': " + compiled.error().message + " (column " +
                                                    std::to_string(compiled.error().column) + ")");
      }
      std::size_t hits = result.rules.size();
      auto same = std::find_if(result.rules.begin(), result.rules.end(),
                               [&](const RuleHits& h) { return !r->id.empty() && h.rule_id == r->id; });
      if (same != result.rules.end()) {
        hits = static_cast<std::size_t>(same - result.rules.begin());
        same->matches_proposed = 0;
        if (same->name.empty()) same->name = r->name;
      } else {
        result.rules.push_back(RuleHits{r->id, r->name, proposed ? -1 : 0, proposed ? 0 : -1});
      }
      builder.add(std::move(compiled).value(), replay_rules.size());
      replay_rules.push_back(ReplayRule{proposed, r->mode == store::RuleMode::kShadow, r->action, hits});
    }
    return Ok{};
  };
  if (auto st = add_set(request.live, false); !st.ok()) return st.error();
  if (auto st = add_set(request.proposed, true); !st.ok()) return st.error();
  const std::shared_ptr<const rules::RuleSet> set = builder.build();

  std::vector<cache::VelocityQuery> queries;
  std::chrono::milliseconds window = kMinWindow;
  // Only the keys some rule reads are counted: a key no query asks about cannot change a result, and one-off
  // values (IPs, e-mails) would otherwise fill the replay's counters.
  std::array<bool, cache::kVelocityKeyCount> key_read{};
  for (const auto& v : set->velocities()) {
    queries.push_back(cache::VelocityQuery{static_cast<cache::VelocityKey>(v.key), v.window_seconds * 1000});
    window = std::max(window, std::chrono::milliseconds(v.window_seconds * 1000));
    key_read[static_cast<std::size_t>(v.key)] = true;
  }
  std::vector<std::shared_ptr<const ListEntries>> lists;
  for (const auto& ref : set->lists()) lists.push_back(list ? list(ref.name) : nullptr);

  cache::LocalVelocityCountersOptions counter_options;
  counter_options.retention = window;
  cache::LocalVelocityCounters counters(counter_options);

  const domain::TimePoint warm_from = request.since - window - std::chrono::minutes(1);
  const double span_ms = std::max<double>(1, static_cast<double>((request.until - request.since).count()));
  std::vector<rules::Outcome> outcomes(set->size());
  std::vector<std::optional<cache::VelocityTotals>> no_totals;

  const ReplaySink sink = [&](std::vector<ReplayedDecision>& chunk) -> Status {
    if (control.cancel.load(std::memory_order_relaxed)) return make_error("conflict", "the backtest was cancelled");
    for (const ReplayedDecision& d : chunk) {
      const domain::DecisionRecord& r = d.record;
      const bool in_range = r.decided_at >= request.since && r.decided_at < request.until;
      const bool evaluate = in_range && (!request.merchant_id || *request.merchant_id == r.merchant_id);
      if (!evaluate && queries.empty()) continue;
      cache::VelocityEventInput event =
          cache::to_velocity_input(cache::VelocityKeyFields{r.merchant_id, r.card.fingerprint, &r.customer.id,
                                                            &r.customer.email, &r.customer.ip, &r.customer.device_id},
                                   r.amount, r.currency, r.decided_at);
      for (std::size_t k = 0; k < event.keys.size(); ++k) {
        if (!key_read[k]) event.keys[k].reset();
      }
      auto read = counters.record_now(
          event, evaluate ? std::span<const cache::VelocityQuery>(queries) : std::span<const cache::VelocityQuery>());
      if (!read.ok()) return read.error();
      if (!evaluate) continue;

      set->evaluate(TransactionActivation(r, r.card, lists, read->totals), std::span<rules::Outcome>(outcomes));
      bool failed_check = false;
      for (const auto& reason : r.reasons) failed_check |= reason.source == "check";
      bool live[3] = {false, false, false}, proposed[3] = {false, false, false};  // approve, decline, review
      for (std::size_t i = 0; i < outcomes.size(); ++i) {
        if (outcomes[i] != rules::Outcome::kTrue) continue;
        const ReplayRule& rr = replay_rules[set->tag(i)];
        RuleHits& hits = result.rules[rr.hits];
        ++(rr.proposed ? hits.matches_proposed : hits.matches_live);
        if (rr.shadow) continue;
        const std::size_t a = rr.action == domain::RuleAction::kApprove   ? 0
                              : rr.action == domain::RuleAction::kDecline ? 1
                                                                          : 2;
        (rr.proposed ? proposed : live)[a] = true;
      }
      const domain::Decision live_d = combine(failed_check, live[0], live[1], live[2]);
      const domain::Decision proposed_d = combine(failed_check, proposed[0], proposed[1], proposed[2]);
      add_outcome(result.actual, r.decision, r);
      add_outcome(result.live, live_d, r);
      add_outcome(result.proposed, proposed_d, r);
      if (live_d != proposed_d) {
        const std::string change = std::string(domain::to_string(live_d)) + "->" + domain::to_string(proposed_d);
        ++result.changes[change];
        auto& samples = result.samples[change];
        if (samples.size() < BacktestResult::kMaxSamples) samples.push_back(SampleId{r.merchant_id, r.transaction_id});
      }
      if (d.fraud) {
        LabelTotals& l = *d.fraud ? result.fraud : result.not_fraud;
        ++l.total;
        l.stopped_live += stopped(live_d) ? 1 : 0;
        l.stopped_proposed += stopped(proposed_d) ? 1 : 0;
      }
      ++result.transactions;
      control.transactions.store(result.transactions, std::memory_order_relaxed);
      control.progress.store(
          std::clamp(static_cast<double>((r.decided_at - request.since).count()) / span_ms, 0.0, 1.0),
          std::memory_order_relaxed);
    }
    return Ok{};
  };
  if (auto st = run_prefetched(source, warm_from, request.until, sink); !st.ok()) return st.error();
  if (control.cancel.load()) return make_error("conflict", "the backtest was cancelled");

  result.precision_live = ratio(result.fraud.stopped_live, result.fraud.stopped_live + result.not_fraud.stopped_live);
  result.precision_proposed =
      ratio(result.fraud.stopped_proposed, result.fraud.stopped_proposed + result.not_fraud.stopped_proposed);
  result.recall_live = ratio(result.fraud.stopped_live, result.fraud.total);
  result.recall_proposed = ratio(result.fraud.stopped_proposed, result.fraud.total);
  control.progress.store(1.0);
  return result;
}

}  // namespace txv::decide

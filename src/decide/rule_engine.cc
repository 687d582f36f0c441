#include "decide/rule_engine.h"

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <limits>
#include <type_traits>
#include <utility>

#include "common/json_text.h"
#include "decide/decision_trace.h"
#include "decide/transaction_activation.h"
#include "domain/time.h"
#include "rules/expression.h"

namespace txv::decide {

namespace {

// The engine maps rules::VelocityKey to cache::VelocityKey by value.
static_assert(static_cast<int>(rules::VelocityKey::kCard) == static_cast<int>(cache::VelocityKey::kCard) &&
              static_cast<int>(rules::VelocityKey::kMerchant) == static_cast<int>(cache::VelocityKey::kMerchant) &&
              rules::kVelocityKeyCount == cache::kVelocityKeyCount);

constexpr std::chrono::milliseconds kMinRetention = std::chrono::hours(1);
// The start-up rebuild loads a little more than the retention (the counters keep a grace period past it).
constexpr std::chrono::milliseconds kRebuildSlack = std::chrono::minutes(1);

// Runs blocking `fn` on the admin executor (or inline without one) and resumes on the caller's executor.
template <class F>
Task<std::invoke_result_t<F&>> on_admin(const Executor& admin, F fn) {
  if (admin) co_return co_await run_on(admin, std::move(fn));
  co_return fn();
}

// Keeps a decision counted until it is stored (commit) or uncounts it (release). Unsettled when destroyed (an
// exception between evaluating and storing): released in the background on the decision's executor.
class CounterReservation final : public Reservation {
 public:
  CounterReservation(cache::VelocityCounters& counters, cache::VelocityTicket ticket, Executor home)
      : counters_(counters), ticket_(std::move(ticket)), home_(std::move(home)) {}
  ~CounterReservation() override {
    if (!settled_) asio::co_spawn(home_, cancel_later(counters_, std::move(ticket_)), asio::detached);
  }
  CounterReservation(const CounterReservation&) = delete;
  CounterReservation& operator=(const CounterReservation&) = delete;

  void commit() override { settled_ = true; }
  Task<Status> release() override {
    settled_ = true;
    co_return co_await counters_.cancel(ticket_);
  }

 private:
  static Task<void> cancel_later(cache::VelocityCounters& counters, cache::VelocityTicket ticket) {
    (void)co_await counters.cancel(ticket);
  }

  cache::VelocityCounters& counters_;
  cache::VelocityTicket ticket_;
  Executor home_;
  bool settled_ = false;
};

}  // namespace

RuleEngine::RuleEngine(RuleEngineOptions options, cache::VelocityCounters& counters, cache::VelocityHistory* history)
    : options_(std::move(options)), counters_(counters), history_(history) {
  if (!options_.now) options_.now = domain::now_millis;
  if (options_.history_chunk == 0) options_.history_chunk = 131072;
  for (auto& r : retention_ms_) r.store(kMinRetention.count());
  if (history_ != nullptr) (void)history_->set_retention(cache::same_retention(kMinRetention), options_.now());
  std::lock_guard lock(write_mu_);
  compiled_ = compile({}, 0).rules;
  publish_locked();
}

RuleEngine::Compiled RuleEngine::compile(const std::vector<store::RuleRecord>& records, std::int64_t rules_version) {
  std::vector<const store::RuleRecord*> ordered;
  for (const auto& r : records) {
    if (r.mode != store::RuleMode::kDisabled) ordered.push_back(&r);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
  });
  Compiled out;
  auto rules = std::make_shared<CompiledRules>();
  rules::RuleSet::Builder builder;
  for (const auto* r : ordered) {
    auto compiled = rules::compile(r->expression);
    if (!compiled.ok()) {
      out.problems.push_back("rule " + r->id + ": " + compiled.error().message);
      continue;
    }
    RuleMeta meta{r->id, r->code, r->action, r->priority, r->mode == store::RuleMode::kShadow, {}, {}};
    meta.trace_head = "[";
    append_json_string(meta.trace_head, r->id);
    meta.trace_head += "," + std::to_string(r->version) + (meta.shadow ? ",\"s\",\"" : ",\"e\",\"");
    for (const auto& expr : compiled.value().trace_exprs()) {
      std::string quoted;
      append_json_string(quoted, expr);
      auto it = std::find(rules->trace_exprs.begin(), rules->trace_exprs.end(), quoted);
      if (it == rules->trace_exprs.end()) it = rules->trace_exprs.insert(rules->trace_exprs.end(), std::move(quoted));
      meta.trace_value_ids.push_back(static_cast<std::uint32_t>(it - rules->trace_exprs.begin()));
    }
    builder.add(std::move(compiled).value(), rules->meta.size());
    rules->meta.push_back(std::move(meta));
  }
  rules->set = builder.build();
  rules->rules_version = rules_version;
  rules->trace_layout = "{\"r\":[";
  for (std::size_t i = 0; i < rules->set->size(); ++i) {
    const auto& m = rules->meta[rules->set->tag(i)];
    if (i > 0) rules->trace_layout.push_back(',');
    rules->trace_layout.append(m.trace_head, 0, m.trace_head.size() - 1);  // `[ID,VERSION,"MODE",`
    rules->trace_layout.push_back('[');
    for (std::size_t v = 0; v < m.trace_value_ids.size(); ++v) {
      if (v > 0) rules->trace_layout.push_back(',');
      rules->trace_layout += std::to_string(m.trace_value_ids[v]);
    }
    rules->trace_layout += "]]";
  }
  rules->trace_layout += "],\"x\":[";
  for (std::size_t x = 0; x < rules->trace_exprs.size(); ++x) {
    if (x > 0) rules->trace_layout.push_back(',');
    rules->trace_layout += rules->trace_exprs[x];
  }
  rules->trace_layout += "]}";
  // Per key: max(1 h, the longest window of a rule reading that key); a key no rule reads keeps 1 h.
  rules->retention = cache::same_retention(kMinRetention);
  for (const auto& v : rules->set->velocities()) {
    rules->velocity_queries.push_back(
        cache::VelocityQuery{static_cast<cache::VelocityKey>(v.key), v.window_seconds * 1000});
    auto& kept = rules->retention[static_cast<std::size_t>(v.key)];
    kept = std::max(kept, std::chrono::milliseconds(v.window_seconds * 1000));
  }
  out.rules = std::move(rules);
  return out;
}

Task<std::vector<std::string>> RuleEngine::replace_rules(std::vector<store::RuleRecord> records,
                                                         std::int64_t rules_version) {
  AsyncKeyLock::Guard turn = co_await changes_.lock("rules");  // one change at a time, in call order
  std::int64_t live_version = 0;
  {
    std::lock_guard lock(write_mu_);
    live_version = compiled_->rules_version;
  }
  if (rules_version < live_version) {  // a reload that lost a race with a later one
    co_return std::vector<std::string>{"rules_version " + std::to_string(rules_version) + " is older than the live " +
                                       std::to_string(live_version) + ": not applied"};
  }
  Compiled compiled =
      co_await on_admin(options_.admin, [&records, rules_version] { return compile(records, rules_version); });
  std::vector<std::string> problems = std::move(compiled.problems);
  if (options_.traces && options_.trace_layouts != nullptr && compiled.rules->set->size() > 0) {
    const std::string id = trace_layout_id(compiled.rules->trace_layout);
    Status saved = co_await options_.trace_layouts->save_trace_layout(id, compiled.rules->trace_layout);
    if (saved.ok()) {
      compiled.rules->trace_layout_id = id;
    } else {
      problems.push_back("trace layout not stored (decisions keep self-contained traces): " + saved.error().message);
    }
  }
  const cache::KeyRetention wanted = compiled.rules->retention;
  const cache::KeyRetention held = velocity_retentions();
  cache::KeyRetention grown = held;  // the keys that grow, grown; the others as held until the set is live
  bool grows = false, shrinks = false;
  for (std::size_t k = 0; k < cache::kVelocityKeyCount; ++k) {
    if (wanted[k] > held[k]) {
      grown[k] = wanted[k];
      grows = true;
    }
    shrinks = shrinks || wanted[k] < held[k];
  }

  if (history_ != nullptr && grows) {
    // The new rules look further back under some key than the counters remember: backfill those keys before the
    // rules go live. Decisions go on with the old rules meanwhile.
    Status backfilled = co_await on_admin(options_.admin, [this, grown] { return grow_history(grown); });
    if (!backfilled.ok()) problems.push_back("velocity backfill: " + backfilled.error().message);
  }
  {
    std::lock_guard lock(write_mu_);
    compiled_ = std::move(compiled.rules);
    publish_locked();
  }
  if (history_ != nullptr && shrinks) {
    // No live rule reads that far back under some key any more: drop it and give the memory back.
    (void)co_await on_admin(options_.admin, [this, wanted] { return shrink_history(wanted); });
  }
  co_return problems;
}

Status RuleEngine::grow_history(const cache::KeyRetention& retention) {
  std::lock_guard lock(history_mu_);
  const cache::KeyRetention previous = velocity_retentions();
  const cache::KeyRanges ranges = history_->set_retention(retention, options_.now());
  store_retention(retention);
  if (cache::all_empty(ranges) || !history_loaded_ || options_.history == nullptr) return Ok{};
  // Only the events older than what the counters hold, of the keys that grew, built off the request path.
  auto batch = history_->new_batch(ranges);
  Status done = load_history(ranges, *batch);
  if (done.ok()) done = history_->merge_older(std::move(batch), ranges);
  if (!done.ok()) {
    // Back to the previous retention, which drops whatever part was merged; the next change retries.
    (void)history_->set_retention(previous, options_.now());
    store_retention(previous);
  }
  return done;
}

Status RuleEngine::shrink_history(const cache::KeyRetention& retention) {
  std::lock_guard lock(history_mu_);
  // Only down: a key whose growth failed keeps what it holds (the next change retries the backfill).
  cache::KeyRetention target = velocity_retentions();
  for (std::size_t k = 0; k < cache::kVelocityKeyCount; ++k) target[k] = std::min(target[k], retention[k]);
  (void)history_->set_retention(target, options_.now());
  store_retention(target);
  return Ok{};
}

Status RuleEngine::rebuild_counters() {
  std::lock_guard lock(history_mu_);
  history_loaded_ = true;
  if (history_ == nullptr || options_.history == nullptr) return Ok{};
  const cache::KeyRetention retention = velocity_retentions();
  const domain::TimePoint now = options_.now();
  (void)history_->set_retention(retention, now);
  // Key k from now - retention[k] - slack on: one scan from the earliest of them, reading a key's field only from its
  // own start (with one 24 h card rule, the 23 h before the last hour are loaded for the card only).
  cache::KeyRanges ranges;
  for (std::size_t k = 0; k < cache::kVelocityKeyCount; ++k) {
    ranges[k] = cache::HistoryRange{now - retention[k] - kRebuildSlack, domain::TimePoint::max()};
  }
  auto batch = history_->new_batch(ranges);
  if (Status scanned = load_history(ranges, *batch); !scanned.ok()) return scanned;
  return history_->replace_all(std::move(batch), ranges);
}

Status RuleEngine::load_history(const cache::KeyRanges& ranges, cache::VelocityHistory::Batch& batch) {
  // One scan of the union of the ranges, reading a key's field only from its range's start (the batch keeps key k
  // of an event only within ranges[k]).
  const cache::HistoryRange scan = cache::hull(ranges);
  return options_.history->scan_velocity_events(
      scan.since, scan.until, options_.history_chunk, cache::scan_fields(ranges),
      [&batch](std::span<const store::VelocityEvent> events) { return batch.add(events); });
}

std::chrono::milliseconds RuleEngine::velocity_retention() const { return cache::longest(velocity_retentions()); }

cache::KeyRetention RuleEngine::velocity_retentions() const {
  cache::KeyRetention out;
  for (std::size_t k = 0; k < cache::kVelocityKeyCount; ++k)
    out[k] = std::chrono::milliseconds(retention_ms_[k].load());
  return out;
}

void RuleEngine::store_retention(const cache::KeyRetention& retention) {
  for (std::size_t k = 0; k < cache::kVelocityKeyCount; ++k) retention_ms_[k].store(retention[k].count());
}

std::shared_ptr<const ListEntries> RuleEngine::freed_on_admin(std::shared_ptr<const ListEntries> entries) const {
  if (!entries || !options_.admin) return entries;
  const ListEntries* raw = entries.get();
  // The last reference (often a decision's snapshot, on an I/O thread) only posts; the admin executor frees.
  return std::shared_ptr<const ListEntries>(
      raw, [held = std::move(entries), admin = options_.admin](const ListEntries*) mutable {
        asio::post(admin, [h = std::move(held)]() mutable { h.reset(); });
      });
}

void RuleEngine::set_list(const std::string& name, std::shared_ptr<const ListEntries> entries) {
  entries = freed_on_admin(std::move(entries));
  std::shared_ptr<const ListEntries> replaced;  // dropped after unlocking
  std::lock_guard lock(write_mu_);
  auto it = lists_.find(name);
  if (it != lists_.end()) replaced = std::move(it->second);
  if (entries) {
    if (it != lists_.end()) {
      it->second = std::move(entries);
    } else {
      lists_.emplace(name, std::move(entries));
    }
  } else if (it != lists_.end()) {
    lists_.erase(it);
  }
  publish_locked();
}

std::shared_ptr<const ListEntries> RuleEngine::list(const std::string& name) const {
  std::lock_guard lock(write_mu_);
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : it->second;
}

std::int64_t RuleEngine::rules_version() const { return snapshot_.load()->rules->rules_version; }

void RuleEngine::publish_locked() {
  auto snap = std::make_shared<Snapshot>();
  snap->rules = compiled_;
  for (const auto& ref : compiled_->set->lists()) {
    auto it = lists_.find(ref.name);
    snap->lists.push_back(it == lists_.end() ? nullptr : it->second);
  }
  snapshot_.store(std::move(snap));
}

Task<Result<RulesVerdict>> RuleEngine::evaluate(const DecisionInput& input) {
  std::shared_ptr<const Snapshot> snap = snapshot_.load();
  const CompiledRules& rules = *snap->rules;
  const auto& req = input.request;
  const cache::VelocityEventInput event =
      cache::to_velocity_input(cache::VelocityKeyFields{req.merchant_id, input.card.fingerprint, &req.customer.id,
                                                        &req.customer.email, &req.customer.ip, &req.customer.device_id},
                               req.amount, req.currency, input.decided_at);
  auto read = co_await counters_.read_and_record(event, rules.velocity_queries);
  if (!read.ok()) co_return Error(read.error());

  RulesVerdict verdict;
  verdict.rules_version = rules.rules_version;
  if (read->ticket.id != 0) {
    verdict.reservation =
        std::make_unique<CounterReservation>(counters_, std::move(read->ticket), co_await asio::this_coro::executor);
  }
  match(rules, TransactionActivation(input.request, input.card, snap->lists, read->totals), verdict.matches,
        options_.traces ? &verdict.trace : nullptr);
  co_return verdict;
}

// Not a coroutine: its thread_local scratch is looked up on the thread that runs it (a coroutine may resume on
// another thread than the one it started on, and a TLS address must not be reused across a suspension).
void RuleEngine::match(const CompiledRules& rules, const rules::Activation& activation, std::vector<RuleMatch>& out,
                       std::string* trace) {
  if (trace == nullptr || rules.set->size() == 0) {  // no rules: nothing to trace, nothing stored
    thread_local std::vector<bool> matched;
    rules.set->evaluate(activation, matched);
    for (std::size_t i = 0; i < matched.size(); ++i) {
      if (!matched[i]) continue;
      const auto& m = rules.meta[rules.set->tag(i)];
      out.push_back(RuleMatch{m.id, m.code, m.action, m.priority, m.shadow});
    }
    return;
  }
  thread_local std::vector<rules::TraceValue> values;
  thread_local std::vector<std::int32_t> value_index;  // by CompiledRules::trace_exprs id: index in "x", or -1
  thread_local std::string x;
  value_index.assign(rules.trace_exprs.size(), -1);
  x.clear();
  std::string& t = *trace;
  if (!rules.trace_layout_id.empty()) {
    // With a stored layout (decide/decision_trace.h, "f":2): the results, the rules that read only part of their
    // expressions, and the decision's distinct values once each, by their index in the layout.
    thread_local std::string partial;
    partial.clear();
    t.reserve(rules.set->size() + 160);
    t += "{\"f\":2,\"l\":\"";
    t += rules.trace_layout_id;
    t += "\",\"r\":\"";
    for (std::size_t i = 0; i < rules.set->size(); ++i) {
      const auto& m = rules.meta[rules.set->tag(i)];
      values.resize(m.trace_value_ids.size());
      const rules::Outcome outcome = rules.set->evaluate_traced(i, activation, values);
      if (outcome == rules::Outcome::kTrue) out.push_back(RuleMatch{m.id, m.code, m.action, m.priority, m.shadow});
      t.push_back(outcome == rules::Outcome::kTrue ? 'm' : outcome == rules::Outcome::kFalse ? 'n' : 'a');
      bool read_all = true;
      for (std::size_t v = 0; v < values.size(); ++v) {
        const rules::TraceValue& value = values[v];
        if (value.kind == rules::TraceValue::Kind::kUnread) {
          read_all = false;
          continue;
        }
        const std::uint32_t id = m.trace_value_ids[v];
        if (value_index[id] >= 0) continue;
        value_index[id] = 1;
        if (!x.empty()) x.push_back(',');
        x.push_back('[');
        append_json_int(x, id);
        x.push_back(',');
        append_trace_value(x, value);
        x.push_back(']');
      }
      if (read_all) continue;
      if (!partial.empty()) partial.push_back(',');
      partial.push_back('[');
      append_json_int(partial, static_cast<std::int64_t>(i));
      partial += ",[";
      bool first = true;
      for (std::size_t v = 0; v < values.size(); ++v) {
        if (values[v].kind == rules::TraceValue::Kind::kUnread) continue;
        if (!first) partial.push_back(',');
        first = false;
        append_json_int(partial, static_cast<std::int64_t>(v));
      }
      partial += "]]";
    }
    t += "\"";
    if (!partial.empty()) {
      t += ",\"u\":[";
      t += partial;
      t += "]";
    }
    t += ",\"v\":[";
    t += x;
    t += "]}";
    return;
  }
  // Self-contained ("f":1): rules, then the decision's distinct values once each.
  std::int32_t distinct = 0;
  t.reserve(48 * rules.set->size() + 16);
  t += "{\"f\":1,\"r\":[";
  for (std::size_t i = 0; i < rules.set->size(); ++i) {
    const auto& m = rules.meta[rules.set->tag(i)];
    values.resize(m.trace_value_ids.size());
    const rules::Outcome outcome = rules.set->evaluate_traced(i, activation, values);
    if (outcome == rules::Outcome::kTrue) out.push_back(RuleMatch{m.id, m.code, m.action, m.priority, m.shadow});
    if (i > 0) t.push_back(',');
    t += m.trace_head;
    t += outcome == rules::Outcome::kTrue ? "m\",[" : outcome == rules::Outcome::kFalse ? "n\",[" : "a\",[";
    bool first = true;
    for (std::size_t v = 0; v < values.size(); ++v) {
      const rules::TraceValue& value = values[v];
      if (value.kind == rules::TraceValue::Kind::kUnread) continue;
      const std::uint32_t id = m.trace_value_ids[v];
      if (value_index[id] < 0) {
        value_index[id] = distinct++;
        if (!x.empty()) x.push_back(',');
        x.push_back('[');
        x += rules.trace_exprs[id];
        x.push_back(',');
        append_trace_value(x, value);
        x.push_back(']');
      }
      if (!first) t.push_back(',');
      first = false;
      append_json_int(t, value_index[id]);
    }
    t += "]]";
  }
  t += "],\"x\":[";
  t += x;
  t += "]}";
}

void RuleEngine::append_trace_value(std::string& out, const rules::TraceValue& value) {
  switch (value.kind) {
    case rules::TraceValue::Kind::kAbsent:
    case rules::TraceValue::Kind::kUnread:
      out += "null";
      break;
    case rules::TraceValue::Kind::kInt:
      append_json_int(out, value.i);
      break;
    case rules::TraceValue::Kind::kBool:
      out += value.i != 0 ? "true" : "false";
      break;
    case rules::TraceValue::Kind::kString:
      append_json_string(out, value.s);
      break;
  }
}

}  // namespace txv::decide

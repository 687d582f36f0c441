#include "decide/rule_engine.h"

#include <algorithm>
#include <cctype>
#include <shared_mutex>

#include "domain/time.h"
#include "rules/expression.h"

namespace txv::decide {

namespace {

// The engine maps rules::VelocityKey to cache::VelocityKey by value.
static_assert(static_cast<int>(rules::VelocityKey::kCard) == static_cast<int>(cache::VelocityKey::kCard) &&
              static_cast<int>(rules::VelocityKey::kMerchant) == static_cast<int>(cache::VelocityKey::kMerchant) &&
              rules::kVelocityKeyCount == cache::kVelocityKeyCount);

constexpr std::chrono::milliseconds kMinRetention = std::chrono::hours(1);

std::optional<std::string_view> present(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return std::string_view(s);
}
std::optional<std::string_view> present(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::string_view(*s);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads one transaction for the compiled rules. Lives for one evaluation.
class TransactionActivation final : public rules::Activation {
 public:
  TransactionActivation(const DecisionInput& input, const std::vector<std::shared_ptr<const ListEntries>>& lists,
                        const std::vector<std::optional<cache::VelocityTotals>>& velocities)
      : req_(input.request), card_(input.card), lists_(lists), velocities_(velocities) {}

  std::optional<std::int64_t> int_field(rules::Field) const override { return req_.amount; }

  std::optional<std::string_view> string_field(rules::Field f) const override {
    using rules::Field;
    switch (f) {
      case Field::kCurrency:
        return present(req_.currency);
      case Field::kType:
        return std::string_view(domain::to_string(req_.type));
      case Field::kTransactionId:
        return present(req_.transaction_id);
      case Field::kMerchantId:
        return present(req_.merchant_id);
      case Field::kCardBrand:
        return present(card_.brand);
      case Field::kCardBin:
        return present(card_.bin);
      case Field::kCardLast4:
        return present(card_.last4);
      case Field::kCardFingerprint:
        return present(card_.fingerprint);
      case Field::kCustomerId:
        return present(req_.customer.id);
      case Field::kCustomerEmail:
        return present(req_.customer.email);
      case Field::kCustomerIp:
        return present(req_.customer.ip);
      case Field::kCustomerCountry:
        return present(req_.customer.country);
      case Field::kCustomerDeviceId:
        return present(req_.customer.device_id);
      case Field::kMerchantMcc:
        return present(req_.merchant.mcc);
      case Field::kMerchantCountry:
        return present(req_.merchant.country);
      case Field::kAmount:
        break;
    }
    return std::nullopt;
  }

  std::optional<std::string_view> metadata(rules::MetadataSlot, std::string_view key) const override {
    auto it = req_.metadata.find(key);
    if (it == req_.metadata.end()) return std::nullopt;
    return std::string_view(it->second);
  }

  bool list_contains(rules::ListSlot slot, std::string_view value) const override {
    if (slot >= lists_.size() || !lists_[slot]) return false;
    return lists_[slot]->find(value) != lists_[slot]->end();
  }

  std::optional<rules::VelocityValue> velocity(rules::VelocitySlot slot) const override {
    if (slot >= velocities_.size() || !velocities_[slot]) return std::nullopt;
    return rules::VelocityValue{velocities_[slot]->count, velocities_[slot]->amount};
  }

 private:
  const domain::TransactionRequest& req_;
  const domain::CardSummary& card_;
  const std::vector<std::shared_ptr<const ListEntries>>& lists_;
  const std::vector<std::optional<cache::VelocityTotals>>& velocities_;
};

// Holds the engine's counting gate (shared) from reading the counters until the
// decision is stored or abandoned, so a rebuild never loses a counted decision.
class CounterReservation final : public Reservation {
 public:
  CounterReservation(cache::VelocityCounters& counters, cache::VelocityTicket ticket,
                     std::shared_lock<std::shared_mutex> gate)
      : counters_(counters), ticket_(ticket), gate_(std::move(gate)) {}
  void commit() override { gate_ = {}; }
  void release() override {
    if (gate_.owns_lock()) counters_.cancel(ticket_);
    gate_ = {};
  }

 private:
  cache::VelocityCounters& counters_;
  cache::VelocityTicket ticket_;
  std::shared_lock<std::shared_mutex> gate_;
};

}  // namespace

RuleEngine::RuleEngine(RuleEngineOptions options, cache::VelocityCounters& counters)
    : options_(std::move(options)), counters_(counters) {
  if (!options_.now) options_.now = domain::now_millis;
  std::lock_guard lock(write_mu_);
  compiled_ = rules::RuleSet::Builder().build();
  retention_ = kMinRetention;
  counters_.set_retention(retention_);
  publish_locked();
}

std::chrono::milliseconds RuleEngine::retention_for(const rules::RuleSet& set) const {
  std::chrono::milliseconds longest = kMinRetention;
  for (const auto& v : set.velocities()) {
    longest = std::max(longest, std::chrono::milliseconds(v.window_seconds * 1000));
  }
  return longest;
}

std::vector<std::string> RuleEngine::replace_rules(const std::vector<store::RuleRecord>& records,
                                                   std::int64_t rules_version) {
  std::vector<const store::RuleRecord*> ordered;
  for (const auto& r : records) {
    if (r.mode != store::RuleMode::kDisabled) ordered.push_back(&r);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
  });
  std::vector<std::string> problems;
  rules::RuleSet::Builder builder;
  std::vector<RuleMeta> meta;
  for (const auto* r : ordered) {
    auto compiled = rules::compile(r->expression);
    if (!compiled.ok()) {
      problems.push_back("rule " + r->id + ": " + compiled.error().message);
      continue;
    }
    builder.add(std::move(compiled).value(), meta.size());
    meta.push_back(RuleMeta{r->id, r->code, r->action, r->priority, r->mode == store::RuleMode::kShadow});
  }
  auto set = builder.build();

  std::lock_guard lock(write_mu_);
  auto retention = retention_for(*set);
  if (retention > retention_) {
    // The new rules look further back than the counters remember: backfill
    // from stored decisions before they go live.
    retention_ = retention;
    counters_.set_retention(retention_);
    if (history_loaded_) {
      if (auto s = rebuild_locked(); !s.ok()) problems.push_back("velocity backfill: " + s.error().message);
    }
  }
  compiled_ = std::move(set);
  compiled_meta_ = std::move(meta);
  compiled_version_ = rules_version;
  publish_locked();
  return problems;
}

Status RuleEngine::rebuild_counters() {
  std::lock_guard lock(write_mu_);
  return rebuild_locked();
}

Status RuleEngine::rebuild_locked() {
  history_loaded_ = true;
  if (!options_.load_history) return Ok{};
  // Wait until every counted decision is stored (or abandoned) and hold new
  // ones back, so the stored history is exactly what the counters held.
  std::lock_guard turnstile(turnstile_);  // new decisions wait here, so the gate cannot starve us
  std::unique_lock gate(counting_gate_);
  auto since = options_.now() - retention_;
  auto events = options_.load_history(since);
  if (!events.ok()) return Error(events.error());
  for (auto& e : *events) {
    if (e.email) *e.email = lower(std::move(*e.email));  // as evaluate() keys them
  }
  return counters_.rebuild(*events);
}

void RuleEngine::set_list(const std::string& name, std::shared_ptr<const ListEntries> entries) {
  std::lock_guard lock(write_mu_);
  if (entries) {
    lists_[name] = std::move(entries);
  } else {
    lists_.erase(name);
  }
  publish_locked();
}

std::shared_ptr<const ListEntries> RuleEngine::list(const std::string& name) const {
  std::lock_guard lock(write_mu_);
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : it->second;
}

std::int64_t RuleEngine::rules_version() const { return snapshot_.load()->rules_version; }

void RuleEngine::publish_locked() {
  auto snap = std::make_shared<Snapshot>();
  snap->set = compiled_;
  snap->meta = compiled_meta_;
  snap->rules_version = compiled_version_;
  for (const auto& ref : compiled_->lists()) {
    auto it = lists_.find(ref.name);
    snap->lists.push_back(it == lists_.end() ? nullptr : it->second);
  }
  for (const auto& v : compiled_->velocities()) {
    snap->velocity_queries.push_back(
        cache::VelocityQuery{static_cast<cache::VelocityKey>(v.key), v.window_seconds * 1000});
  }
  snapshot_.store(std::move(snap));
}

Result<RulesVerdict> RuleEngine::evaluate(const DecisionInput& input) {
  std::unique_lock turnstile(turnstile_);
  std::shared_lock gate(counting_gate_);
  turnstile.unlock();
  std::shared_ptr<const Snapshot> snap = snapshot_.load();
  const auto& req = input.request;

  cache::VelocityEventInput event;
  auto key = [&event](cache::VelocityKey k) -> std::optional<std::string>& {
    return event.keys[static_cast<std::size_t>(k)];
  };
  if (!input.card.fingerprint.empty()) key(cache::VelocityKey::kCard) = input.card.fingerprint;
  key(cache::VelocityKey::kCustomer) = req.customer.id;
  if (req.customer.email) key(cache::VelocityKey::kEmail) = lower(*req.customer.email);
  key(cache::VelocityKey::kIp) = req.customer.ip;
  key(cache::VelocityKey::kDevice) = req.customer.device_id;
  key(cache::VelocityKey::kMerchant) = req.merchant_id;
  event.amount = req.amount;
  event.currency = req.currency;
  event.at = input.decided_at;
  auto read = counters_.read_and_record(event, snap->velocity_queries);
  if (!read.ok()) return Error(read.error());

  RulesVerdict verdict;
  verdict.rules_version = snap->rules_version;
  verdict.reservation = std::make_unique<CounterReservation>(counters_, read->ticket, std::move(gate));

  TransactionActivation activation(input, snap->lists, read->totals);
  thread_local std::vector<bool> matched;
  snap->set->evaluate(activation, matched);
  for (std::size_t i = 0; i < matched.size(); ++i) {
    if (!matched[i]) continue;
    const auto& m = snap->meta[snap->set->tag(i)];
    verdict.matches.push_back(RuleMatch{m.id, m.code, m.action, m.priority, m.shadow});
  }
  return verdict;
}

}  // namespace txv::decide

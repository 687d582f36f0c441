// Value types kept by the stores beside DecisionRecord (domain/transaction.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "domain/transaction.h"

namespace txv::store {

using domain::TimePoint;

enum class Role { kAdmin, kAnalyst, kValidator };
const char* to_string(Role r);
std::optional<Role> parse_role(std::string_view s);

struct ApiKey {
  std::string id;    // public identifier, e.g. "key_3f9a..."
  std::string name;  // shown as `actor` / `by`
  Role role = Role::kValidator;
  std::optional<std::string> merchant_id;  // validator scoping
  std::string secret_hash;                 // hex SHA-256 of the secret; the secret is never stored
  TimePoint created_at{};
  std::optional<TimePoint> last_used_at;  // coarse (about a minute)
  std::optional<TimePoint> revoked_at;    // set: the key is refused everywhere
  bool operator==(const ApiKey&) const = default;
};

// A console session (contract section 13). The cookie's token is never
// stored: `id_hash` is its hex SHA-256, as for API keys. The session acts
// with the key whose secret hash is `key_hash`, so revoking the key ends it.
struct Session {
  std::string id_hash;
  std::string key_hash;
  std::string csrf_token;
  TimePoint created_at{};
  TimePoint expires_at{};    // absolute end (12 h after creation)
  TimePoint last_seen_at{};  // coarse (about a minute); idle end = last_seen_at + idle timeout
  bool operator==(const Session&) const = default;
};

enum class RuleMode { kEnforce, kShadow, kDisabled };
const char* to_string(RuleMode m);
std::optional<RuleMode> parse_rule_mode(std::string_view s);

struct RuleRecord {
  std::string id;
  std::string name;
  std::string expression;
  domain::RuleAction action = domain::RuleAction::kDecline;
  std::string code;
  std::int64_t priority = 0;
  RuleMode mode = RuleMode::kEnforce;
  std::int64_t version = 1;
  TimePoint created_at{};
  TimePoint updated_at{};
  bool operator==(const RuleRecord&) const = default;
};

// The outcome of RuleStore::replace_rule_set.
struct RuleSetChange {
  std::vector<RuleRecord> rules;  // the live set after, ordered by priority, then id (bytewise)
  std::int64_t rules_version = 0;
  std::vector<std::string> created, updated, deleted;  // ids, each list sorted
};

// What replace_rule_set does to `live` to make `wanted` the set (shared by
// the back-ends). Rules are compared on name, expression, action, code,
// priority and mode only.
struct RuleSetPlan {
  std::vector<RuleRecord> create;                         // as stored: version 1, times = now
  std::vector<std::pair<RuleRecord, RuleRecord>> update;  // {before, after}: version + 1, updated_at = now
  std::vector<RuleRecord> remove;                         // as they were
  std::vector<RuleRecord> after;                          // the live set after, ordered by priority, then id
  bool empty() const { return create.empty() && update.empty() && remove.empty(); }
  RuleSetChange change(std::int64_t rules_version) const;
};
// invalid_argument when `wanted` has an empty or repeated id.
Result<RuleSetPlan> plan_rule_set(const std::vector<RuleRecord>& live, std::vector<RuleRecord> wanted, TimePoint now);

struct ListSummary {
  std::string name;
  std::int64_t entry_count = 0;
  TimePoint updated_at{};
  bool operator==(const ListSummary&) const = default;
};

// One audit log entry. before/after are JSON documents as text ("null" when
// absent), produced by the store from the changed object.
struct AuditEntry {
  std::int64_t id = 0;
  TimePoint at{};
  std::string actor;
  std::string action;       // "create" | "update" | "delete" | "replace" | "add_entries" | "remove_entry" | "resolve"
  std::string object_type;  // "rule" | "list" | "transaction"
  std::string object_id;
  std::string before_json = "null";
  std::string after_json = "null";
};

// Ground truth about a decided transaction (contract section 9). Labels are a
// history; the transaction's label is its latest by `at` (tie: the latest
// stored).
enum class LabelValue { kFraud, kNotFraud };
const char* to_string(LabelValue v);
std::optional<LabelValue> parse_label_value(std::string_view s);

enum class LabelSource { kChargeback, kIssuerAlert, kManual, kCustomerReport };
const char* to_string(LabelSource s);
std::optional<LabelSource> parse_label_source(std::string_view s);

struct Label {
  std::string merchant_id;
  std::string transaction_id;
  LabelValue value = LabelValue::kFraud;
  LabelSource source = LabelSource::kManual;
  std::optional<std::string> reason;  // free text, checked for card numbers by the caller
  TimePoint at{};                     // when it became known (the caller's, or the request time)
  std::string by;                     // the API key's name
  bool operator==(const Label&) const = default;
};

// A stored decision as a backtest replays it, with its current label.
struct ReplayedDecision {
  domain::DecisionRecord record;
  std::optional<bool> fraud;  // the current label: true = fraud, false = not_fraud; nullopt: unlabelled
};

// A backtest job (contract section 11) as stored: the job's state, not its
// request (the rules are kept by the process that runs it, in memory). Times in
// milliseconds. `heartbeat_at` is moved forward by the process running the job
// (about once a second); a running job whose heartbeat is older than the stale
// limit is one no process runs any more.
enum class BacktestStatus { kRunning, kDone, kFailed, kCancelled };
const char* to_string(BacktestStatus s);
std::optional<BacktestStatus> parse_backtest_status(std::string_view s);

struct BacktestRecord {
  std::string id;  // "bt_" + 16 hex digits
  BacktestStatus status = BacktestStatus::kRunning;
  double progress = 0;  // 0..1
  std::int64_t transactions = 0;
  std::string by;  // the API key's name
  TimePoint created_at{};
  std::optional<TimePoint> finished_at;
  TimePoint since{};
  TimePoint until{};
  std::optional<std::string> merchant_id;
  std::string error;                       // kFailed: why ("" otherwise)
  std::optional<std::string> result_json;  // kDone: the result as a JSON document
  TimePoint heartbeat_at{};
  bool cancel_requested = false;  // set by a cancel; the running process stops at its next progress write
  bool operator==(const BacktestRecord&) const = default;
};

// Which key fields a velocity scan must fill, by decision time: a decision
// decided before needed_from[k] may come with key k's field absent (empty for
// merchant_id and card_fingerprint), so that a scan reads only what its caller
// keeps. The caller still filters by time itself: this only allows leaving out.
// Index order: card, customer, email, ip, device, merchant (cache::VelocityKey).
struct VelocityScanFields {
  static constexpr std::size_t kKeyCount = 6;
  std::array<TimePoint, kKeyCount> needed_from;
  VelocityScanFields() { needed_from.fill(TimePoint::min()); }  // every field of every decision
};

// What the velocity counters need from one stored decision (to rebuild them).
struct VelocityEvent {
  TimePoint at{};
  std::int64_t amount = 0;
  std::string currency;
  std::string merchant_id;
  std::string card_fingerprint;
  std::optional<std::string> customer_id;
  std::optional<std::string> email;
  std::optional<std::string> ip;
  std::optional<std::string> device_id;
};

}  // namespace txv::store

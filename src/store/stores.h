// Storage contracts. One interface per role; back-ends (sqlite/, postgres/)
// implement them and are tested by one parameterised contract suite.
//
// Thread-safety: every method may be called concurrently from any thread.
// Durability: a method that changes data returns only after the change is
// committed durably (fsync'd for SQLite), or returns an Error and changed nothing.
// Errors: "not_found", "conflict", "not_reviewable", "unavailable" (database
// down or busy beyond the retry budget), "internal".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/transaction.h"
#include "store/records.h"

namespace txv::store {

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  virtual Status create_api_key(const ApiKey& key) = 0;
  virtual Result<std::optional<ApiKey>> find_api_key_by_hash(const std::string& secret_hash) = 0;
  virtual Result<std::vector<ApiKey>> list_api_keys() = 0;
};

struct InsertOutcome {
  bool inserted = false;
  domain::DecisionRecord record;  // the stored one: ours if inserted, else the earlier one
};

struct TransactionQuery {
  std::optional<std::string> merchant_id;
  std::optional<domain::Decision> decision;
  std::optional<bool> resolved;    // only meaningful for review decisions
  std::optional<TimePoint> since;  // decided_at >= since
  std::optional<TimePoint> until;  // decided_at < until
  int limit = 50;
  std::optional<std::int64_t> before_seq;  // cursor: only records with seq < before_seq
};

struct TransactionPage {
  std::vector<domain::DecisionRecord> items;    // newest first (seq descending)
  std::optional<std::int64_t> next_before_seq;  // set when more items may follow
};

class TransactionStore {
 public:
  virtual ~TransactionStore() = default;
  // Inserts unless (merchant_id, transaction_id) exists; then returns the stored
  // record with inserted=false. Assigns seq. Durable before it returns.
  virtual Result<InsertOutcome> insert_decision(const domain::DecisionRecord& record) = 0;
  virtual Result<std::optional<domain::DecisionRecord>> find_decision(const std::string& merchant_id,
                                                                      const std::string& transaction_id) = 0;
  virtual Result<TransactionPage> list_decisions(const TransactionQuery& query) = 0;
  // Records a resolution on a review decision and appends an audit entry in the
  // same database transaction. Errors: not_found, not_reviewable (not a review,
  // or already resolved).
  virtual Result<domain::DecisionRecord> resolve_review(const std::string& merchant_id,
                                                        const std::string& transaction_id,
                                                        const domain::Resolution& resolution) = 0;
  // Decisions with decided_at >= since, oldest first, for rebuilding counters.
  virtual Result<std::vector<VelocityEvent>> velocity_events_since(TimePoint since) = 0;
};

// Every change bumps rules_version and appends an audit entry in the same
// database transaction.
class RuleStore {
 public:
  virtual ~RuleStore() = default;
  virtual Result<RuleRecord> create_rule(const RuleRecord& rule, const std::string& actor) = 0;
  // Replaces the rule's fields, version = stored version + 1. not_found if absent.
  virtual Result<RuleRecord> replace_rule(const RuleRecord& rule, const std::string& actor) = 0;
  virtual Status delete_rule(const std::string& id, const std::string& actor) = 0;
  virtual Result<std::optional<RuleRecord>> find_rule(const std::string& id) = 0;
  virtual Result<std::vector<RuleRecord>> list_rules() = 0;  // ordered by priority, then id
  virtual Result<std::int64_t> rules_version() = 0;
};

// Named lists. Each change appends an audit entry (entries added/removed, not
// the whole list) in the same database transaction and bumps lists_version.
class ListStore {
 public:
  virtual ~ListStore() = default;
  virtual Result<ListSummary> replace_list(const std::string& name, const std::vector<std::string>& entries,
                                           const std::string& actor) = 0;
  virtual Result<ListSummary> add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                               const std::string& actor) = 0;
  // not_found when the list or the value does not exist.
  virtual Result<ListSummary> remove_list_entry(const std::string& name, const std::string& value,
                                                const std::string& actor) = 0;
  virtual Result<std::optional<std::vector<std::string>>> list_entries(const std::string& name) = 0;
  virtual Result<std::vector<ListSummary>> list_lists() = 0;
  virtual Result<std::int64_t> lists_version() = 0;
};

struct AuditQuery {
  std::optional<std::string> object_type;
  std::optional<std::string> object_id;
  std::optional<TimePoint> since;
  int limit = 50;
  std::optional<std::int64_t> before_id;
};

struct AuditPage {
  std::vector<AuditEntry> items;  // newest first
  std::optional<std::int64_t> next_before_id;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual Result<AuditPage> list_audit(const AuditQuery& query) = 0;
};

// Liveness of the database for /readyz and pool gauges for /metrics.
class DatabaseHealth {
 public:
  virtual ~DatabaseHealth() = default;
  virtual Status ping() = 0;
  struct PoolStats {
    int idle = 0;
    int in_use = 0;
  };
  virtual PoolStats pool_stats() = 0;
};

// A back-end implements every role; main.cc wires the roles separately.
class Database : public ApiKeyStore,
                 public TransactionStore,
                 public RuleStore,
                 public ListStore,
                 public AuditLog,
                 public DatabaseHealth {
 public:
  // Applies pending migrations. Idempotent.
  virtual Status migrate() = 0;
  // Commits pending writes and closes; further calls answer "unavailable".
  virtual void close() = 0;
};

}  // namespace txv::store

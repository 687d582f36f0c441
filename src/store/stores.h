// Storage contracts. One interface per role; back-ends (sqlite/, postgres/)
// implement them and are tested by one parameterised contract suite.
//
// Asynchronous: every data operation is a Task (common/async.h). Awaiting one
// never blocks the awaiting thread; the back-end does its blocking work (a
// SQLite call, a libpq round trip) elsewhere or on a non-blocking socket and
// resumes the caller on the caller's own executor. Arguments passed by
// reference must live until the Task completes (callers co_await at once).
// The few calls marked "blocking" are for start-up and admin work off the
// request path, never for an I/O thread.
//
// Thread-safety: every method may be called concurrently from any thread.
// Durability: a method that changes data completes only after the change is
// committed durably (fsync'd for SQLite), or returns an Error and changed nothing.
// Errors: "not_found", "conflict", "not_reviewable", "unavailable" (database
// down or busy beyond the retry budget), "internal".
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/result.h"
#include "domain/transaction.h"
#include "store/records.h"

namespace txv::store {

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  virtual Task<Status> create_api_key(const ApiKey& key) = 0;
  // Revoked keys are found too (revoked_at set); the caller refuses them.
  virtual Task<Result<std::optional<ApiKey>>> find_api_key_by_hash(const std::string& secret_hash) = 0;
  virtual Task<Result<std::vector<ApiKey>>> list_api_keys() = 0;
  // Sets revoked_at (idempotent: a second revoke keeps the first time). not_found for an unknown id.
  virtual Task<Result<ApiKey>> revoke_api_key(const std::string& id, TimePoint at) = 0;
  // Records that the key was used (coarse: callers call it at most about once a minute per key).
  virtual Task<Status> touch_api_key(const std::string& id, TimePoint at) = 0;
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
  // The transaction's current label (LabelStore): fraud, not_fraud, or none.
  enum class LabelFilter { kFraud, kNotFraud, kNone };
  std::optional<LabelFilter> label;
  std::optional<std::int64_t> min_amount;  // amount >= min_amount (minor units)
  std::optional<std::int64_t> max_amount;  // amount <= max_amount (minor units)
  // kNewestFirst: seq descending; kOldestFirst: seq ascending (the review queue, oldest first).
  enum class Order { kNewestFirst, kOldestFirst };
  Order order = Order::kNewestFirst;
  int limit = 50;
  std::optional<std::int64_t> before_seq;  // cursor of kNewestFirst: only records with seq < before_seq
  std::optional<std::int64_t> after_seq;   // cursor of kOldestFirst: only records with seq > after_seq
};

struct TransactionPage {
  std::vector<domain::DecisionRecord> items;    // in the query's order (seq descending or ascending)
  std::vector<std::optional<Label>> labels;     // each item's current label (same order and size as items)
  std::optional<std::int64_t> next_before_seq;  // kNewestFirst: set when more items may follow
  std::optional<std::int64_t> next_after_seq;   // kOldestFirst: set when more items may follow
};

// Decisions counted over decided_at in [since, until) (the analyst console's
// dashboard, GET /v1/stats).
struct DecisionStatsQuery {
  TimePoint since{};                        // inclusive; the start of the first bucket
  TimePoint until{};                        // exclusive
  std::chrono::milliseconds bucket{60000};  // > 0
};
struct DecisionStats {
  struct Bucket {
    TimePoint at{};  // start: since + i * bucket
    std::int64_t approve = 0;
    std::int64_t decline = 0;
    std::int64_t review = 0;
    bool operator==(const Bucket&) const = default;
  };
  struct RuleMatches {
    std::string rule_id;
    std::string mode;  // "enforce" (a reason with source "rule") or "shadow" (a shadow match)
    std::int64_t matches = 0;
    bool operator==(const RuleMatches&) const = default;
  };
  // Every bucket of [since, until), zeros included, oldest first: ceil((until - since) / bucket) of them.
  std::vector<Bucket> buckets;
  // Every (rule_id, mode) that matched in the window: matches descending, then rule_id, then mode.
  std::vector<RuleMatches> rules;
};

// Counting stored decisions by a velocity key (cache/velocity_keys.h: the same
// order and meaning), for velocity while the shared counters are unreachable.
enum class DecisionField { kCardFingerprint, kCustomerId, kEmailLowerCase, kIp, kDeviceId, kMerchantId };
struct DecisionCountQuery {
  DecisionField field = DecisionField::kCardFingerprint;
  std::string value;                 // kEmailLowerCase: compared with the stored e-mail lower-cased (ASCII)
  TimePoint after{};                 // decided_at > after
  std::string currency;              // `amount` sums the decisions in this currency only
  std::optional<TimePoint> until{};  // and decided_at < until, when set
};
struct DecisionCount {
  std::int64_t count = 0;
  std::int64_t amount = 0;  // saturates at INT64_MAX
};

class TransactionStore {
 public:
  virtual ~TransactionStore() = default;
  // Inserts unless (merchant_id, transaction_id) exists; then returns the stored
  // record with inserted=false. Assigns seq. Durable before it returns.
  virtual Task<Result<InsertOutcome>> insert_decision(const domain::DecisionRecord& record) = 0;
  virtual Task<Result<std::optional<domain::DecisionRecord>>> find_decision(const std::string& merchant_id,
                                                                            const std::string& transaction_id) = 0;
  virtual Task<Result<TransactionPage>> list_decisions(const TransactionQuery& query) = 0;
  // Records a resolution on a review decision and appends an audit entry in the
  // same database transaction. Errors: not_found, not_reviewable (not a review,
  // or already resolved).
  virtual Task<Result<domain::DecisionRecord>> resolve_review(const std::string& merchant_id,
                                                              const std::string& transaction_id,
                                                              const domain::Resolution& resolution) = 0;
  // Blocking (start-up and admin work only). Streams the decisions with
  // since <= decided_at < until, each once, to `sink` in chunks of at most
  // `chunk` events, for rebuilding velocity counters in bounded memory: in
  // about time order (the order they were stored in, for SQLite: a clock step
  // or a race of milliseconds may put a decision after a later one), with the
  // key fields `fields` asks for (others may be absent). The span's events are
  // valid during the sink's call only. Stops early and returns the sink's
  // error when the sink fails.
  using VelocitySink = std::function<Status(std::span<const VelocityEvent>)>;
  virtual Status scan_velocity_events(TimePoint since, TimePoint until, std::size_t chunk,
                                      const VelocityScanFields& fields, const VelocitySink& sink) = 0;
  // Blocking (admin work: backtests). Streams the stored decisions with
  // since <= decided_at < until in decision order ((decided_at, seq)
  // ascending), each with its current label, to `sink` in chunks of at most
  // `chunk`, on a connection of its own (bounded memory; decisions keep being
  // written meanwhile). Stops early with the sink's error. The records carry no
  // trace (find_trace reads it). The sink may move the decisions out of the
  // chunk (the store refills the vector).
  using DecisionSink = std::function<Status(std::vector<ReplayedDecision>& chunk)>;
  virtual Status scan_decisions(TimePoint since, TimePoint until, std::size_t chunk, const DecisionSink& sink) = 0;
  // The decision trace stored with a decision (contract section 10): nullopt
  // when none was recorded or there is no such decision.
  virtual Task<Result<std::optional<std::string>>> find_trace(const std::string& merchant_id,
                                                              const std::string& transaction_id) = 0;
  // Decisions per bucket and decision, and rule matches, over decided_at in
  // [since, until): aggregated by the database (GROUP BY over the decided_at
  // index), never by loading the decisions. A read that tolerates lag (the
  // PostgreSQL back-end asks the read replica when there is one). Default:
  // "unavailable" (a back-end that cannot aggregate).
  virtual Task<Result<DecisionStats>> decision_stats(const DecisionStatsQuery& query) {
    (void)query;
    co_return make_error("unavailable", "this store cannot aggregate decisions");
  }
  // One count per query, in order, over the stored decisions (an indexed query per
  // field). Default: "unavailable" (a back-end that cannot count).
  virtual Task<Result<std::vector<DecisionCount>>> count_decisions(std::span<const DecisionCountQuery> queries) {
    (void)queries;
    co_return make_error("unavailable", "this store cannot count decisions");
  }
};

// Labels (contract section 9): an append-only history per transaction; the
// current label is the latest by `at`, a tie going to the one stored last.
// Each stored label appends an audit entry in the same database transaction:
// action "label", object_type "transaction", object_id "merchant_id/transaction_id",
// before {"label": current label or null}, after {"label": current label,
// "added": the stored label}.
class LabelStore {
 public:
  static constexpr std::size_t kMaxBatch = 10000;
  virtual ~LabelStore() = default;
  // Stores one label. Errors: not_found (no such transaction).
  virtual Task<Result<Label>> add_label(const Label& label) = 0;
  // Stores many (at most kMaxBatch), in order, in a few bounded database
  // transactions (not one per label). One outcome per label, in order: Ok,
  // not_found for an unknown transaction (that label alone is skipped), or the
  // database's error for the labels of a chunk that could not be committed.
  virtual Task<std::vector<Status>> add_labels(std::span<const Label> labels) = 0;
  // The current label, nullopt when none (or no such transaction).
  virtual Task<Result<std::optional<Label>>> find_label(const std::string& merchant_id,
                                                        const std::string& transaction_id) = 0;
  // Every label of the transaction, oldest first by (at, stored order).
  virtual Task<Result<std::vector<Label>>> label_history(const std::string& merchant_id,
                                                         const std::string& transaction_id) = 0;
};

// Every change bumps rules_version and appends an audit entry in the same
// database transaction.
class RuleStore {
 public:
  virtual ~RuleStore() = default;
  virtual Task<Result<RuleRecord>> create_rule(const RuleRecord& rule, const std::string& actor) = 0;
  // Replaces the rule's fields, version = stored version + 1. not_found if absent.
  virtual Task<Result<RuleRecord>> replace_rule(const RuleRecord& rule, const std::string& actor) = 0;
  virtual Task<Status> delete_rule(const std::string& id, const std::string& actor) = 0;
  virtual Task<Result<std::optional<RuleRecord>>> find_rule(const std::string& id) = 0;
  virtual Task<Result<std::vector<RuleRecord>>> list_rules() = 0;  // ordered by priority, then id
  virtual Task<Result<std::int64_t>> rules_version() = 0;
  // PUT /v1/rules (contract section 12): makes `rules` (distinct, non-empty
  // ids) the whole live set in one database transaction that first checks
  // rules_version == expected_version (else version_mismatch, nothing
  // changed). A given rule whose id is live is replaced (version + 1,
  // created_at kept, updated_at = now) when any of name, expression, action,
  // code, priority or mode differs and left as it is otherwise; one not live
  // is created (version 1, created_at = updated_at = now); live rules not
  // given are deleted. One audit entry per rule created, updated or deleted,
  // as create_rule/replace_rule/delete_rule write them, and one
  // rules_version bump, only if something changed.
  virtual Task<Result<RuleSetChange>> replace_rule_set(std::vector<RuleRecord> rules, std::int64_t expected_version,
                                                       const std::string& actor, TimePoint now) = 0;
};

// Named lists. Each change appends one bounded audit entry (counts of the
// entries added and removed, a digest of the new content, and at most
// kAuditSampleEntries of each as a sample; never the whole list) in the same
// database transaction as the change and bumps lists_version.
//
// Large changes never hold the database's write path for long: a replace of
// up to 1,000,000 entries is staged in bounded chunks that decisions' commits
// interleave with, then published by one small transaction (readers and
// decisions see the old list or the new one, never a mix). A replace that
// fails part-way leaves the old list in place.
struct ListEntriesQuery {
  std::string name;
  std::string prefix;                // "" = every entry
  std::optional<std::string> after;  // keyset cursor: only entries > after
  int limit = 50;
};
struct ListEntriesPage {
  std::vector<std::string> items;  // ascending bytewise
  bool more = false;               // entries after items.back() match too
  std::int64_t total = 0;          // the list's entry count (every entry, not only the prefix's)
};

class ListStore {
 public:
  static constexpr std::size_t kAuditSampleEntries = 100;
  virtual ~ListStore() = default;
  // `entries` are distinct (the caller de-duplicates).
  virtual Task<Result<ListSummary>> replace_list(const std::string& name, const std::vector<std::string>& entries,
                                                 const std::string& actor) = 0;
  virtual Task<Result<ListSummary>> add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                                     const std::string& actor) = 0;
  // not_found when the list or the value does not exist.
  virtual Task<Result<ListSummary>> remove_list_entry(const std::string& name, const std::string& value,
                                                      const std::string& actor) = 0;
  virtual Task<Result<std::optional<std::vector<std::string>>>> list_entries(const std::string& name) = 0;
  // One page of a list's entries, ascending bytewise: those starting with
  // `prefix` (case-sensitive) and greater than `after`, at most `limit` (clamped
  // to [1, 10000]). An indexed range scan per live generation of the list: the
  // cost is O(limit), whatever the size of the list. Read in one snapshot
  // (the old content or the new, never a mix). nullopt for an unknown list.
  // `prefix` and `after` must be valid UTF-8 (entries always are), else "internal".
  virtual Task<Result<std::optional<ListEntriesPage>>> list_entries_page(const ListEntriesQuery& query) = 0;
  virtual Task<Result<std::optional<ListSummary>>> find_list(const std::string& name) = 0;
  virtual Task<Result<std::vector<ListSummary>>> list_lists() = 0;
  virtual Task<Result<std::int64_t>> lists_version() = 0;
};

struct AuditQuery {
  std::optional<std::string> object_type;
  std::optional<std::string> object_id;
  std::optional<TimePoint> since;
  int limit = 50;
  // Page by size as well as count: stop adding entries once their before/after
  // JSON exceeds this many bytes (at least one entry is always returned).
  std::size_t max_bytes = 1024 * 1024;
  std::optional<std::int64_t> before_id;
};

struct AuditPage {
  std::vector<AuditEntry> items;  // newest first
  std::optional<std::int64_t> next_before_id;
};

class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual Task<Result<AuditPage>> list_audit(const AuditQuery& query) = 0;
};

// Liveness of the database for /readyz and pool gauges for /metrics.
class DatabaseHealth {
 public:
  virtual ~DatabaseHealth() = default;
  virtual Task<Status> ping() = 0;
  // A small durable write that no reader depends on: can this replica still
  // persist (disk full, database read-only after a failover)? Readiness uses
  // it to notice that writes work again. Default: ping().
  virtual Task<Status> probe_write() { return ping(); }
  struct PoolStats {
    int idle = 0;
    int in_use = 0;
  };
  virtual PoolStats pool_stats() = 0;
};

// The layouts of decision traces (decide/decision_trace.h): what every trace
// of one compiled rule set shares, stored once under a content-derived id.
class TraceLayoutStore {
 public:
  virtual ~TraceLayoutStore() = default;
  // Idempotent: an id already stored keeps its layout (equal ids, equal text).
  virtual Task<Status> save_trace_layout(const std::string& id, const std::string& layout) = 0;
  virtual Task<Result<std::optional<std::string>>> find_trace_layout(const std::string& id) = 0;
};

// Console sessions (contract section 13): in the database when embedded, in
// Redis in replica mode (cache/redis/redis_session_store.h), so any replica
// serves any session. A store may forget a session once it expired (absolute
// or idle end); callers still check both ends themselves.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  // Also forgets the sessions that ended before session.created_at (bounded
  // storage without a sweeper). `idle_timeout` is how long a session lives
  // after its last touch.
  virtual Task<Status> create_session(const Session& session, std::chrono::milliseconds idle_timeout) = 0;
  virtual Task<Result<std::optional<Session>>> find_session(const std::string& id_hash) = 0;
  // Moves last_seen_at forward (never back). Errors: not_found.
  virtual Task<Status> touch_session(const std::string& id_hash, TimePoint at,
                                     std::chrono::milliseconds idle_timeout) = 0;
  // Idempotent: deleting an unknown session is Ok.
  virtual Task<Status> delete_session(const std::string& id_hash) = 0;
};

// Backtest jobs (contract section 11, decide/backtest_jobs.h): one row per
// job, so any replica answers for any job and a job outlives the process that
// ran it. Only the process running a job writes its progress and outcome;
// every write to a job is conditional on it still being running, so the first
// end (done, failed, cancelled) wins and later ones change nothing.
class BacktestStore {
 public:
  virtual ~BacktestStore() = default;
  // Stores a new job (status running). Errors: conflict (the id exists).
  virtual Task<Status> create_backtest(const BacktestRecord& job) = 0;
  // Records a running job's progress and heartbeat_at = at. Answers true when
  // the job should stop: a cancel was requested, or it is no longer running
  // (cancelled, or failed by a reader that found it stale). Errors: not_found.
  virtual Task<Result<bool>> update_backtest_progress(const std::string& id, double progress, std::int64_t transactions,
                                                      TimePoint at) = 0;
  // Ends a running job with job.status (done, failed or cancelled), progress,
  // transactions, finished_at, error and result_json; heartbeat_at =
  // finished_at. Answers false (and changes nothing) when the job was not
  // running any more. Errors: not_found.
  virtual Task<Result<bool>> finish_backtest(const BacktestRecord& job) = 0;
  // Cancels a running job: status cancelled, finished_at = at and
  // cancel_requested set (the process running it stops at its next progress
  // write). Answers the stored job. Errors: not_found; conflict (not running;
  // the message names its status).
  virtual Task<Result<BacktestRecord>> cancel_backtest(const std::string& id, TimePoint at) = 0;
  virtual Task<Result<std::optional<BacktestRecord>>> find_backtest(const std::string& id) = 0;
  // The newest `limit` jobs (clamped to [1, 10000]), newest first (created_at,
  // then id, descending), without their result_json (find_backtest reads it).
  virtual Task<Result<std::vector<BacktestRecord>>> list_backtests(int limit) = 0;
  // Fails (status failed, error, finished_at = at) every running job whose
  // heartbeat_at < heartbeat_before: the ones no live process runs any more.
  // Answers how many.
  virtual Task<Result<std::int64_t>> fail_stale_backtests(TimePoint heartbeat_before, TimePoint at,
                                                          const std::string& error) = 0;
  // Fails every running job. Only for a process that knows it is the only one
  // (embedded mode, at start-up). Answers how many.
  virtual Task<Result<std::int64_t>> fail_running_backtests(TimePoint at, const std::string& error) = 0;
};

// A back-end implements every role; main.cc wires the roles separately.
class Database : public ApiKeyStore,
                 public TransactionStore,
                 public LabelStore,
                 public RuleStore,
                 public ListStore,
                 public AuditLog,
                 public SessionStore,
                 public TraceLayoutStore,
                 public BacktestStore,
                 public DatabaseHealth {
 public:
  // Blocking (start-up, CLI). Applies pending migrations. Idempotent.
  virtual Status migrate() = 0;
  // Commits pending writes and closes; further calls answer "unavailable".
  virtual void close() = 0;
};

}  // namespace txv::store

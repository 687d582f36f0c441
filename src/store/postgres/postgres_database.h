// The PostgreSQL storage back-end: every store role of store::Database on a
// PostgreSQL server (API contract section 1, `TXV_DATABASE_URL=postgres://…`,
// optional `TXV_DATABASE_READ_URL`).
//
// Asynchronous (stores.h), never blocking a caller's thread: the database owns
// one io_context and one thread running it. libpq connections are
// non-blocking, in pipeline mode, their sockets watched by Boost.Asio
// (pg_connection.h); a bounded pool (pg_pool.h) of them serves every call. A
// call hands its work to the database's thread and the caller resumes on its
// own executor with the result; rows are decoded on the caller's thread.
// Statements that a call sends together (a statement and its audit entry, the
// checks and updates of a change) go in one pipelined exchange: one round trip.
//
// Decisions (insert_decision) share commits: concurrent calls are queued and a
// batching writer sends up to max_insert_batch of them as ONE multi-row
// `INSERT … ON CONFLICT (merchant_id, transaction_id) DO NOTHING RETURNING`,
// one statement, one implicit transaction, one commit (one WAL flush) for the
// whole batch; up to insert_writers batches are in flight at once. Rows of the
// batch that were not inserted (an earlier decision holds the key, possibly
// one earlier in the same batch) are read back (one more round trip, only then)
// and answered inserted=false with the stored record. If the batch statement
// fails as a whole (a value the database refuses), its items are retried one
// by one, each its own transaction in one pipeline, so a failing item fails
// alone. A decision holding a NUL byte (which PostgreSQL text cannot hold) is
// refused before it is queued.
//
// Durability: a mutating call completes after its transaction committed on the
// primary (synchronous_commit as configured on the server: the default `on`
// waits for the WAL flush).
//
// Reads: find_decision, find_api_key_by_hash, rules, versions and everything
// a change reads always go to the primary. With read_url set, the reads that
// tolerate lag (list_decisions, list_audit, list_lists, list_entries,
// find_list) go to a second pool on it, falling back to the primary when the
// replica is unavailable.
//
// Lists: as in the SQLite back-end (sqlite_database.h): generations (migration
// 0001), the change computed from one REPEATABLE READ snapshot off the
// database thread (list_change.h), applied in place when small, else staged
// list_chunk_rows rows per statement (a text[] parameter unnested) in
// transactions of their own, then published by one small transaction that
// checks the list's revision ("conflict" if another process changed it
// meanwhile). Readers read a list in one REPEATABLE READ transaction, in pages
// of 20,000 values (so no single result holds the database's thread for long):
// the old content or the new, never a mix. Retired generations are deleted in the
// background, list_chunk_rows rows per statement.
//
// Deadlines: every round trip has a deadline (call_timeout, counting the wait
// for a connection), and the server cancels a statement after
// statement_timeout; a call never hangs. A connection that breaks is dropped
// (the pool re-opens one, with backoff); during an outage calls answer
// "unavailable" quickly. A read interrupted by a lost connection is retried
// once on a fresh one; a write is not (its fate is unknown: "unavailable").
//
// Thread-safety: every method may be called concurrently from any thread,
// including close() (but not from a callback running on the database's own
// thread). Lifetime: close() waits for the calls in flight (each bounded by its
// deadlines), then closes every connection and joins the thread; the
// destructor calls close(). Later calls answer "unavailable".
//
// Errors (values, never exceptions): "not_found", "conflict" (also a unique
// key taken, e.g. create_api_key), "not_reviewable" as in stores.h;
// "unavailable" for a server that cannot be reached or does not answer in
// time, a lost connection, serialization failures, statement timeouts, and any
// call after close(); "internal" for the rest (tables missing because
// migrate() was not run, rows that do not decode, values PostgreSQL refuses
// such as text holding a NUL byte). Messages never hold parameter values nor
// the URL's password.
//
// Times are stored as BIGINT epoch milliseconds. Audit entries' `at` and a
// list's updated_at are the store's clock (domain::now_millis()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "store/migrations/migration.h"
#include "store/stores.h"

namespace txv::store {

struct PostgresOptions {
  // libpq connection URI (postgres://user:pass@host:port/db?sslmode=…) or
  // key=value string: passed to libpq as is (sslmode, sslrootcert, multiple
  // hosts, target_session_attrs… are libpq's).
  std::string url;
  // Optional second server for lag-tolerant reads (TXV_DATABASE_READ_URL).
  std::optional<std::string> read_url;
  // Non-empty: the search_path of every connection (isolates tests; migrate()
  // creates the schema if missing). Empty: the server's default.
  std::string schema;
  // Connections per pool (primary; and the read pool when read_url is set).
  int pool_size = 8;
  std::chrono::milliseconds statement_timeout{5000};  // per statement, enforced by the server
  std::chrono::milliseconds connect_timeout{5000};    // one connection attempt
  // Deadline of one round trip, including the wait for a free connection.
  std::chrono::milliseconds call_timeout{10000};
  // open(): how long to keep retrying an unreachable server before answering
  // "unavailable".
  std::chrono::milliseconds connect_retry_budget{10000};
  // Longest pause between reconnection attempts during an outage.
  std::chrono::milliseconds reconnect_backoff_max{2000};
  // Decision batching: most decisions in one INSERT, and batches in flight.
  int max_insert_batch = 500;
  int insert_writers = 2;
  // Most list rows written by one statement (staging, deleting).
  int list_chunk_rows = 5000;
  // Labels of a batch stored per database transaction (LabelStore::add_labels).
  std::size_t label_chunk = 1000;
  std::string application_name = "txv";  // fallback_application_name (the URL's wins)
  // Called on the database's thread after every round trip with its duration
  // in seconds (metrics without a dependency); must be quick and not throw.
  std::function<void(double seconds)> on_round_trip;
};

// Opens the pools and connects one connection to the primary before
// returning, retrying for connect_retry_budget (the read server gets one
// attempt: while it is unavailable its reads go to the primary). Does not
// migrate: call migrate() before anything else on a new database.
// Errors: "invalid_configuration" for a URL libpq cannot parse or bad options;
// "unavailable" (one line naming host:port/db and the last failure, never the
// password) when no connection could be made within the budget.
Result<std::unique_ptr<Database>> open_postgres_database(const PostgresOptions& options);

// The embedded migrations (src/store/migrations/postgres/*.sql), in order.
std::span<const Migration> postgres_migrations();

class PostgresDatabase final : public Database {
 public:
  struct WriterStats {
    std::uint64_t batches = 0;        // decision INSERT statements committed (batch path)
    std::uint64_t items = 0;          // insert_decision calls answered by the writer
    std::uint64_t largest_batch = 0;  // most decisions in one INSERT
    std::uint64_t fallbacks = 0;      // batches retried one decision at a time
    std::uint64_t queued = 0;         // decisions waiting for a writer now
  };

  static Result<std::unique_ptr<PostgresDatabase>> open(const PostgresOptions& options);
  ~PostgresDatabase() override;

  // ApiKeyStore. create_api_key: "conflict" if the id or secret_hash exists.
  Task<Status> create_api_key(const ApiKey& key) override;
  Task<Result<std::optional<ApiKey>>> find_api_key_by_hash(const std::string& secret_hash) override;
  Task<Result<std::vector<ApiKey>>> list_api_keys() override;  // by created_at, then id
  Task<Result<ApiKey>> revoke_api_key(const std::string& id, TimePoint at) override;
  Task<Status> touch_api_key(const std::string& id, TimePoint at) override;  // last_used_at only moves forward
  Task<Status> create_session(const Session& session, std::chrono::milliseconds idle_timeout) override;
  Task<Result<std::optional<Session>>> find_session(const std::string& id_hash) override;
  Task<Status> touch_session(const std::string& id_hash, TimePoint at, std::chrono::milliseconds idle_timeout) override;
  Task<Status> delete_session(const std::string& id_hash) override;

  // BacktestStore.
  Task<Status> create_backtest(const BacktestRecord& job) override;
  Task<Result<bool>> update_backtest_progress(const std::string& id, double progress, std::int64_t transactions,
                                              TimePoint at) override;
  Task<Result<bool>> finish_backtest(const BacktestRecord& job) override;
  Task<Result<BacktestRecord>> cancel_backtest(const std::string& id, TimePoint at) override;
  Task<Result<std::optional<BacktestRecord>>> find_backtest(const std::string& id) override;
  Task<Result<std::vector<BacktestRecord>>> list_backtests(int limit) override;
  Task<Result<std::int64_t>> fail_stale_backtests(TimePoint heartbeat_before, TimePoint at,
                                                  const std::string& error) override;
  Task<Result<std::int64_t>> fail_running_backtests(TimePoint at, const std::string& error) override;
  Task<Status> save_trace_layout(const std::string& id, const std::string& layout) override;
  Task<Result<std::optional<std::string>>> find_trace_layout(const std::string& id) override;

  // TransactionStore. list_decisions: limit clamped to [1, 10000].
  Task<Result<InsertOutcome>> insert_decision(const domain::DecisionRecord& record) override;
  Task<Result<std::optional<domain::DecisionRecord>>> find_decision(const std::string& merchant_id,
                                                                    const std::string& transaction_id) override;
  Task<Result<TransactionPage>> list_decisions(const TransactionQuery& query) override;
  Task<Result<domain::DecisionRecord>> resolve_review(const std::string& merchant_id, const std::string& transaction_id,
                                                      const domain::Resolution& resolution) override;
  Status scan_velocity_events(TimePoint since, TimePoint until, std::size_t chunk, const VelocityScanFields& fields,
                              const VelocitySink& sink) override;
  Status scan_decisions(TimePoint since, TimePoint until, std::size_t chunk, const DecisionSink& sink) override;
  Task<Result<std::optional<std::string>>> find_trace(const std::string& merchant_id,
                                                      const std::string& transaction_id) override;
  // One statement per query (each on its field's index), all in one round
  // trip on the primary. Emails compare lower(customer_email), ASCII only.
  Task<Result<std::vector<DecisionCount>>> count_decisions(std::span<const DecisionCountQuery> queries) override;
  // One statement (one snapshot) on the read pool: the GROUP BY of the
  // window's decisions by bucket and decision (decided_at index) and of their
  // rule matches (jsonb_array_elements over the non-empty reasons and
  // shadow_matches).
  Task<Result<DecisionStats>> decision_stats(const DecisionStatsQuery& query) override;

  // LabelStore. add_labels: per chunk of label_chunk labels, one explicit
  // transaction of two round trips (lock the transactions' rows in seq order,
  // then insert the history rows, update the current labels, append the audit
  // entries and commit, each one statement over arrays).
  Task<Result<Label>> add_label(const Label& label) override;
  Task<std::vector<Status>> add_labels(std::span<const Label> labels) override;
  Task<Result<std::optional<Label>>> find_label(const std::string& merchant_id,
                                                const std::string& transaction_id) override;
  Task<Result<std::vector<Label>>> label_history(const std::string& merchant_id,
                                                 const std::string& transaction_id) override;

  // RuleStore. create_rule stores version 1 and the caller's times.
  Task<Result<RuleRecord>> create_rule(const RuleRecord& rule, const std::string& actor) override;
  Task<Result<RuleRecord>> replace_rule(const RuleRecord& rule, const std::string& actor) override;
  Task<Status> delete_rule(const std::string& id, const std::string& actor) override;
  Task<Result<std::optional<RuleRecord>>> find_rule(const std::string& id) override;
  Task<Result<std::vector<RuleRecord>>> list_rules() override;
  Task<Result<std::int64_t>> rules_version() override;
  Task<Result<RuleSetChange>> replace_rule_set(std::vector<RuleRecord> rules, std::int64_t expected_version,
                                               const std::string& actor, TimePoint now) override;

  // ListStore. Entries are sets, returned sorted bytewise.
  Task<Result<ListSummary>> replace_list(const std::string& name, const std::vector<std::string>& entries,
                                         const std::string& actor) override;
  Task<Result<ListSummary>> add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                             const std::string& actor) override;
  Task<Result<ListSummary>> remove_list_entry(const std::string& name, const std::string& value,
                                              const std::string& actor) override;
  Task<Result<std::optional<std::vector<std::string>>>> list_entries(const std::string& name) override;
  // One statement (one snapshot) on the read pool: the list's row joined
  // laterally with, per live generation, a range scan of the (generation,
  // value) primary key of at most limit + 1 rows, merged by the server.
  Task<Result<std::optional<ListEntriesPage>>> list_entries_page(const ListEntriesQuery& query) override;
  Task<Result<std::optional<ListSummary>>> find_list(const std::string& name) override;
  Task<Result<std::vector<ListSummary>>> list_lists() override;  // by name
  Task<Result<std::int64_t>> lists_version() override;

  // AuditLog. limit clamped to [1, 10000].
  Task<Result<AuditPage>> list_audit(const AuditQuery& query) override;

  // DatabaseHealth.
  Task<Status> ping() override;
  PoolStats pool_stats() override;

  Status migrate() override;
  void close() override;

  WriterStats writer_stats() const;

 private:
  struct Impl;
  explicit PostgresDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// migrate() (Database): blocking, on a connection of its own. In one
// transaction, under pg_advisory_xact_lock (keyed by the schema), creates
// schema_migrations if needed and applies every embedded migration not yet
// recorded there: processes migrating at once apply each migration once.
// "internal" if the database records a migration this binary does not know.
// Then retires list generations abandoned while staging more than an hour ago
// and deletes retired generations in the background.
//
// scan_velocity_events (blocking): keyset pagination by (decided_at, seq), one
// statement per chunk on a pooled connection, the sink called between chunks
// with no connection held. pool_stats(): both pools together; in_use counts
// connections leased or being opened.

}  // namespace txv::store

// The embedded storage back-end: every store role of store::Database on one
// SQLite file (API contract section 1, `TXV_DATABASE_URL=sqlite:PATH`).
//
// Asynchronous (stores.h): no Task ever blocks the awaiting thread. SQLite
// calls are blocking, so they run on the store's own threads and the caller
// resumes on its own executor:
//   * writes: the group-commit writer thread (write_queue.h). One write
//     connection, many callers' items per transaction, one fsync per batch, a
//     savepoint per item so a failing item rolls back alone; each item's
//     completion is posted to its caller's executor after the commit.
//   * reads: a thread pool with as many threads as read-only connections
//     (read_pool_size), so a read never waits for a connection; WAL lets them
//     run concurrently with the writer.
//   * bulk admin reads (the current content of a list, to diff a change
//     against): one more thread with its own read-only connection, so they
//     never occupy a request's read connection.
// The calls marked blocking in stores.h (migrate, scan_velocity_events) run on
// the calling thread (scan_velocity_events on a connection of its own).
//
// Durability: the file is opened in WAL mode with `synchronous=FULL` (the
// default SqliteSynchronous::kFull), so a mutating call completes only after
// its transaction is fsync'd.
//
// Lists: a list's content lives in generations (migration 0002). A change is
// computed off the write path (list_change.h, on the admin thread, from one
// snapshot of the list) and then
//   * small (at most list_chunk_rows entries added + removed): applied in
//     place by one write item;
//   * large: staged in a new generation, list_chunk_rows rows per write item
//     (other callers' items commit between the chunks), then published by one
//     small write item: generation states switch, lists_version is bumped and
//     the audit entry appended in one transaction. A replace stages the whole
//     new content and retires the old generations; an add stages only the new
//     entries as one more live generation (or, beyond
//     kMaxLiveListGenerations, the whole merged content). Retired and
//     abandoned generations are deleted afterwards in the background,
//     list_chunk_rows rows per write item.
// Readers read a list in one read transaction: the old content or the new,
// never a mix, and never half of an add. Changes of one list are serialised
// in this process (an asynchronous per-list lock, not a thread lock); a change
// publishes only if the list is still at the revision it was computed from,
// else it answers "conflict" (only possible with a second process writing the
// same file). A failure part-way leaves the old list; the staged rows are
// deleted. Cost of a change: O(entries of the list) reading and hashing on the
// admin thread (the digest covers the whole new content), O(change) writing,
// at most list_chunk_rows list rows per write item; a change has one item in
// the queue at a time, so a transaction holds at most one chunk per list
// change in flight (plus one of the background deletion).
//
// Thread-safety: every method may be called concurrently from any thread,
// including close(). Lifetime: the destructor calls close() and then joins the
// store's threads; no call may be in flight when it runs.
//
// Errors (values, never exceptions): "not_found", "conflict", "not_reviewable"
// as documented in stores.h; "unavailable" for SQLite busy beyond the busy
// timeout, I/O errors, a full disk, and any call after close(); "internal" for
// everything else (including tables missing because migrate() was not run, and
// rows that do not decode).
//
// Times are stored as integer epoch milliseconds. The audit entry's `at` is the
// store's clock (domain::now_millis()) when the change is applied; a list's
// updated_at likewise. Rules keep the caller's created_at/updated_at.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "store/migrations/migration.h"
#include "store/stores.h"

namespace txv::store {

// PRAGMA synchronous of the write connection. Only kFull keeps the storage
// contract ("durable before return"); kNormal (WAL: may lose the last commits
// on power loss, not on a process crash) and kOff exist for benchmarks.
enum class SqliteSynchronous { kFull, kNormal, kOff };

struct SqliteOptions {
  // Database file. Its parent directory is created (like `mkdir -p`) when
  // missing. A file, never ":memory:": readers open their own connections.
  std::string path = "./txv-data/txv.db";
  // Read-only connections in the pool (at least 1).
  int read_pool_size = 4;
  // How long a connection waits on a lock held by another process (e.g. a
  // concurrent `txv migrate`), and how long a read waits for a free pooled
  // connection, before answering "unavailable".
  std::chrono::milliseconds busy_timeout{5000};
  SqliteSynchronous synchronous = SqliteSynchronous::kFull;
  // Most work items committed in one transaction by the group-commit writer.
  int max_batch = 1024;
  // Most list rows written (staged, applied or deleted) by one write item,
  // hence the longest a list change can hold the write path at once. Measured
  // on the 2-core box: 10,000 rows hold it ~30-50 ms, 2,000 rows ~10-20 ms,
  // for about the same total time of a 1M-entry replace.
  int list_chunk_rows = 2000;
  // Labels of a batch stored per write item (LabelStore::add_labels).
  std::size_t label_chunk = 500;
  // The idempotency filter (decision_key_filter.h): at the first find_decision
  // after migrate(), the keys of the stored decisions start loading on a thread
  // of their own; once loaded, a find_decision of a key never stored answers at
  // once, without a read.
  bool decision_key_filter = true;
  std::size_t decision_key_filter_min_keys = std::size_t{1} << 20;  // the smallest capacity loaded (tests: less)
};

// Opens (creating if needed) the database and starts the writer thread. Does
// not migrate: call migrate() before anything else on a new file.
// Errors: "unavailable" when the directory or file cannot be created/opened or
// WAL mode cannot be enabled.
Result<std::unique_ptr<Database>> open_sqlite_database(const SqliteOptions& options);

// The embedded migrations (src/store/migrations/sqlite/*.sql), in order.
std::span<const Migration> sqlite_migrations();

class SqliteDatabase final : public Database {
 public:
  // A large add publishes its entries as one more live generation; beyond
  // this many, it stages the whole merged content instead (compaction).
  static constexpr std::size_t kMaxLiveListGenerations = 8;

  struct WriterStats {
    std::uint64_t batches = 0;                         // committed write transactions
    std::uint64_t items = 0;                           // write items committed
    std::uint64_t largest_batch = 0;                   // most items in one transaction
    std::chrono::microseconds longest_transaction{0};  // BEGIN to end of COMMIT
  };

  static Result<std::unique_ptr<SqliteDatabase>> open(const SqliteOptions& options);
  ~SqliteDatabase() override;

  // ApiKeyStore. create_api_key: "conflict" if the id or secret_hash exists.
  Task<Status> create_api_key(const ApiKey& key) override;
  Task<Result<std::optional<ApiKey>>> find_api_key_by_hash(const std::string& secret_hash) override;
  Task<Result<std::vector<ApiKey>>> list_api_keys() override;  // by created_at, then id
  Task<Result<ApiKey>> revoke_api_key(const std::string& id, TimePoint at) override;
  // last_used_at only moves forward. not_found for an unknown id.
  Task<Status> touch_api_key(const std::string& id, TimePoint at) override;
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

  // TransactionStore.
  Task<Result<InsertOutcome>> insert_decision(const domain::DecisionRecord& record) override;
  Task<Result<std::optional<domain::DecisionRecord>>> find_decision(const std::string& merchant_id,
                                                                    const std::string& transaction_id) override;
  // limit is clamped to [1, 10000].
  Task<Result<TransactionPage>> list_decisions(const TransactionQuery& query) override;
  Task<Result<domain::DecisionRecord>> resolve_review(const std::string& merchant_id, const std::string& transaction_id,
                                                      const domain::Resolution& resolution) override;
  // Blocking. Keyset pagination by (decided_at, seq): one short read
  // transaction per chunk on a connection of its own (no snapshot is held
  // across chunks, so the WAL can be checkpointed meanwhile); a row inserted
  // during the scan behind the cursor is not seen. at = decided_at.
  Status scan_velocity_events(TimePoint since, TimePoint until, std::size_t chunk, const VelocityScanFields& fields,
                              const VelocitySink& sink) override;
  Status scan_decisions(TimePoint since, TimePoint until, std::size_t chunk, const DecisionSink& sink) override;
  Task<Result<std::optional<std::string>>> find_trace(const std::string& merchant_id,
                                                      const std::string& transaction_id) override;
  // One read transaction on the decided_at index: a GROUP BY of the window's
  // decisions by bucket and decision, and of their rule matches (json_each
  // over the stored reasons and shadow_matches of the decisions that have any).
  Task<Result<DecisionStats>> decision_stats(const DecisionStatsQuery& query) override;
  // Not indexed by key (embedded mode counts in process; this serves the contract and tools): a scan per query.
  Task<Result<std::vector<DecisionCount>>> count_decisions(std::span<const DecisionCountQuery> queries) override;

  // LabelStore. add_labels writes options.label_chunk labels per write item
  // (one group commit each).
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

  // ListStore. Entries are sets (duplicates in the input are ignored) and are
  // returned sorted bytewise. Audit entries as in list_change.h.
  Task<Result<ListSummary>> replace_list(const std::string& name, const std::vector<std::string>& entries,
                                         const std::string& actor) override;
  Task<Result<ListSummary>> add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                             const std::string& actor) override;
  Task<Result<ListSummary>> remove_list_entry(const std::string& name, const std::string& value,
                                              const std::string& actor) override;
  Task<Result<std::optional<std::vector<std::string>>>> list_entries(const std::string& name) override;
  // One read transaction: the list's row, then per live generation a range
  // scan of the (generation, value) primary key of at most limit + 1 rows,
  // merged.
  Task<Result<std::optional<ListEntriesPage>>> list_entries_page(const ListEntriesQuery& query) override;
  Task<Result<std::optional<ListSummary>>> find_list(const std::string& name) override;
  Task<Result<std::vector<ListSummary>>> list_lists() override;  // by name
  Task<Result<std::int64_t>> lists_version() override;

  // AuditLog. limit is clamped to [1, 10000].
  Task<Result<AuditPage>> list_audit(const AuditQuery& query) override;

  // DatabaseHealth. pool_stats() reports the read pool (the write connection
  // and the admin connection are dedicated and not counted).
  Task<Status> ping() override;
  Task<Status> probe_write() override;
  PoolStats pool_stats() override;

  // Blocking. Creates schema_migrations if needed and applies every embedded
  // migration not yet recorded there, all in one transaction. "internal" if
  // the database records a migration this binary does not know (it is newer).
  // Then retires list generations abandoned while staging more than an hour
  // ago (a crash mid-change) and starts deleting retired generations in the
  // background.
  Status migrate() override;
  void close() override;

  WriterStats writer_stats() const;

  struct KeyFilterStats {
    bool ready = false;          // look-ups use a filter (its first load is done)
    std::size_t capacity = 0;    // keys the filter in use is sized for
    std::size_t keys = 0;        // keys added to it
    std::uint64_t builds = 0;    // filters loaded (the first, and one per growth)
    std::uint64_t filtered = 0;  // find_decision calls answered by the filter
    std::uint64_t read = 0;      // find_decision calls that read the database
  };
  KeyFilterStats key_filter_stats() const;

  // Blocking; for tests and diagnostics. The value of `PRAGMA <name>` (letters
  // and '_' only) on the write connection, as text.
  Result<std::string> writer_pragma(const std::string& name);

 private:
  struct Impl;
  explicit SqliteDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace txv::store

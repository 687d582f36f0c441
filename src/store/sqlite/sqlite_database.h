// The embedded storage back-end: every store role of store::Database on one
// SQLite file (API contract section 1, `TXV_DATABASE_URL=sqlite:PATH`).
//
// Durability: the file is opened in WAL mode with `synchronous=FULL` (the
// default SqliteSynchronous::kFull), so a mutating call returns only after its
// transaction is fsync'd. Mutations go through a group-commit writer (see
// write_queue.h): one writer thread, one write connection, many callers' items
// per transaction, one fsync per batch, a savepoint per item so a failing item
// rolls back alone. Reads lease one of a small pool of read-only connections
// and run concurrently with the writer.
//
// Thread-safety: every method may be called concurrently from any thread,
// including close(). Lifetime: the destructor calls close().
//
// Errors (values, never exceptions): "not_found", "conflict", "not_reviewable"
// as documented in stores.h; "unavailable" for SQLite busy beyond the busy
// timeout, I/O errors, a full disk, no free read connection within the busy
// timeout, and any call after close(); "internal" for everything else
// (including tables missing because migrate() was not run, and rows that do
// not decode).
//
// Times are stored as integer epoch milliseconds. The audit entry's `at` is the
// store's clock (domain::now_millis()) when the change is applied; a list's
// updated_at likewise. Rules keep the caller's created_at/updated_at.
#pragma once

#include <chrono>
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
  struct WriterStats {
    std::uint64_t batches = 0;        // committed write transactions
    std::uint64_t items = 0;          // mutating calls committed
    std::uint64_t largest_batch = 0;  // most calls in one transaction
  };

  static Result<std::unique_ptr<SqliteDatabase>> open(const SqliteOptions& options);
  ~SqliteDatabase() override;

  // ApiKeyStore. create_api_key: "conflict" if the id or secret_hash exists.
  Status create_api_key(const ApiKey& key) override;
  Result<std::optional<ApiKey>> find_api_key_by_hash(const std::string& secret_hash) override;
  Result<std::vector<ApiKey>> list_api_keys() override;  // by created_at, then id

  // TransactionStore.
  Result<InsertOutcome> insert_decision(const domain::DecisionRecord& record) override;
  Result<std::optional<domain::DecisionRecord>> find_decision(const std::string& merchant_id,
                                                              const std::string& transaction_id) override;
  // limit is clamped to [1, 10000].
  Result<TransactionPage> list_decisions(const TransactionQuery& query) override;
  Result<domain::DecisionRecord> resolve_review(const std::string& merchant_id, const std::string& transaction_id,
                                                const domain::Resolution& resolution) override;
  Result<std::vector<VelocityEvent>> velocity_events_since(TimePoint since) override;  // at = decided_at

  // RuleStore. create_rule stores version 1 and the caller's times.
  Result<RuleRecord> create_rule(const RuleRecord& rule, const std::string& actor) override;
  Result<RuleRecord> replace_rule(const RuleRecord& rule, const std::string& actor) override;
  Status delete_rule(const std::string& id, const std::string& actor) override;
  Result<std::optional<RuleRecord>> find_rule(const std::string& id) override;
  Result<std::vector<RuleRecord>> list_rules() override;
  Result<std::int64_t> rules_version() override;

  // ListStore. Entries are sets (duplicates in the input are ignored) and are
  // returned sorted bytewise. The audit entry of a change has before = null and
  // after = {"added": [...], "removed": [...]}.
  Result<ListSummary> replace_list(const std::string& name, const std::vector<std::string>& entries,
                                   const std::string& actor) override;
  Result<ListSummary> add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                       const std::string& actor) override;
  Result<ListSummary> remove_list_entry(const std::string& name, const std::string& value,
                                        const std::string& actor) override;
  Result<std::optional<std::vector<std::string>>> list_entries(const std::string& name) override;
  Result<std::vector<ListSummary>> list_lists() override;  // by name
  Result<std::int64_t> lists_version() override;

  // AuditLog. limit is clamped to [1, 10000].
  Result<AuditPage> list_audit(const AuditQuery& query) override;

  // DatabaseHealth. pool_stats() reports the read pool (the write connection
  // is dedicated to the writer thread and not counted).
  Status ping() override;
  PoolStats pool_stats() override;

  // Creates schema_migrations if needed and applies every embedded migration
  // not yet recorded there, all in one transaction. "internal" if the database
  // records a migration this binary does not know (it is newer).
  Status migrate() override;
  void close() override;

  WriterStats writer_stats() const;

 private:
  struct Impl;
  explicit SqliteDatabase(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace txv::store

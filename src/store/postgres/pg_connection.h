// libpq plumbing of the PostgreSQL back-end: result and statement values, the
// mapping of PostgreSQL errors to store error codes, one non-blocking
// pipelined connection driven by Boost.Asio, and a plain blocking connection
// for start-up work (migrate) and tests.
//
// Connection (asynchronous): opened with PQconnectStartParams/PQconnectPoll,
// then switched to non-blocking pipeline mode; its socket (PQsocket) is watched
// with an asio::posix::stream_descriptor that never owns the descriptor (libpq
// does: it is released before libpq closes it). run() sends a whole exchange
// (every statement of it, then a Sync) and collects one result per statement,
// so an exchange costs one round trip whatever its length. Statements between
// two Syncs form one implicit transaction on the server: an error in one of
// them rolls the group back and the rest of the group answers
// PGRES_PIPELINE_ABORTED. A named Statement is prepared on the connection the
// first time it is used there (PQsendPrepare in the same exchange).
//
// Thread-safety: a Connection belongs to one io_context with one thread; every
// member is called on that thread, one exchange at a time. BlockingConnection
// is used by one thread at a time.
//
// Errors: values, never exceptions. A failure of the connection itself (lost,
// timed out, refused) is "unavailable" and leaves the Connection broken();
// a statement's own error is in its PgResult (error_from_result maps it).
// Messages never hold parameter values nor the password of the URL.
#pragma once

#include <libpq-fe.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/async.h"
#include "common/result.h"

namespace txv::store::pg {

using Clock = std::chrono::steady_clock;
using Param = std::optional<std::string>;  // text format; nullopt is SQL NULL

// Parameter helpers (text format, as PostgreSQL parses its input).
inline Param text(std::string_view s) { return std::string(s); }
inline Param int8(std::int64_t v) { return std::to_string(v); }
inline Param boolean(bool b) { return std::string(b ? "t" : "f"); }
inline Param opt_text(const std::optional<std::string>& s) { return s; }
inline Param null() { return std::nullopt; }
// A text[] literal holding `values` (every element quoted).
std::string text_array(std::span<const std::string_view> values);
std::string int8_array(std::span<const std::int64_t> values);

// One statement of an exchange.
struct Statement {
  const char* name = nullptr;  // prepared per connection under this name; nullptr: unnamed
  std::string sql;
  std::vector<Param> params;
  bool sync_after = false;  // ends an implicit transaction after this statement
};

// Owns one PGresult.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r) : r_(r) {}
  ~PgResult() {
    if (r_ != nullptr) PQclear(r_);
  }
  PgResult(PgResult&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  PgResult& operator=(PgResult&& o) noexcept {
    if (this != &o) {
      if (r_ != nullptr) PQclear(r_);
      r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
  }
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  explicit operator bool() const { return r_ != nullptr; }
  const PGresult* get() const { return r_; }
  ExecStatusType status() const { return r_ == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r_); }
  bool ok() const { return status() == PGRES_COMMAND_OK || status() == PGRES_TUPLES_OK; }
  // The SQLSTATE of a failed statement ("" if none).
  std::string sqlstate() const;
  int rows() const { return r_ == nullptr ? 0 : PQntuples(r_); }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string_view view(int row, int col) const {
    return {PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col))};
  }
  std::size_t length(int row, int col) const { return static_cast<std::size_t>(PQgetlength(r_, row, col)); }
  std::string text(int row, int col) const { return std::string(view(row, col)); }
  std::optional<std::string> opt_text(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return text(row, col);
  }
  std::int64_t int8(int row, int col) const;  // 0 when NULL or not an integer
  bool boolean(int row, int col) const { return view(row, col) == "t"; }
  std::int64_t affected() const;  // rows changed by INSERT/UPDATE/DELETE

 private:
  PGresult* r_ = nullptr;
};

// Maps a failed statement to a store error: 23505 "conflict"; connection,
// resource, operator-intervention, transaction-rollback and timeout classes
// "unavailable"; the rest "internal". `what` names the operation.
Error error_from_result(const PgResult& r, std::string_view what);
// The first statement error of an exchange (skipping results it aborted), or Ok.
Status first_error(std::span<const PgResult> results, std::string_view what);

// How connections are made and set up.
struct ConnectConfig {
  std::string url;     // libpq URI or key=value string; sslmode etc. honoured by libpq
  std::string schema;  // non-empty: search_path of every connection
  std::string fallback_application_name = "txv";
  std::chrono::milliseconds statement_timeout{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds idle_in_transaction_timeout{60000};
  std::function<void(double)> on_round_trip;  // seconds of each exchange; may be empty
  // Derived by prepare(): the password (to redact) and "host:port/db" (to name).
  std::string password;
  std::string target;
  // Fills password and target; "invalid_configuration" when the URL does not parse.
  Status prepare();
  std::string redact(std::string message) const;
};

class Connection {
 public:
  // Connects on `io` (call on io's thread) within `deadline`, then enters
  // pipeline mode and sets statement_timeout (and search_path).
  static Task<Result<std::unique_ptr<Connection>>> open(asio::io_context& io, const ConnectConfig& config,
                                                        Clock::time_point deadline);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One exchange: sends `statements` (a Sync after each marked sync_after and
  // after the last), then collects one PgResult per statement into `out`.
  // Answers an error only when the connection failed (then broken()); the
  // statements' own errors are in their results.
  Task<Status> run(std::span<const Statement> statements, Clock::time_point deadline, std::vector<PgResult>& out);

  bool broken() const { return broken_; }
  // Broken by an I/O failure (not a timeout): a read may be retried elsewhere.
  bool lost() const { return broken_ && !timed_out_; }
  // Idle, healthy and outside a transaction (no unexpected input pending).
  bool reusable();
  int backend_pid() const { return PQbackendPID(conn_); }

 private:
  Connection(asio::io_context& io, PGconn* conn, const ConnectConfig& config);
  enum class Ready { kReady, kTimeout, kError };
  enum class Want { kRead, kWrite, kReadOrWrite };
  Task<Ready> wait(Want want, Clock::time_point deadline);
  bool ssl_pending() const;
  Error fail(std::string_view what);

  PGconn* conn_;
  const ConnectConfig& config_;
  asio::posix::stream_descriptor sock_;
  asio::steady_timer timer_;
  std::unordered_set<std::string> prepared_;
  bool broken_ = false;
  bool timed_out_ = false;
};

// A plain blocking libpq connection (not pipelined): migrate() and tests.
class BlockingConnection {
 public:
  static Result<std::unique_ptr<BlockingConnection>> open(const ConnectConfig& config);
  ~BlockingConnection();
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;
  // Simple query protocol: `sql` may hold several statements. Answers the last result.
  Result<PgResult> exec(const std::string& sql, std::string_view what);
  Result<PgResult> exec(const std::string& sql, const std::vector<Param>& params, std::string_view what);

 private:
  BlockingConnection(PGconn* conn, const ConnectConfig& config) : conn_(conn), config_(config) {}
  PGconn* conn_;
  ConnectConfig config_;
};

}  // namespace txv::store::pg

// Thin RAII layer over the SQLite C API used by SqliteDatabase.
//
// Connection owns one sqlite3 handle and a cache of prepared statements keyed
// by SQL text. Query borrows one cached statement for one execution: it binds,
// steps, reads columns, and resets the statement (clearing bindings) when it
// goes out of scope, so the statement can be reused by the next Query.
//
// Thread-safety: none. A Connection (and every Query on it) is used by one
// thread at a time; SqliteDatabase guarantees that (the writer thread owns the
// write connection, readers lease pool connections).
//
// Errors: values, never exceptions. sqlite_error() maps result codes onto the
// storage contract codes: busy/locked/I/O/full/cantopen/nomem -> "unavailable",
// constraint violations -> "conflict", everything else -> "internal".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace txv::store::sqlite {

// Maps an SQLite (extended) result code to a contract Error. `what` names the
// operation for the message; `detail` is sqlite3_errmsg text when known.
Error sqlite_error(int rc, std::string_view what, std::string_view detail = {});

class Connection {
 public:
  // flags: SQLITE_OPEN_* flags; SQLITE_OPEN_NOMUTEX and extended result codes
  // are always added.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, int flags,
                                                  std::chrono::milliseconds busy_timeout);
  ~Connection();  // finalizes cached statements, then closes the handle
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements without results (DDL, PRAGMA, BEGIN, ...).
  Status exec(std::string_view sql);
  // Returns the cached prepared statement for `sql`, preparing it on first use.
  // The statement stays owned by the Connection.
  Result<sqlite3_stmt*> prepare(std::string_view sql);
  // Runs `sql` and returns the first column of the first row as an integer;
  // nullopt when there is no row.
  Result<std::optional<std::int64_t>> query_int(std::string_view sql);

  Error last_error(int rc, std::string_view what) const;
  bool in_transaction() const;
  std::int64_t changes() const;
  std::int64_t last_insert_rowid() const;
  sqlite3* raw() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, TextHash, std::equal_to<>> cache_;
};

// One execution of a cached statement. Bind parameters are 1-based, columns
// 0-based. Text is copied on bind (SQLITE_TRANSIENT), so temporaries are fine.
class Query {
 public:
  // Prepares (or fetches from the cache) `sql` on `conn`. A preparation error is
  // reported by the first step()/run().
  Query(Connection& conn, std::string_view sql);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::string_view text);
  Query& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, std::int64_t value);
  Query& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Query& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value ? 1 : 0)); }
  Query& bind(int index, const std::optional<std::string>& text);
  Query& bind_null(int index);

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> step();
  // Makes the statement ready for another execution: resets it, clears the
  // bindings and any step error (a preparation error stays).
  void reset();
  // Steps to completion, ignoring rows (INSERT/UPDATE/DELETE).
  Status run();

  bool is_null(int col) const;
  std::int64_t get_int(int col) const;
  std::string get_text(int col) const;
  std::optional<std::string> get_opt_text(int col) const;
  // The text of a column without copying it ("" for NULL); valid until the next step(), reset() or read of the
  // same column as another type.
  std::string_view get_text_view(int col) const;
  // Size in bytes of a text column, without copying it.
  std::size_t text_bytes(int col) const;

 private:
  void note_bind(int rc);
  Connection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
  std::optional<Error> error_;
};

}  // namespace txv::store::sqlite

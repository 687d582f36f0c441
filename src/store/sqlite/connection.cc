#include "store/sqlite/connection.h"

#include <sqlite3.h>

namespace txv::store::sqlite {

Error sqlite_error(int rc, std::string_view what, std::string_view detail) {
  std::string message = "sqlite: ";
  message += what;
  message += ": ";
  message += detail.empty() ? sqlite3_errstr(rc) : detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return make_error("unavailable", std::move(message));
    case SQLITE_CONSTRAINT:
      return make_error("conflict", std::move(message));
    default:
      return make_error("internal", std::move(message));
  }
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, int flags,
                                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqlite_error(rc, "open " + path, db != nullptr ? sqlite3_errmsg(db) : "");
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(busy_timeout.count()));
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Error Connection::last_error(int rc, std::string_view what) const {
  return sqlite_error(rc, what, sqlite3_errmsg(db_));
}

Status Connection::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    std::string what = text.size() > 40 ? text.substr(0, 40) + "..." : text;
    return sqlite_error(rc, what, detail);
  }
  return Ok{};
}

Result<sqlite3_stmt*> Connection::prepare(std::string_view sql) {
  if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
  std::string key(sql);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return last_error(rc, "prepare");
  }
  cache_.emplace(std::move(key), stmt);
  return stmt;
}

Result<std::optional<std::int64_t>> Connection::query_int(std::string_view sql) {
  Query q(*this, sql);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{q.get_int(0)};
}

bool Connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }
std::int64_t Connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Query::Query(Connection& conn, std::string_view sql) : conn_(conn) {
  auto stmt = conn.prepare(sql);
  if (stmt.ok()) {
    stmt_ = *stmt;
  } else {
    error_ = stmt.error();
  }
}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

void Query::reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  error_.reset();
}

void Query::note_bind(int rc) {
  if (rc != SQLITE_OK && !error_) error_ = conn_.last_error(rc, "bind");
}

Query& Query::bind(int index, std::string_view text) {
  if (stmt_ != nullptr) {
    note_bind(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  return *this;
}

Query& Query::bind(int index, std::int64_t value) {
  if (stmt_ != nullptr) note_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Query& Query::bind(int index, const std::optional<std::string>& text) {
  return text ? bind(index, std::string_view(*text)) : bind_null(index);
}

Query& Query::bind_null(int index) {
  if (stmt_ != nullptr) note_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Query::step() {
  if (error_) return *error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  error_ = conn_.last_error(rc, "step");
  return *error_;
}

Status Query::run() {
  for (;;) {
    auto row = step();
    if (!row.ok()) return row.error();
    if (!*row) return Ok{};
  }
}

bool Query::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::int64_t Query::get_int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Query::get_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string_view Query::get_text_view(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (p == nullptr) return {};
  return {p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col))};
}

std::size_t Query::text_bytes(int col) const {
  // sqlite3_column_text first: the size is then that of the UTF-8 form.
  (void)sqlite3_column_text(stmt_, col);
  return static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
}

std::optional<std::string> Query::get_opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return get_text(col);
}

}  // namespace txv::store::sqlite

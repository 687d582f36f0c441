#include "store/postgres/pg_connection.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace txv::store::pg {

namespace {

void ignore_notice(void*, const char*) {}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool has_nul(const std::vector<Param>& params) {
  return std::any_of(params.begin(), params.end(),
                     [](const Param& p) { return p && p->find('\0') != std::string::npos; });
}

std::vector<const char*> values_of(const std::vector<Param>& params) {
  std::vector<const char*> v;
  v.reserve(params.size());
  for (const auto& p : params) v.push_back(p ? p->c_str() : nullptr);
  return v;
}

// Releases (never closes) the descriptor wrapped around libpq's socket.
struct Released {
  asio::posix::stream_descriptor& sd;
  ~Released() {
    if (sd.is_open()) (void)sd.release();
  }
};

}  // namespace

// ---------------------------------------------------------------- values

std::string text_array(std::span<const std::string_view> values) {
  std::size_t size = 2;
  for (auto v : values) size += v.size() + 3;
  std::string out;
  out.reserve(size);
  out += '{';
  bool first = true;
  for (auto v : values) {
    if (!first) out += ',';
    first = false;
    out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string int8_array(std::span<const std::int64_t> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string PgResult::sqlstate() const {
  if (r_ == nullptr) return "";
  const char* s = PQresultErrorField(r_, PG_DIAG_SQLSTATE);
  return s == nullptr ? "" : s;
}

std::int64_t PgResult::int8(int row, int col) const {
  if (is_null(row, col)) return 0;
  auto v = view(row, col);
  std::int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) return 0;
  return out;
}

std::int64_t PgResult::affected() const {
  if (r_ == nullptr) return 0;
  const char* n = PQcmdTuples(r_);
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

// ---------------------------------------------------------------- errors

Error error_from_result(const PgResult& r, std::string_view what) {
  const std::string state = r.sqlstate();
  std::string message = "postgres: " + std::string(what) + ": ";
  if (state.empty()) {
    // No SQLSTATE: libpq's own report (connection lost, protocol trouble).
    const char* m = r ? PQresultErrorMessage(r.get()) : "no result";
    message += trim(m == nullptr ? "" : m);
    return make_error("unavailable", std::move(message));
  }
  const std::string cls = state.substr(0, 2);
  if (cls == "22") {
    // Data exceptions quote the offending value: never repeat it.
    message += "a value was rejected by the database";
  } else {
    const char* primary = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY);
    message += primary == nullptr ? "error" : primary;
  }
  message += " (SQLSTATE " + state + ")";
  if (state == "23505") return make_error("conflict", std::move(message));
  if (cls == "08" || cls == "53" || cls == "57" || cls == "40" || cls == "58" || state == "25006" || state == "55P03" ||
      state == "55006") {
    return make_error("unavailable", std::move(message));
  }
  return make_error("internal", std::move(message));
}

Status first_error(std::span<const PgResult> results, std::string_view what) {
  const PgResult* aborted = nullptr;
  for (const auto& r : results) {
    if (r.ok()) continue;
    if (r.status() == PGRES_PIPELINE_ABORTED) {
      if (aborted == nullptr) aborted = &r;
      continue;
    }
    return error_from_result(r, what);
  }
  if (aborted != nullptr) return make_error("internal", "postgres: " + std::string(what) + ": statement aborted");
  return Ok{};
}

// ---------------------------------------------------------------- config

Status ConnectConfig::prepare() {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    if (err != nullptr) PQfreemem(err);
    return make_error("invalid_configuration", "the PostgreSQL URL is not a valid libpq connection string");
  }
  std::string host, port, dbname;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view k = o->keyword;
    if (k == "password") password = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  PQconninfoFree(opts);
  target = (host.empty() ? std::string("localhost") : host) + (port.empty() ? "" : ":" + port) +
           (dbname.empty() ? "" : "/" + dbname);
  return Ok{};
}

std::string ConnectConfig::redact(std::string message) const {
  // One line: libpq's reports may span several ("…\n\tIs the server running…").
  std::string line;
  line.reserve(message.size());
  for (char c : message) {
    const bool space = c == '\n' || c == '\r' || c == '\t';
    if (space && (line.empty() || line.back() == ' ')) continue;
    line += space ? ' ' : c;
  }
  message = trim(std::move(line));
  if (password.empty()) return message;
  for (std::size_t pos = message.find(password); pos != std::string::npos; pos = message.find(password, pos + 4)) {
    message.replace(pos, password.size(), "****");
  }
  return message;
}

// ---------------------------------------------------------------- Connection

Connection::Connection(asio::io_context& io, PGconn* conn, const ConnectConfig& config)
    : conn_(conn), config_(config), sock_(io), timer_(io) {}

Connection::~Connection() {
  if (sock_.is_open()) (void)sock_.release();
  PQfinish(conn_);
}

Error Connection::fail(std::string_view what) {
  broken_ = true;
  return make_error("unavailable", "postgres: " + std::string(what) + ": " + config_.redact(PQerrorMessage(conn_)));
}

Task<Connection::Ready> Connection::wait(Want want, Clock::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;
  using asio::posix::stream_descriptor;
  timer_.expires_at(deadline);
  try {
    if (want == Want::kWrite) {
      auto r = co_await (sock_.async_wait(stream_descriptor::wait_write, asio::use_awaitable) ||
                         timer_.async_wait(asio::use_awaitable));
      co_return r.index() == 1 ? Ready::kTimeout : Ready::kReady;
    }
    if (want == Want::kReadOrWrite) {
      auto r = co_await (sock_.async_wait(stream_descriptor::wait_read, asio::use_awaitable) ||
                         sock_.async_wait(stream_descriptor::wait_write, asio::use_awaitable) ||
                         timer_.async_wait(asio::use_awaitable));
      co_return r.index() == 2 ? Ready::kTimeout : Ready::kReady;
    }
    auto r = co_await (sock_.async_wait(stream_descriptor::wait_read, asio::use_awaitable) ||
                       timer_.async_wait(asio::use_awaitable));
    co_return r.index() == 1 ? Ready::kTimeout : Ready::kReady;
  } catch (const std::exception&) {
    co_return Ready::kError;
  }
}

Task<Result<std::unique_ptr<Connection>>> Connection::open(asio::io_context& io, const ConnectConfig& config,
                                                           Clock::time_point deadline) {
  deadline = std::min(deadline, Clock::now() + config.connect_timeout);
  const std::string connect_timeout =
      std::to_string(std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(config.connect_timeout).count()));
  // Entries before the expanded dbname are defaults the URL may override;
  // entries after it override the URL.
  const char* keys[] = {"fallback_application_name",
                        "connect_timeout",
                        "keepalives",
                        "keepalives_idle",
                        "keepalives_interval",
                        "keepalives_count",
                        "dbname",
                        "client_encoding",
                        nullptr};
  const char* values[] = {config.fallback_application_name.c_str(),
                          connect_timeout.c_str(),
                          "1",
                          "30",
                          "10",
                          "3",
                          config.url.c_str(),
                          "UTF8",
                          nullptr};
  PGconn* raw = PQconnectStartParams(keys, values, 1);
  if (raw == nullptr) co_return make_error("unavailable", "postgres: out of memory");
  std::unique_ptr<Connection> conn(new Connection(io, raw, config));
  const std::string what = "cannot connect to " + config.target;
  if (PQstatus(raw) == CONNECTION_BAD) co_return conn->fail(what);
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);

  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) co_return conn->fail(what);
    const int fd = PQsocket(raw);
    if (fd < 0) co_return conn->fail(what);
    // The socket may change between polls (another host, SSL retry): wrap
    // the current one for this wait only.
    Ready ready = Ready::kError;
    {
      boost::system::error_code ec;
      conn->sock_.assign(fd, ec);
      if (ec) co_return make_error("unavailable", "postgres: " + what + ": " + ec.message());
      Released released{conn->sock_};
      ready = co_await conn->wait(st == PGRES_POLLING_WRITING ? Want::kWrite : Want::kRead, deadline);
    }
    if (ready == Ready::kTimeout) {
      conn->broken_ = true;
      conn->timed_out_ = true;
      co_return make_error("unavailable", "postgres: " + what + ": timed out");
    }
    if (ready == Ready::kError) co_return make_error("unavailable", "postgres: " + what + ": wait failed");
    st = PQconnectPoll(raw);
  }
  if (PQsetnonblocking(raw, 1) != 0 || PQenterPipelineMode(raw) != 1) co_return conn->fail(what);
  {
    boost::system::error_code ec;
    conn->sock_.assign(PQsocket(raw), ec);
    if (ec) co_return make_error("unavailable", "postgres: " + what + ": " + ec.message());
  }

  Statement setup;
  setup.sql =
      "SELECT set_config('statement_timeout', $1, false), "
      "set_config('idle_in_transaction_session_timeout', $2, false)";
  setup.params = {int8(config.statement_timeout.count()), int8(config.idle_in_transaction_timeout.count())};
  if (!config.schema.empty()) {
    setup.sql += ", set_config('search_path', quote_ident($3), false)";
    setup.params.push_back(text(config.schema));
  }
  std::vector<PgResult> out;
  if (auto st2 = co_await conn->run(std::span<const Statement>(&setup, 1), deadline, out); !st2.ok()) {
    co_return st2.error();
  }
  if (auto st2 = first_error(out, "setting up a connection"); !st2.ok()) co_return st2.error();
  co_return std::move(conn);
}

bool Connection::ssl_pending() const {
  if (PQsslInUse(conn_) == 0) return false;
  auto* ssl = static_cast<SSL*>(PQsslStruct(conn_, "OpenSSL"));
  return ssl != nullptr && SSL_pending(ssl) > 0;
}

bool Connection::reusable() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  if (PQtransactionStatus(conn_) != PQTRANS_IDLE) return false;
  // Nothing is expected on an idle connection: input (or EOF) means the
  // server ended the session, e.g. pg_terminate_backend or a restart.
  pollfd p{PQsocket(conn_), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Task<Status> Connection::run(std::span<const Statement> statements, Clock::time_point deadline,
                             std::vector<PgResult>& out) {
  out.clear();
  if (broken_) co_return make_error("unavailable", "postgres: connection is broken");
  for (const auto& s : statements) {
    if (has_nul(s.params)) {
      co_return make_error("internal", "postgres: a text value holds a NUL byte, which PostgreSQL cannot store");
    }
  }
  const auto started = Clock::now();

  // What each expected result answers: a statement, a prepare, or a Sync.
  struct Expect {
    enum Kind { kStatement, kPrepare, kSync } kind;
    std::size_t index = 0;       // the statement (its own, or the one a prepare is for)
    const char* name = nullptr;  // prepare
  };
  std::vector<Expect> expect;
  expect.reserve(statements.size() * 2 + 1);
  for (std::size_t i = 0; i < statements.size(); ++i) {
    const Statement& s = statements[i];
    const auto values = values_of(s.params);
    const int n = static_cast<int>(values.size());
    if (s.name != nullptr) {
      if (!prepared_.contains(s.name)) {
        if (PQsendPrepare(conn_, s.name, s.sql.c_str(), n, nullptr) != 1) co_return fail("sending a statement");
        prepared_.insert(s.name);  // taken back if the prepare fails
        expect.push_back({Expect::kPrepare, i, s.name});
      }
      if (PQsendQueryPrepared(conn_, s.name, n, values.data(), nullptr, nullptr, 0) != 1) {
        co_return fail("sending a statement");
      }
    } else if (PQsendQueryParams(conn_, s.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0) != 1) {
      co_return fail("sending a statement");
    }
    expect.push_back({Expect::kStatement, i, nullptr});
    if (s.sync_after || i + 1 == statements.size()) {
      if (PQpipelineSync(conn_) != 1) co_return fail("sending a statement");
      expect.push_back({Expect::kSync, 0, nullptr});
    }
  }
  out.resize(statements.size());

  std::size_t next = 0;
  PgResult current;
  std::vector<std::pair<std::size_t, PgResult>> prepare_errors;
  for (;;) {
    const int flushed = PQflush(conn_);
    if (flushed < 0) co_return fail("sending a statement");
    while (next < expect.size()) {
      if (PQstatus(conn_) == CONNECTION_BAD) co_return fail("connection lost");
      if (PQisBusy(conn_)) break;
      PgResult r(PQgetResult(conn_));
      const Expect& e = expect[next];
      if (e.kind == Expect::kSync) {
        if (r.status() != PGRES_PIPELINE_SYNC) {
          broken_ = true;
          std::string m = r ? config_.redact(PQresultErrorMessage(r.get())) : "connection lost";
          co_return make_error("unavailable", "postgres: " + m);
        }
        ++next;
        continue;
      }
      if (r) {
        if (!current) current = std::move(r);  // one result per statement (extra ones dropped)
        continue;
      }
      // NULL: the end of this statement's results.
      if (e.kind == Expect::kStatement) {
        out[e.index] = std::move(current);
      } else if (!current.ok()) {
        prepared_.erase(e.name);
        // The statement itself will answer "aborted": the prepare's error is its error.
        if (current.status() != PGRES_PIPELINE_ABORTED) prepare_errors.emplace_back(e.index, std::move(current));
      }
      current = PgResult();
      ++next;
    }
    if (next == expect.size()) break;
    // TLS: bytes already decrypted inside OpenSSL do not make the socket
    // readable; consume them before waiting.
    if (flushed == 0 && ssl_pending()) {
      if (PQconsumeInput(conn_) != 1) co_return fail("connection lost");
      continue;
    }
    const Ready ready = co_await wait(flushed == 1 ? Want::kReadOrWrite : Want::kRead, deadline);
    if (ready == Ready::kTimeout) {
      broken_ = true;
      timed_out_ = true;
      co_return make_error("unavailable", "postgres: the database did not answer in time");
    }
    if (ready == Ready::kError) {
      broken_ = true;
      co_return make_error("unavailable", "postgres: waiting on the connection failed");
    }
    if (PQconsumeInput(conn_) != 1) co_return fail("connection lost");
  }
  for (auto& [index, error] : prepare_errors) {
    if (!out[index].ok()) out[index] = std::move(error);
  }
  if (config_.on_round_trip) {
    config_.on_round_trip(std::chrono::duration<double>(Clock::now() - started).count());
  }
  co_return Ok{};
}

// ---------------------------------------------------------------- BlockingConnection

Result<std::unique_ptr<BlockingConnection>> BlockingConnection::open(const ConnectConfig& config) {
  ConnectConfig cfg = config;
  if (cfg.target.empty()) {
    if (auto st = cfg.prepare(); !st.ok()) return st.error();
  }
  const std::string connect_timeout =
      std::to_string(std::max<long long>(2, std::chrono::ceil<std::chrono::seconds>(cfg.connect_timeout).count()));
  const char* keys[] = {"fallback_application_name", "connect_timeout", "dbname", "client_encoding", nullptr};
  const char* values[] = {cfg.fallback_application_name.c_str(), connect_timeout.c_str(), cfg.url.c_str(), "UTF8",
                          nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (raw == nullptr) return make_error("unavailable", "postgres: out of memory");
  std::unique_ptr<BlockingConnection> conn(new BlockingConnection(raw, cfg));
  if (PQstatus(raw) != CONNECTION_OK) {
    return make_error("unavailable",
                      "postgres: cannot connect to " + cfg.target + ": " + cfg.redact(PQerrorMessage(raw)));
  }
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  if (!cfg.schema.empty()) {
    auto r = conn->exec("SELECT set_config('search_path', quote_ident($1), false)", {text(cfg.schema)},
                        "setting search_path");
    if (!r.ok()) return r.error();
  }
  return conn;
}

BlockingConnection::~BlockingConnection() { PQfinish(conn_); }

Result<PgResult> BlockingConnection::exec(const std::string& sql, std::string_view what) {
  PgResult r(PQexec(conn_, sql.c_str()));
  if (!r) {
    return make_error("unavailable", "postgres: " + std::string(what) + ": " + config_.redact(PQerrorMessage(conn_)));
  }
  if (!r.ok()) return error_from_result(r, what);
  return r;
}

Result<PgResult> BlockingConnection::exec(const std::string& sql, const std::vector<Param>& params,
                                          std::string_view what) {
  if (has_nul(params)) return make_error("internal", "postgres: a text value holds a NUL byte");
  const auto values = values_of(params);
  PgResult r(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0));
  if (!r) {
    return make_error("unavailable", "postgres: " + std::string(what) + ": " + config_.redact(PQerrorMessage(conn_)));
  }
  if (!r.ok()) return error_from_result(r, what);
  return r;
}

}  // namespace txv::store::pg

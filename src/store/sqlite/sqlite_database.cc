#include "store/sqlite/sqlite_database.h"

#include <sqlite3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "domain/time.h"
#include "store/record_json.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/read_pool.h"
#include "store/sqlite/write_queue.h"

namespace txv::store {

using sqlite::Connection;
using sqlite::Query;

namespace {

// Steps through a query that asked for limit + 1 rows, newest first, decoding
// up to `limit` of them into `items`. Answers whether more rows follow.
template <typename Item, typename Decode>
Result<bool> read_page(Query& q, int limit, std::vector<Item>& items, Decode decode) {
  for (;;) {
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return false;
    if (static_cast<int>(items.size()) == limit) return true;
    auto item = decode(q);
    if (!item.ok()) return item.error();
    items.push_back(std::move(*item));
  }
}

namespace json = boost::json;

constexpr int kMaxPageLimit = 10000;

std::int64_t to_ms(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_ms(std::int64_t v) { return TimePoint(std::chrono::milliseconds(v)); }

Error corrupt(std::string_view what) {
  return make_error("internal", "stored row does not decode: " + std::string(what));
}

int clamp_limit(int limit) { return std::clamp(limit, 1, kMaxPageLimit); }

// ---------------------------------------------------------------- decisions

#define TXV_DECISION_COLUMNS                                                                                    \
  "seq, merchant_id, transaction_id, request_hash, type, amount, currency, decision, reasons, shadow_matches, " \
  "rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, customer_id, "              \
  "customer_email, customer_ip, customer_country, customer_device_id, has_merchant, merchant_mcc, "             \
  "merchant_country, metadata, occurred_at, decided_at, resolution_decision, resolution_note, resolution_by, "  \
  "resolution_at"

constexpr const char* kInsertDecision =
    "INSERT INTO transactions (merchant_id, transaction_id, request_hash, type, amount, currency, decision, "
    "reasons, shadow_matches, rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, "
    "customer_id, customer_email, customer_ip, customer_country, customer_device_id, has_merchant, merchant_mcc, "
    "merchant_country, metadata, occurred_at, decided_at, resolution_decision, resolution_note, resolution_by, "
    "resolution_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (merchant_id, transaction_id) DO NOTHING";

constexpr const char* kFindDecision =
    "SELECT " TXV_DECISION_COLUMNS " FROM transactions WHERE merchant_id = ? AND transaction_id = ?";

Result<domain::DecisionRecord> decode_decision(const Query& q) {
  domain::DecisionRecord r;
  r.seq = q.get_int(0);
  r.merchant_id = q.get_text(1);
  r.transaction_id = q.get_text(2);
  r.request_hash = q.get_text(3);
  auto type = domain::parse_transaction_type(q.get_text(4));
  if (!type) return corrupt("transactions.type");
  r.type = *type;
  r.amount = q.get_int(5);
  r.currency = q.get_text(6);
  auto decision = domain::parse_decision(q.get_text(7));
  if (!decision) return corrupt("transactions.decision");
  r.decision = *decision;
  auto reasons = reasons_from_text(q.get_text(8));
  if (!reasons) return corrupt("transactions.reasons");
  r.reasons = std::move(*reasons);
  auto shadow = shadow_matches_from_text(q.get_text(9));
  if (!shadow) return corrupt("transactions.shadow_matches");
  r.shadow_matches = std::move(*shadow);
  r.rules_version = q.get_int(10);
  r.card = domain::CardSummary{q.get_text(11), q.get_text(12), q.get_text(13), q.get_text(14)};
  r.has_customer = q.get_int(15) != 0;
  r.customer.id = q.get_opt_text(16);
  r.customer.email = q.get_opt_text(17);
  r.customer.ip = q.get_opt_text(18);
  r.customer.country = q.get_opt_text(19);
  r.customer.device_id = q.get_opt_text(20);
  r.has_merchant = q.get_int(21) != 0;
  r.merchant.mcc = q.get_opt_text(22);
  r.merchant.country = q.get_opt_text(23);
  auto metadata = metadata_from_text(q.get_text(24));
  if (!metadata) return corrupt("transactions.metadata");
  r.metadata = std::move(*metadata);
  r.occurred_at = from_ms(q.get_int(25));
  r.decided_at = from_ms(q.get_int(26));
  if (!q.is_null(27)) {
    auto res = domain::parse_decision(q.get_text(27));
    if (!res) return corrupt("transactions.resolution_decision");
    r.resolution = domain::Resolution{*res, q.get_text(28), q.get_text(29), from_ms(q.get_int(30))};
  }
  return r;
}

Result<std::optional<domain::DecisionRecord>> find_decision_on(Connection& c, const std::string& merchant_id,
                                                               const std::string& transaction_id) {
  Query q(c, kFindDecision);
  q.bind(1, merchant_id).bind(2, transaction_id);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<domain::DecisionRecord>{};
  auto rec = decode_decision(q);
  if (!rec.ok()) return rec.error();
  return std::optional<domain::DecisionRecord>{std::move(*rec)};
}

// ---------------------------------------------------------------- rules

#define TXV_RULE_COLUMNS "id, name, expression, action, code, priority, mode, version, created_at, updated_at"

Result<RuleRecord> decode_rule(const Query& q) {
  RuleRecord r;
  r.id = q.get_text(0);
  r.name = q.get_text(1);
  r.expression = q.get_text(2);
  auto action = domain::parse_rule_action(q.get_text(3));
  if (!action) return corrupt("rules.action");
  r.action = *action;
  r.code = q.get_text(4);
  r.priority = q.get_int(5);
  auto mode = parse_rule_mode(q.get_text(6));
  if (!mode) return corrupt("rules.mode");
  r.mode = *mode;
  r.version = q.get_int(7);
  r.created_at = from_ms(q.get_int(8));
  r.updated_at = from_ms(q.get_int(9));
  return r;
}

Result<std::optional<RuleRecord>> find_rule_on(Connection& c, const std::string& id) {
  Query q(c, "SELECT " TXV_RULE_COLUMNS " FROM rules WHERE id = ?");
  q.bind(1, id);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<RuleRecord>{};
  auto rule = decode_rule(q);
  if (!rule.ok()) return rule.error();
  return std::optional<RuleRecord>{std::move(*rule)};
}

Status write_rule(Connection& c, const char* sql, const RuleRecord& r) {
  Query q(c, sql);
  q.bind(1, r.id)
      .bind(2, r.name)
      .bind(3, r.expression)
      .bind(4, domain::to_string(r.action))
      .bind(5, r.code)
      .bind(6, r.priority)
      .bind(7, to_string(r.mode))
      .bind(8, r.version)
      .bind(9, to_ms(r.created_at))
      .bind(10, to_ms(r.updated_at));
  return q.run();
}

// ---------------------------------------------------------------- shared

Status bump_counter(Connection& c, const char* key) {
  Query q(c, "UPDATE meta SET value = value + 1 WHERE key = ?");
  q.bind(1, key);
  if (auto st = q.run(); !st.ok()) return st;
  if (c.changes() != 1) return make_error("internal", std::string("meta counter missing: ") + key);
  return Ok{};
}

Result<std::int64_t> read_counter(Connection& c, const char* key) {
  Query q(c, "SELECT value FROM meta WHERE key = ?");
  q.bind(1, key);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return make_error("internal", std::string("meta counter missing: ") + key);
  return q.get_int(0);
}

Status append_audit(Connection& c, const std::string& actor, const char* action, const char* object_type,
                    const std::string& object_id, const std::string& before_json, const std::string& after_json) {
  Query q(c,
          "INSERT INTO audit_log (at, actor, action, object_type, object_id, before_json, after_json) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, to_ms(domain::now_millis()))
      .bind(2, actor)
      .bind(3, action)
      .bind(4, object_type)
      .bind(5, object_id)
      .bind(6, before_json)
      .bind(7, after_json);
  return q.run();
}

std::string list_diff_json(const std::vector<std::string_view>& added, const std::vector<std::string_view>& removed) {
  auto to_array = [](const std::vector<std::string_view>& values) {
    json::array a;
    a.reserve(values.size());
    for (auto v : values) a.emplace_back(json::string_view(v.data(), v.size()));
    return a;
  };
  json::object o;
  o["added"] = to_array(added);
  o["removed"] = to_array(removed);
  return json::serialize(o);
}

Result<std::optional<ListSummary>> find_list_on(Connection& c, const std::string& name) {
  Query q(c, "SELECT name, entry_count, updated_at FROM lists WHERE name = ?");
  q.bind(1, name);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<ListSummary>{};
  return std::optional<ListSummary>{ListSummary{q.get_text(0), q.get_int(1), from_ms(q.get_int(2))}};
}

Result<ListSummary> get_list_on(Connection& c, const std::string& name) {
  auto list = find_list_on(c, name);
  if (!list.ok()) return list.error();
  if (!*list) return make_error("internal", "list vanished: " + name);
  return std::move(**list);
}

Status ensure_list(Connection& c, const std::string& name, std::int64_t now) {
  Query q(c,
          "INSERT INTO lists (name, entry_count, created_at, updated_at) VALUES (?, 0, ?, ?) "
          "ON CONFLICT (name) DO NOTHING");
  q.bind(1, name).bind(2, now).bind(3, now);
  return q.run();
}

Status update_list_count(Connection& c, const std::string& name, std::int64_t delta, std::int64_t now) {
  Query q(c, "UPDATE lists SET entry_count = entry_count + ?, updated_at = ? WHERE name = ?");
  q.bind(1, delta).bind(2, now).bind(3, name);
  return q.run();
}

using Param = std::variant<std::string, std::int64_t>;

void bind_params(Query& q, const std::vector<Param>& params) {
  int i = 1;
  for (const auto& p : params) {
    std::visit([&](const auto& v) { q.bind(i, v); }, p);
    ++i;
  }
}

// Runs BEGIN on a read connection so that a multi-statement read sees one
// snapshot; ends it on destruction.
class ReadTransaction {
 public:
  explicit ReadTransaction(Connection& c) : c_(c), status_(c.exec("BEGIN")) {}
  ~ReadTransaction() {
    if (c_.in_transaction()) (void)c_.exec("COMMIT");
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  const Status& status() const { return status_; }

 private:
  Connection& c_;
  Status status_;
};

const char* synchronous_pragma(SqliteSynchronous s) {
  switch (s) {
    case SqliteSynchronous::kFull:
      return "PRAGMA synchronous = FULL";
    case SqliteSynchronous::kNormal:
      return "PRAGMA synchronous = NORMAL";
    case SqliteSynchronous::kOff:
      return "PRAGMA synchronous = OFF";
  }
  return "PRAGMA synchronous = FULL";
}

}  // namespace

// ==================================================================== Impl

struct SqliteDatabase::Impl {
  SqliteOptions options;
  std::unique_ptr<sqlite::WriteQueue> writer;
  std::unique_ptr<sqlite::ReadPool> readers;
  std::mutex close_mu;
  bool closed = false;

  // Runs f(write connection) -> Result<T> as one item of the next group commit
  // and returns its result once committed.
  template <typename T, typename F>
  Result<T> write(F&& f) {
    std::optional<Result<T>> out;
    sqlite::WriteQueue::Work work = [&](Connection& c) -> Status {
      out.emplace(f(c));
      if (!out->ok()) return out->error();
      return Ok{};
    };
    Status st = writer->submit(work);
    if (!st.ok()) return std::move(st).take_error();
    return std::move(*out);
  }

  // Runs f(read connection) on a leased pooled connection.
  template <typename F>
  std::invoke_result_t<F, Connection&> read(F&& f) {
    auto lease = readers->acquire(options.busy_timeout);
    if (!lease.ok()) return lease.error();
    try {
      return f(lease->conn());
    } catch (const std::exception& e) {
      return make_error("internal", std::string("storage read failed: ") + e.what());
    }
  }
};

Result<std::unique_ptr<Database>> open_sqlite_database(const SqliteOptions& options) {
  auto db = SqliteDatabase::open(options);
  if (!db.ok()) return db.error();
  return std::unique_ptr<Database>(std::move(*db));
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const SqliteOptions& options) {
  if (options.path.empty() || options.path == ":memory:" || options.path.starts_with("file:")) {
    return make_error("unavailable", "sqlite: the database path must name a file, got '" + options.path + "'");
  }
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return make_error("unavailable", "sqlite: cannot create directory " + parent.string() + ": " + ec.message());
    }
  }
  auto conn = Connection::open(options.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout);
  if (!conn.ok()) return conn.error();
  Connection& c = **conn;
  {
    Query q(c, "PRAGMA journal_mode = WAL");
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row || q.get_text(0) != "wal") {
      return make_error("unavailable", "sqlite: cannot enable WAL mode on " + options.path);
    }
  }
  if (auto st = c.exec(synchronous_pragma(options.synchronous)); !st.ok()) return st.error();
  if (auto st = c.exec("PRAGMA foreign_keys = ON"); !st.ok()) return st.error();

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto readers = sqlite::ReadPool::open(options.path, options.read_pool_size, options.busy_timeout);
  if (!readers.ok()) return readers.error();
  impl->readers = std::move(*readers);
  impl->writer =
      std::make_unique<sqlite::WriteQueue>(std::move(*conn), static_cast<std::size_t>(std::max(options.max_batch, 1)));
  return std::unique_ptr<SqliteDatabase>(new SqliteDatabase(std::move(impl)));
}

SqliteDatabase::SqliteDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteDatabase::~SqliteDatabase() { close(); }

void SqliteDatabase::close() {
  std::lock_guard lk(impl_->close_mu);
  if (impl_->closed) return;
  impl_->closed = true;
  impl_->writer->stop();    // drains pending writes first
  impl_->readers->close();  // waits for reads in flight
}

SqliteDatabase::WriterStats SqliteDatabase::writer_stats() const {
  auto s = impl_->writer->stats();
  return WriterStats{s.batches, s.items, s.largest_batch};
}

// ==================================================================== migrate

Status SqliteDatabase::migrate() {
  return impl_->write<Ok>([&](Connection& c) -> Status {
    if (auto st = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        !st.ok()) {
      return st;
    }
    auto migrations = sqlite_migrations();
    std::int64_t known = migrations.empty() ? 0 : migrations.back().version;
    std::set<std::int64_t> applied;
    {
      Query q(c, "SELECT version FROM schema_migrations");
      for (;;) {
        auto row = q.step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        applied.insert(q.get_int(0));
      }
    }
    if (!applied.empty() && *applied.rbegin() > known) {
      return make_error("internal", "database schema version " + std::to_string(*applied.rbegin()) +
                                        " is newer than this binary knows (" + std::to_string(known) + ")");
    }
    for (const Migration& m : migrations) {
      if (applied.contains(m.version)) continue;
      if (auto st = c.exec(m.sql); !st.ok()) {
        return make_error(st.error().code, std::string("migration ") + m.name + ": " + st.error().message);
      }
      Query q(c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
      q.bind(1, m.version).bind(2, m.name).bind(3, to_ms(domain::now_millis()));
      if (auto st = q.run(); !st.ok()) return st;
    }
    return Ok{};
  });
}

// ==================================================================== api keys

namespace {
Result<ApiKey> decode_api_key(const Query& q) {
  ApiKey k;
  k.id = q.get_text(0);
  k.name = q.get_text(1);
  auto role = parse_role(q.get_text(2));
  if (!role) return corrupt("api_keys.role");
  k.role = *role;
  k.merchant_id = q.get_opt_text(3);
  k.secret_hash = q.get_text(4);
  k.created_at = from_ms(q.get_int(5));
  return k;
}
#define TXV_API_KEY_COLUMNS "id, name, role, merchant_id, secret_hash, created_at"
}  // namespace

Status SqliteDatabase::create_api_key(const ApiKey& key) {
  return impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "INSERT INTO api_keys (" TXV_API_KEY_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)");
    q.bind(1, key.id)
        .bind(2, key.name)
        .bind(3, to_string(key.role))
        .bind(4, key.merchant_id)
        .bind(5, key.secret_hash)
        .bind(6, to_ms(key.created_at));
    auto st = q.run();
    if (!st.ok() && st.error().code == "conflict") {
      return make_error("conflict", "an API key with this id or secret already exists");
    }
    return st;
  });
}

Result<std::optional<ApiKey>> SqliteDatabase::find_api_key_by_hash(const std::string& secret_hash) {
  return impl_->read([&](Connection& c) -> Result<std::optional<ApiKey>> {
    Query q(c, "SELECT " TXV_API_KEY_COLUMNS " FROM api_keys WHERE secret_hash = ?");
    q.bind(1, secret_hash);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<ApiKey>{};
    auto key = decode_api_key(q);
    if (!key.ok()) return key.error();
    return std::optional<ApiKey>{std::move(*key)};
  });
}

Result<std::vector<ApiKey>> SqliteDatabase::list_api_keys() {
  return impl_->read([&](Connection& c) -> Result<std::vector<ApiKey>> {
    Query q(c, "SELECT " TXV_API_KEY_COLUMNS " FROM api_keys ORDER BY created_at, id");
    std::vector<ApiKey> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      auto key = decode_api_key(q);
      if (!key.ok()) return key.error();
      out.push_back(std::move(*key));
    }
  });
}

// ==================================================================== transactions

Result<InsertOutcome> SqliteDatabase::insert_decision(const domain::DecisionRecord& r) {
  // Encode outside the writer thread: keeps the serialised section short.
  std::string reasons = reasons_to_text(r.reasons);
  std::string shadow = shadow_matches_to_text(r.shadow_matches);
  std::string metadata = metadata_to_text(r.metadata);
  return impl_->write<InsertOutcome>([&](Connection& c) -> Result<InsertOutcome> {
    {
      Query q(c, kInsertDecision);
      q.bind(1, r.merchant_id)
          .bind(2, r.transaction_id)
          .bind(3, r.request_hash)
          .bind(4, domain::to_string(r.type))
          .bind(5, r.amount)
          .bind(6, r.currency)
          .bind(7, domain::to_string(r.decision))
          .bind(8, reasons)
          .bind(9, shadow)
          .bind(10, r.rules_version)
          .bind(11, r.card.brand)
          .bind(12, r.card.bin)
          .bind(13, r.card.last4)
          .bind(14, r.card.fingerprint)
          .bind(15, r.has_customer)
          .bind(16, r.customer.id)
          .bind(17, r.customer.email)
          .bind(18, r.customer.ip)
          .bind(19, r.customer.country)
          .bind(20, r.customer.device_id)
          .bind(21, r.has_merchant)
          .bind(22, r.merchant.mcc)
          .bind(23, r.merchant.country)
          .bind(24, metadata)
          .bind(25, to_ms(r.occurred_at))
          .bind(26, to_ms(r.decided_at));
      if (r.resolution) {
        q.bind(27, domain::to_string(r.resolution->decision))
            .bind(28, r.resolution->note)
            .bind(29, r.resolution->by)
            .bind(30, to_ms(r.resolution->at));
      } else {
        q.bind_null(27).bind_null(28).bind_null(29).bind_null(30);
      }
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    if (c.changes() == 1) {
      InsertOutcome out{true, r};
      out.record.seq = c.last_insert_rowid();
      return out;
    }
    auto existing = find_decision_on(c, r.merchant_id, r.transaction_id);
    if (!existing.ok()) return existing.error();
    if (!*existing) return make_error("internal", "insert ignored but no existing row found");
    return InsertOutcome{false, std::move(**existing)};
  });
}

Result<std::optional<domain::DecisionRecord>> SqliteDatabase::find_decision(const std::string& merchant_id,
                                                                            const std::string& transaction_id) {
  return impl_->read([&](Connection& c) { return find_decision_on(c, merchant_id, transaction_id); });
}

Result<TransactionPage> SqliteDatabase::list_decisions(const TransactionQuery& query) {
  const int limit = clamp_limit(query.limit);
  std::string sql = "SELECT " TXV_DECISION_COLUMNS " FROM transactions WHERE 1 = 1";
  std::vector<Param> params;
  if (query.merchant_id) {
    sql += " AND merchant_id = ?";
    params.emplace_back(*query.merchant_id);
  }
  if (query.decision) {
    sql += " AND decision = ?";
    params.emplace_back(std::string(domain::to_string(*query.decision)));
  }
  if (query.resolved) {
    // Literal terms, so the planner can use the partial review-queue index.
    sql += *query.resolved ? " AND decision = 'review' AND resolution_decision IS NOT NULL"
                           : " AND decision = 'review' AND resolution_decision IS NULL";
  }
  if (query.since) {
    sql += " AND decided_at >= ?";
    params.emplace_back(to_ms(*query.since));
  }
  if (query.until) {
    sql += " AND decided_at < ?";
    params.emplace_back(to_ms(*query.until));
  }
  if (query.before_seq) {
    sql += " AND seq < ?";
    params.emplace_back(*query.before_seq);
  }
  sql += " ORDER BY seq DESC LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(limit) + 1);

  return impl_->read([&](Connection& c) -> Result<TransactionPage> {
    Query q(c, sql);
    bind_params(q, params);
    TransactionPage page;
    auto more = read_page(q, limit, page.items, [](Query& row) { return decode_decision(row); });
    if (!more.ok()) return more.error();
    if (*more) page.next_before_seq = page.items.back().seq;
    return page;
  });
}

Result<domain::DecisionRecord> SqliteDatabase::resolve_review(const std::string& merchant_id,
                                                              const std::string& transaction_id,
                                                              const domain::Resolution& resolution) {
  return impl_->write<domain::DecisionRecord>([&](Connection& c) -> Result<domain::DecisionRecord> {
    const std::string object_id = merchant_id + "/" + transaction_id;
    auto found = find_decision_on(c, merchant_id, transaction_id);
    if (!found.ok()) return found.error();
    if (!*found) return make_error("not_found", "transaction " + object_id + " not found");
    domain::DecisionRecord rec = std::move(**found);
    if (rec.decision != domain::Decision::kReview) {
      return make_error("not_reviewable", "transaction " + object_id + " is not a review decision");
    }
    if (rec.resolution) return make_error("not_reviewable", "transaction " + object_id + " is already resolved");
    {
      Query q(c,
              "UPDATE transactions SET resolution_decision = ?, resolution_note = ?, resolution_by = ?, "
              "resolution_at = ? WHERE seq = ? AND resolution_decision IS NULL");
      q.bind(1, domain::to_string(resolution.decision))
          .bind(2, resolution.note)
          .bind(3, resolution.by)
          .bind(4, to_ms(resolution.at))
          .bind(5, rec.seq);
      if (auto st = q.run(); !st.ok()) return st.error();
      if (c.changes() != 1) return make_error("internal", "resolution update touched no row");
    }
    json::object before{{"decision", domain::to_string(rec.decision)}, {"resolution", nullptr}};
    rec.resolution = resolution;
    json::object after{{"decision", domain::to_string(rec.decision)},
                       {"resolution", resolution_to_json(rec.resolution)}};
    if (auto st = append_audit(c, resolution.by, "resolve", "transaction", object_id, json::serialize(before),
                               json::serialize(after));
        !st.ok()) {
      return st.error();
    }
    return rec;
  });
}

Result<std::vector<VelocityEvent>> SqliteDatabase::velocity_events_since(TimePoint since) {
  return impl_->read([&](Connection& c) -> Result<std::vector<VelocityEvent>> {
    Query q(c,
            "SELECT decided_at, amount, currency, merchant_id, card_fingerprint, customer_id, customer_email, "
            "customer_ip, customer_device_id FROM transactions WHERE decided_at >= ? ORDER BY decided_at, seq");
    q.bind(1, to_ms(since));
    std::vector<VelocityEvent> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      VelocityEvent e;
      e.at = from_ms(q.get_int(0));
      e.amount = q.get_int(1);
      e.currency = q.get_text(2);
      e.merchant_id = q.get_text(3);
      e.card_fingerprint = q.get_text(4);
      e.customer_id = q.get_opt_text(5);
      e.email = q.get_opt_text(6);
      e.ip = q.get_opt_text(7);
      e.device_id = q.get_opt_text(8);
      out.push_back(std::move(e));
    }
  });
}

// ==================================================================== rules

Result<RuleRecord> SqliteDatabase::create_rule(const RuleRecord& rule, const std::string& actor) {
  return impl_->write<RuleRecord>([&](Connection& c) -> Result<RuleRecord> {
    auto existing = find_rule_on(c, rule.id);
    if (!existing.ok()) return existing.error();
    if (*existing) return make_error("conflict", "rule " + rule.id + " already exists");
    RuleRecord stored = rule;
    stored.version = 1;
    if (auto st =
            write_rule(c, "INSERT INTO rules (" TXV_RULE_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", stored);
        !st.ok()) {
      return st.error();
    }
    if (auto st = bump_counter(c, "rules_version"); !st.ok()) return st.error();
    if (auto st = append_audit(c, actor, "create", "rule", stored.id, "null", json::serialize(rule_to_json(stored)));
        !st.ok()) {
      return st.error();
    }
    return stored;
  });
}

Result<RuleRecord> SqliteDatabase::replace_rule(const RuleRecord& rule, const std::string& actor) {
  return impl_->write<RuleRecord>([&](Connection& c) -> Result<RuleRecord> {
    auto existing = find_rule_on(c, rule.id);
    if (!existing.ok()) return existing.error();
    if (!*existing) return make_error("not_found", "rule " + rule.id + " not found");
    const RuleRecord& old = **existing;
    RuleRecord stored = rule;
    stored.version = old.version + 1;
    stored.created_at = old.created_at;
    if (auto st = write_rule(c,
                             "UPDATE rules SET name = ?2, expression = ?3, action = ?4, code = ?5, priority = ?6, "
                             "mode = ?7, version = ?8, created_at = ?9, updated_at = ?10 WHERE id = ?1",
                             stored);
        !st.ok()) {
      return st.error();
    }
    if (auto st = bump_counter(c, "rules_version"); !st.ok()) return st.error();
    if (auto st = append_audit(c, actor, "update", "rule", stored.id, json::serialize(rule_to_json(old)),
                               json::serialize(rule_to_json(stored)));
        !st.ok()) {
      return st.error();
    }
    return stored;
  });
}

Status SqliteDatabase::delete_rule(const std::string& id, const std::string& actor) {
  return impl_->write<Ok>([&](Connection& c) -> Status {
    auto existing = find_rule_on(c, id);
    if (!existing.ok()) return existing.error();
    if (!*existing) return make_error("not_found", "rule " + id + " not found");
    Query q(c, "DELETE FROM rules WHERE id = ?");
    q.bind(1, id);
    if (auto st = q.run(); !st.ok()) return st;
    if (auto st = bump_counter(c, "rules_version"); !st.ok()) return st;
    return append_audit(c, actor, "delete", "rule", id, json::serialize(rule_to_json(**existing)), "null");
  });
}

Result<std::optional<RuleRecord>> SqliteDatabase::find_rule(const std::string& id) {
  return impl_->read([&](Connection& c) { return find_rule_on(c, id); });
}

Result<std::vector<RuleRecord>> SqliteDatabase::list_rules() {
  return impl_->read([&](Connection& c) -> Result<std::vector<RuleRecord>> {
    Query q(c, "SELECT " TXV_RULE_COLUMNS " FROM rules ORDER BY priority, id");
    std::vector<RuleRecord> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      auto rule = decode_rule(q);
      if (!rule.ok()) return rule.error();
      out.push_back(std::move(*rule));
    }
  });
}

Result<std::int64_t> SqliteDatabase::rules_version() {
  return impl_->read([&](Connection& c) { return read_counter(c, "rules_version"); });
}

// ==================================================================== lists

Result<ListSummary> SqliteDatabase::replace_list(const std::string& name, const std::vector<std::string>& entries,
                                                 const std::string& actor) {
  // Sort and dedupe on the caller's thread; views stay valid while we block.
  std::vector<std::string_view> wanted(entries.begin(), entries.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  return impl_->write<ListSummary>([&](Connection& c) -> Result<ListSummary> {
    const std::int64_t now = to_ms(domain::now_millis());
    std::vector<std::string> old;
    {
      Query q(c, "SELECT value FROM list_entries WHERE list_name = ? ORDER BY value");
      q.bind(1, name);
      for (;;) {
        auto row = q.step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        old.push_back(q.get_text(0));
      }
    }
    // BINARY collation is memcmp order, which is std::string's; sort anyway if
    // a future collation change broke that.
    if (!std::is_sorted(old.begin(), old.end())) std::sort(old.begin(), old.end());
    std::vector<std::string_view> old_views(old.begin(), old.end());
    std::vector<std::string_view> added;
    std::vector<std::string_view> removed;
    std::set_difference(wanted.begin(), wanted.end(), old_views.begin(), old_views.end(), std::back_inserter(added));
    std::set_difference(old_views.begin(), old_views.end(), wanted.begin(), wanted.end(), std::back_inserter(removed));
    {
      Query q(c,
              "INSERT INTO lists (name, entry_count, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) "
              "ON CONFLICT (name) DO UPDATE SET entry_count = excluded.entry_count, updated_at = excluded.updated_at");
      q.bind(1, name).bind(2, static_cast<std::int64_t>(wanted.size())).bind(3, now);
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    if (!removed.empty() && removed.size() == old_views.size()) {
      Query q(c, "DELETE FROM list_entries WHERE list_name = ?");
      q.bind(1, name);
      if (auto st = q.run(); !st.ok()) return st.error();
    } else if (!removed.empty()) {
      Query q(c, "DELETE FROM list_entries WHERE list_name = ? AND value = ?");
      for (auto v : removed) {
        q.reset();
        q.bind(1, name).bind(2, v);
        if (auto st = q.run(); !st.ok()) return st.error();
      }
    }
    if (!added.empty()) {
      Query q(c, "INSERT INTO list_entries (list_name, value) VALUES (?, ?)");
      for (auto v : added) {
        q.reset();
        q.bind(1, name).bind(2, v);
        if (auto st = q.run(); !st.ok()) return st.error();
      }
    }
    if (auto st = bump_counter(c, "lists_version"); !st.ok()) return st.error();
    if (auto st = append_audit(c, actor, "replace", "list", name, "null", list_diff_json(added, removed)); !st.ok()) {
      return st.error();
    }
    return ListSummary{name, static_cast<std::int64_t>(wanted.size()), from_ms(now)};
  });
}

Result<ListSummary> SqliteDatabase::add_list_entries(const std::string& name, const std::vector<std::string>& entries,
                                                     const std::string& actor) {
  return impl_->write<ListSummary>([&](Connection& c) -> Result<ListSummary> {
    const std::int64_t now = to_ms(domain::now_millis());
    if (auto st = ensure_list(c, name, now); !st.ok()) return st.error();
    std::vector<std::string_view> added;
    {
      Query q(c, "INSERT INTO list_entries (list_name, value) VALUES (?, ?) ON CONFLICT DO NOTHING");
      for (const auto& v : entries) {
        q.reset();
        q.bind(1, name).bind(2, v);
        if (auto st = q.run(); !st.ok()) return st.error();
        if (c.changes() == 1) added.emplace_back(v);
      }
    }
    if (auto st = update_list_count(c, name, static_cast<std::int64_t>(added.size()), now); !st.ok()) {
      return st.error();
    }
    if (auto st = bump_counter(c, "lists_version"); !st.ok()) return st.error();
    if (auto st = append_audit(c, actor, "add_entries", "list", name, "null", list_diff_json(added, {})); !st.ok()) {
      return st.error();
    }
    return get_list_on(c, name);
  });
}

Result<ListSummary> SqliteDatabase::remove_list_entry(const std::string& name, const std::string& value,
                                                      const std::string& actor) {
  return impl_->write<ListSummary>([&](Connection& c) -> Result<ListSummary> {
    const std::int64_t now = to_ms(domain::now_millis());
    auto list = find_list_on(c, name);
    if (!list.ok()) return list.error();
    if (!*list) return make_error("not_found", "list " + name + " not found");
    {
      Query q(c, "DELETE FROM list_entries WHERE list_name = ? AND value = ?");
      q.bind(1, name).bind(2, value);
      if (auto st = q.run(); !st.ok()) return st.error();
      if (c.changes() == 0) return make_error("not_found", "list " + name + " has no such entry");
    }
    if (auto st = update_list_count(c, name, -1, now); !st.ok()) return st.error();
    if (auto st = bump_counter(c, "lists_version"); !st.ok()) return st.error();
    if (auto st = append_audit(c, actor, "remove_entry", "list", name, "null", list_diff_json({}, {value})); !st.ok()) {
      return st.error();
    }
    return get_list_on(c, name);
  });
}

Result<std::optional<std::vector<std::string>>> SqliteDatabase::list_entries(const std::string& name) {
  return impl_->read([&](Connection& c) -> Result<std::optional<std::vector<std::string>>> {
    ReadTransaction txn(c);
    if (!txn.status().ok()) return txn.status().error();
    auto list = find_list_on(c, name);
    if (!list.ok()) return list.error();
    if (!*list) return std::optional<std::vector<std::string>>{};
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(std::max<std::int64_t>((*list)->entry_count, 0)));
    Query q(c, "SELECT value FROM list_entries WHERE list_name = ? ORDER BY value");
    q.bind(1, name);
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(q.get_text(0));
    }
    return std::optional<std::vector<std::string>>{std::move(out)};
  });
}

Result<std::vector<ListSummary>> SqliteDatabase::list_lists() {
  return impl_->read([&](Connection& c) -> Result<std::vector<ListSummary>> {
    Query q(c, "SELECT name, entry_count, updated_at FROM lists ORDER BY name");
    std::vector<ListSummary> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      out.push_back(ListSummary{q.get_text(0), q.get_int(1), from_ms(q.get_int(2))});
    }
  });
}

Result<std::int64_t> SqliteDatabase::lists_version() {
  return impl_->read([&](Connection& c) { return read_counter(c, "lists_version"); });
}

// ==================================================================== audit

Result<AuditPage> SqliteDatabase::list_audit(const AuditQuery& query) {
  const int limit = clamp_limit(query.limit);
  std::string sql =
      "SELECT id, at, actor, action, object_type, object_id, before_json, after_json FROM audit_log WHERE 1 = 1";
  std::vector<Param> params;
  if (query.object_type) {
    sql += " AND object_type = ?";
    params.emplace_back(*query.object_type);
  }
  if (query.object_id) {
    sql += " AND object_id = ?";
    params.emplace_back(*query.object_id);
  }
  if (query.since) {
    sql += " AND at >= ?";
    params.emplace_back(to_ms(*query.since));
  }
  if (query.before_id) {
    sql += " AND id < ?";
    params.emplace_back(*query.before_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(limit) + 1);

  return impl_->read([&](Connection& c) -> Result<AuditPage> {
    Query q(c, sql);
    bind_params(q, params);
    AuditPage page;
    auto more = read_page(q, limit, page.items, [](Query& row) -> Result<AuditEntry> {
      AuditEntry e;
      e.id = row.get_int(0);
      e.at = from_ms(row.get_int(1));
      e.actor = row.get_text(2);
      e.action = row.get_text(3);
      e.object_type = row.get_text(4);
      e.object_id = row.get_text(5);
      e.before_json = row.get_text(6);
      e.after_json = row.get_text(7);
      return e;
    });
    if (!more.ok()) return more.error();
    if (*more) page.next_before_id = page.items.back().id;
    return page;
  });
}

// ==================================================================== health

Status SqliteDatabase::ping() {
  return impl_->read([&](Connection& c) -> Status {
    auto v = c.query_int("SELECT count(*) FROM sqlite_master");
    if (!v.ok()) return v.error();
    return Ok{};
  });
}

DatabaseHealth::PoolStats SqliteDatabase::pool_stats() {
  auto s = impl_->readers->stats();
  return PoolStats{s.idle, s.in_use};
}

}  // namespace txv::store

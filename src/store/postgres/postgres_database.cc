#include "store/postgres/postgres_database.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "common/async_key_lock.h"
#include "domain/time.h"
#include "store/decision_stats.h"
#include "store/list_change.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/pg_pool.h"
#include "store/record_json.h"

namespace txv::store {

using pg::Clock;
using pg::Param;
using pg::PgResult;
using pg::Statement;

namespace {

namespace json = boost::json;

constexpr int kMaxPageLimit = 10000;
constexpr std::size_t kNamedBatchSizes = 16;  // insert batches up to this size use prepared statements

std::int64_t to_ms(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_ms(std::int64_t v) { return TimePoint(std::chrono::milliseconds(v)); }
int clamp_limit(int limit) { return std::clamp(limit, 1, kMaxPageLimit); }

Error corrupt(std::string_view what) {
  return make_error("internal", "stored row does not decode: " + std::string(what));
}
Error closed_error() { return make_error("unavailable", "database is closed"); }

Statement stmt(const char* name, std::string sql, std::vector<Param> params) {
  return Statement{name, std::move(sql), std::move(params), false};
}
// Parameters given one by one (no braced list: see seq()).
template <class... P>
requires(std::is_convertible_v<P, Param>&&...) Statement stmt(const char* name, std::string sql, P&&... params) {
  Statement s{name, std::move(sql), {}, false};
  s.params.reserve(sizeof...(P));
  (s.params.push_back(Param(std::forward<P>(params))), ...);
  return s;
}

// Builds a statement with numbered parameters.
struct SqlBuilder {
  std::string sql;
  std::vector<Param> params;
  std::string add(Param p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  }
};

// A one-shot event for a coroutine on the database's thread.
class Event {
 public:
  explicit Event(asio::io_context& io) : timer_(io, Clock::time_point::max()) {}
  void set() {
    set_ = true;
    timer_.cancel();
  }
  Task<void> wait() {
    while (!set_) {
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

// ---------------------------------------------------------------- decisions

#define TXV_DECISION_COLUMNS                                                                                    \
  "seq, merchant_id, transaction_id, request_hash, type, amount, currency, decision, reasons, shadow_matches, " \
  "rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, customer_id, "              \
  "customer_email, customer_ip, customer_country, customer_device_id, has_merchant, merchant_mcc, "             \
  "merchant_country, metadata, occurred_at, decided_at, resolution_decision, resolution_note, resolution_by, "  \
  "resolution_at"

#define TXV_DECISION_INSERT_COLUMNS                                                                                \
  "merchant_id, transaction_id, request_hash, type, amount, currency, decision, reasons, shadow_matches, "         \
  "rules_version, card_brand, card_bin, card_last4, card_fingerprint, has_customer, customer_id, customer_email, " \
  "customer_ip, customer_country, customer_device_id, has_merchant, merchant_mcc, merchant_country, metadata, "    \
  "occurred_at, decided_at, resolution_decision, resolution_note, resolution_by, resolution_at, trace"

constexpr int kDecisionParams = 31;

// The parameters of one decision row, in TXV_DECISION_INSERT_COLUMNS order.
std::vector<Param> decision_params(const domain::DecisionRecord& r) {
  std::vector<Param> p;
  p.reserve(kDecisionParams);
  p.push_back(pg::text(r.merchant_id));
  p.push_back(pg::text(r.transaction_id));
  p.push_back(pg::text(r.request_hash));
  p.push_back(pg::text(domain::to_string(r.type)));
  p.push_back(pg::int8(r.amount));
  p.push_back(pg::text(r.currency));
  p.push_back(pg::text(domain::to_string(r.decision)));
  p.push_back(reasons_to_text(r.reasons));
  p.push_back(shadow_matches_to_text(r.shadow_matches));
  p.push_back(pg::int8(r.rules_version));
  p.push_back(pg::text(r.card.brand));
  p.push_back(pg::text(r.card.bin));
  p.push_back(pg::text(r.card.last4));
  p.push_back(pg::text(r.card.fingerprint));
  p.push_back(pg::boolean(r.has_customer));
  p.push_back(pg::opt_text(r.customer.id));
  p.push_back(pg::opt_text(r.customer.email));
  p.push_back(pg::opt_text(r.customer.ip));
  p.push_back(pg::opt_text(r.customer.country));
  p.push_back(pg::opt_text(r.customer.device_id));
  p.push_back(pg::boolean(r.has_merchant));
  p.push_back(pg::opt_text(r.merchant.mcc));
  p.push_back(pg::opt_text(r.merchant.country));
  p.push_back(metadata_to_text(r.metadata));
  p.push_back(pg::int8(to_ms(r.occurred_at)));
  p.push_back(pg::int8(to_ms(r.decided_at)));
  if (r.resolution) {
    p.push_back(pg::text(domain::to_string(r.resolution->decision)));
    p.push_back(pg::text(r.resolution->note));
    p.push_back(pg::text(r.resolution->by));
    p.push_back(pg::int8(to_ms(r.resolution->at)));
  } else {
    for (int i = 0; i < 4; ++i) p.push_back(pg::null());
  }
  p.push_back(r.trace.empty() ? pg::null() : pg::text(r.trace));
  return p;
}

// "INSERT … VALUES (…), (…) … RETURNING seq, merchant_id, transaction_id" for n rows.
std::string insert_decisions_sql(std::size_t n) {
  std::string sql = "INSERT INTO transactions (" TXV_DECISION_INSERT_COLUMNS ") VALUES ";
  int k = 1;
  for (std::size_t row = 0; row < n; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (int c = 0; c < kDecisionParams; ++c) {
      if (c > 0) sql += ", ";
      sql += "$" + std::to_string(k++);
    }
    sql += ")";
  }
  sql += " ON CONFLICT (merchant_id, transaction_id) DO NOTHING RETURNING seq, merchant_id, transaction_id";
  return sql;
}

const char* insert_batch_name(std::size_t n) {
  static const auto names = [] {
    std::array<std::string, kNamedBatchSizes + 1> a;
    for (std::size_t i = 1; i <= kNamedBatchSizes; ++i) a[i] = "txv_insert_decisions_" + std::to_string(i);
    return a;
  }();
  return n >= 1 && n <= kNamedBatchSizes ? names[n].c_str() : nullptr;
}

const char* const kFindDecisionSql =
    "SELECT " TXV_DECISION_COLUMNS " FROM transactions WHERE merchant_id = $1 AND transaction_id = $2";

Result<domain::DecisionRecord> decode_decision(const PgResult& q, int row) {
  domain::DecisionRecord r;
  r.seq = q.int8(row, 0);
  r.merchant_id = q.text(row, 1);
  r.transaction_id = q.text(row, 2);
  r.request_hash = q.text(row, 3);
  auto type = domain::parse_transaction_type(q.view(row, 4));
  if (!type) return corrupt("transactions.type");
  r.type = *type;
  r.amount = q.int8(row, 5);
  r.currency = q.text(row, 6);
  auto decision = domain::parse_decision(q.view(row, 7));
  if (!decision) return corrupt("transactions.decision");
  r.decision = *decision;
  auto reasons = reasons_from_text(q.view(row, 8));
  if (!reasons) return corrupt("transactions.reasons");
  r.reasons = std::move(*reasons);
  auto shadow = shadow_matches_from_text(q.view(row, 9));
  if (!shadow) return corrupt("transactions.shadow_matches");
  r.shadow_matches = std::move(*shadow);
  r.rules_version = q.int8(row, 10);
  r.card = domain::CardSummary{q.text(row, 11), q.text(row, 12), q.text(row, 13), q.text(row, 14)};
  r.has_customer = q.boolean(row, 15);
  r.customer.id = q.opt_text(row, 16);
  r.customer.email = q.opt_text(row, 17);
  r.customer.ip = q.opt_text(row, 18);
  r.customer.country = q.opt_text(row, 19);
  r.customer.device_id = q.opt_text(row, 20);
  r.has_merchant = q.boolean(row, 21);
  r.merchant.mcc = q.opt_text(row, 22);
  r.merchant.country = q.opt_text(row, 23);
  auto metadata = metadata_from_text(q.view(row, 24));
  if (!metadata) return corrupt("transactions.metadata");
  r.metadata = std::move(*metadata);
  r.occurred_at = from_ms(q.int8(row, 25));
  r.decided_at = from_ms(q.int8(row, 26));
  if (!q.is_null(row, 27)) {
    auto res = domain::parse_decision(q.view(row, 27));
    if (!res) return corrupt("transactions.resolution_decision");
    r.resolution = domain::Resolution{*res, q.text(row, 28), q.text(row, 29), from_ms(q.int8(row, 30))};
  }
  return r;
}

std::string decision_key(std::string_view merchant_id, std::string_view transaction_id) {
  std::string k;
  k.reserve(merchant_id.size() + transaction_id.size() + 1);
  k.append(merchant_id);
  k.push_back('\0');
  k.append(transaction_id);
  return k;
}

// ---------------------------------------------------------------- labels

// The current label, kept on the transaction (migrations/postgres/0003_labels.sql).
#define TXV_CURRENT_LABEL_COLUMNS "label, label_source, label_reason, label_at, label_by"

// The number of columns of a column list such as TXV_DECISION_COLUMNS.
constexpr int column_count(std::string_view columns) {
  int n = 1;
  for (char c : columns) n += c == ',' ? 1 : 0;
  return n;
}

// Columns first .. first+4 of a row: TXV_CURRENT_LABEL_COLUMNS (all NULL: none),
// or those of the labels table (label, source, reason, at, actor).
Result<std::optional<Label>> decode_label(const PgResult& q, int row, int first, const std::string& merchant_id,
                                          const std::string& transaction_id) {
  if (q.is_null(row, first)) return std::optional<Label>{};
  Label l;
  l.merchant_id = merchant_id;
  l.transaction_id = transaction_id;
  auto value = parse_label_value(q.view(row, first));
  if (!value) return corrupt("label");
  l.value = *value;
  auto source = parse_label_source(q.view(row, first + 1));
  if (!source) return corrupt("label source");
  l.source = *source;
  l.reason = q.opt_text(row, first + 2);
  l.at = from_ms(q.int8(row, first + 3));
  l.by = q.text(row, first + 4);
  return std::optional<Label>{std::move(l)};
}

// A text[] literal whose nullopt elements are SQL NULL.
std::string nullable_text_array(std::span<const std::optional<std::string>> values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

bool has_nul(const Label& l) {
  auto nul = [](std::string_view s) { return s.find('\0') != std::string_view::npos; };
  return nul(l.merchant_id) || nul(l.transaction_id) || nul(l.by) || (l.reason && nul(*l.reason));
}

// What a chunk of labels does, given the locked rows of its transactions
// (seq, merchant_id, transaction_id, TXV_CURRENT_LABEL_COLUMNS): one outcome
// per label and the statements that write the history rows, the new current
// labels and the audit entries (each one statement over arrays; none when no
// label is stored). Labels of one transaction in a chunk see each other, in order.
struct LabelPlan {
  std::vector<Status> results;
  std::vector<Statement> statements;
};

Result<LabelPlan> plan_labels(std::span<const Label> part, const PgResult& rows, std::int64_t now) {
  struct Target {
    std::int64_t seq = 0;
    std::optional<Label> current;
    bool changed = false;
  };
  std::map<std::pair<std::string, std::string>, Target> targets;
  for (int i = 0; i < rows.rows(); ++i) {
    std::string m = rows.text(i, 1);
    std::string t = rows.text(i, 2);
    auto current = decode_label(rows, i, 3, m, t);
    if (!current.ok()) return current.error();
    Target target;
    target.seq = rows.int8(i, 0);
    target.current = std::move(*current);
    targets.insert_or_assign(std::make_pair(std::move(m), std::move(t)), std::move(target));
  }
  LabelPlan plan;
  plan.results.reserve(part.size());
  std::vector<std::int64_t> ins_seq, ins_at;
  std::vector<std::string_view> ins_label, ins_source, ins_by;
  std::vector<std::optional<std::string>> ins_reason;
  std::vector<std::string> aud_object, aud_before, aud_after;
  for (const auto& l : part) {
    std::string object_id = l.merchant_id + "/" + l.transaction_id;
    if (has_nul(l)) {
      plan.results.emplace_back(make_error("internal", "postgres: a text value holds a NUL byte"));
      continue;
    }
    auto it = targets.find(std::make_pair(l.merchant_id, l.transaction_id));
    if (it == targets.end()) {
      plan.results.emplace_back(make_error("not_found", "transaction " + object_id + " not found"));
      continue;
    }
    Target& target = it->second;
    json::object before;
    before["label"] = target.current ? json::value(label_to_json(*target.current)) : json::value(nullptr);
    // The latest by `at` is current; on a tie the one stored last wins.
    if (!target.current || l.at >= target.current->at) {
      target.current = l;
      target.changed = true;
    }
    json::object after;
    after["label"] = label_to_json(*target.current);
    after["added"] = label_to_json(l);
    ins_seq.push_back(target.seq);
    ins_label.push_back(to_string(l.value));
    ins_source.push_back(to_string(l.source));
    ins_reason.push_back(l.reason);
    ins_at.push_back(to_ms(l.at));
    ins_by.push_back(l.by);
    aud_object.push_back(std::move(object_id));
    aud_before.push_back(json::serialize(before));
    aud_after.push_back(json::serialize(after));
    plan.results.emplace_back(Ok{});
  }
  if (ins_seq.empty()) return plan;
  std::vector<std::int64_t> upd_seq, upd_at;
  std::vector<std::string_view> upd_label, upd_source, upd_by;
  std::vector<std::optional<std::string>> upd_reason;
  for (const auto& [key, target] : targets) {
    if (!target.changed) continue;
    upd_seq.push_back(target.seq);
    upd_label.push_back(to_string(target.current->value));
    upd_source.push_back(to_string(target.current->source));
    upd_reason.push_back(target.current->reason);
    upd_at.push_back(to_ms(target.current->at));
    upd_by.push_back(target.current->by);
  }
  std::vector<std::string_view> object_views(aud_object.begin(), aud_object.end());
  std::vector<std::string_view> before_views(aud_before.begin(), aud_before.end());
  std::vector<std::string_view> after_views(aud_after.begin(), aud_after.end());
  plan.statements.push_back(
      stmt("txv_label_insert",
           "INSERT INTO labels (transaction_seq, label, source, reason, at, actor, created_at) "
           "SELECT s, l, src, r, a, b, $7::bigint FROM unnest($1::bigint[], $2::text[], $3::text[], "
           "$4::text[], $5::bigint[], $6::text[]) WITH ORDINALITY AS u(s, l, src, r, a, b, n) ORDER BY n",
           pg::int8_array(ins_seq), pg::text_array(ins_label), pg::text_array(ins_source),
           nullable_text_array(ins_reason), pg::int8_array(ins_at), pg::text_array(ins_by), pg::int8(now)));
  plan.statements.push_back(
      stmt("txv_label_update",
           "UPDATE transactions t SET label = u.l, label_source = u.src, label_reason = u.r, "
           "label_at = u.a, label_by = u.b FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
           "$5::bigint[], $6::text[]) AS u(s, l, src, r, a, b) WHERE t.seq = u.s",
           pg::int8_array(upd_seq), pg::text_array(upd_label), pg::text_array(upd_source),
           nullable_text_array(upd_reason), pg::int8_array(upd_at), pg::text_array(upd_by)));
  plan.statements.push_back(
      stmt("txv_label_audit",
           "INSERT INTO audit_log (at, actor, action, object_type, object_id, before_json, after_json) "
           "SELECT $1::bigint, a, 'label', 'transaction', o, bj, aj FROM unnest($2::text[], $3::text[], "
           "$4::text[], $5::text[]) WITH ORDINALITY AS u(a, o, bj, aj, n) ORDER BY n",
           pg::int8(now), pg::text_array(ins_by), pg::text_array(object_views), pg::text_array(before_views),
           pg::text_array(after_views)));
  return plan;
}

// ---------------------------------------------------------------- api keys

#define TXV_API_KEY_COLUMNS "id, name, role, merchant_id, secret_hash, created_at, last_used_at, revoked_at"

Result<ApiKey> decode_api_key(const PgResult& q, int row) {
  ApiKey k;
  k.id = q.text(row, 0);
  k.name = q.text(row, 1);
  auto role = parse_role(q.view(row, 2));
  if (!role) return corrupt("api_keys.role");
  k.role = *role;
  k.merchant_id = q.opt_text(row, 3);
  k.secret_hash = q.text(row, 4);
  k.created_at = from_ms(q.int8(row, 5));
  if (!q.is_null(row, 6)) k.last_used_at = from_ms(q.int8(row, 6));
  if (!q.is_null(row, 7)) k.revoked_at = from_ms(q.int8(row, 7));
  return k;
}

// ---------------------------------------------------------------- rules

#define TXV_RULE_COLUMNS "id, name, expression, action, code, priority, mode, version, created_at, updated_at"

Result<RuleRecord> decode_rule(const PgResult& q, int row) {
  RuleRecord r;
  r.id = q.text(row, 0);
  r.name = q.text(row, 1);
  r.expression = q.text(row, 2);
  auto action = domain::parse_rule_action(q.view(row, 3));
  if (!action) return corrupt("rules.action");
  r.action = *action;
  r.code = q.text(row, 4);
  r.priority = q.int8(row, 5);
  auto mode = parse_rule_mode(q.view(row, 6));
  if (!mode) return corrupt("rules.mode");
  r.mode = *mode;
  r.version = q.int8(row, 7);
  r.created_at = from_ms(q.int8(row, 8));
  r.updated_at = from_ms(q.int8(row, 9));
  return r;
}

constexpr const char* kInsertRuleSql =
    "INSERT INTO rules (" TXV_RULE_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
constexpr const char* kUpdateRuleSql =
    "UPDATE rules SET name = $2, expression = $3, action = $4, code = $5, priority = $6, mode = $7, "
    "version = $8, created_at = $9, updated_at = $10 WHERE id = $1";
constexpr const char* kDeleteRuleSql = "DELETE FROM rules WHERE id = $1";

std::vector<Param> rule_params(const RuleRecord& r) {
  return {pg::text(r.id),
          pg::text(r.name),
          pg::text(r.expression),
          pg::text(domain::to_string(r.action)),
          pg::text(r.code),
          pg::int8(r.priority),
          pg::text(to_string(r.mode)),
          pg::int8(r.version),
          pg::int8(to_ms(r.created_at)),
          pg::int8(to_ms(r.updated_at))};
}

// The audit entry of a resolution: only an unresolved review is resolved.
std::pair<std::string, std::string> resolution_audit_json(const domain::Resolution& resolution) {
  json::object before{{"decision", domain::to_string(domain::Decision::kReview)}, {"resolution", nullptr}};
  json::object after{{"decision", domain::to_string(domain::Decision::kReview)},
                     {"resolution", resolution_to_json(resolution)}};
  return {json::serialize(before), json::serialize(after)};
}

// ---------------------------------------------------------------- shared

// A statement list built without an initializer_list (GCC 12 miscompiles
// braced lists inside coroutines: "array used as initializer").
template <class... S>
std::vector<Statement> seq(S&&... s) {
  std::vector<Statement> v;
  v.reserve(sizeof...(S));
  (v.push_back(std::forward<S>(s)), ...);
  return v;
}

Statement bump_counter(const char* key) {
  return stmt("txv_bump_counter", "UPDATE meta SET value = value + 1 WHERE key = $1", pg::text(key));
}

Statement append_audit(const std::string& actor, const char* action, const char* object_type,
                       const std::string& object_id, std::string before_json, std::string after_json,
                       std::optional<std::int64_t> at_ms = std::nullopt) {
  return stmt("txv_append_audit",
              "INSERT INTO audit_log (at, actor, action, object_type, object_id, before_json, after_json) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7)",
              pg::int8(at_ms ? *at_ms : to_ms(domain::now_millis())), pg::text(actor), pg::text(action),
              pg::text(object_type), pg::text(object_id), std::move(before_json), std::move(after_json));
}

Statement read_counter(const char* key) {
  return stmt("txv_read_counter", "SELECT value FROM meta WHERE key = $1", pg::text(key));
}

Result<std::int64_t> counter_of(const std::vector<PgResult>& r, const char* key) {
  if (r.empty() || r[0].rows() != 1) return make_error("internal", std::string("meta counter missing: ") + key);
  return r[0].int8(0, 0);
}

// ---------------------------------------------------------------- lists

// Rows of a list read per statement: the database's thread parses each
// result, so a page bounds how long one list read holds that thread.
constexpr int kListPageRows = 20000;

// One REPEATABLE READ snapshot of a list. The values come in pages, each
// generation's pages in order; content() merges the generations.
struct ListSnapshot {
  bool exists = false;
  std::int64_t revision = 0;
  ListSummary summary;
  std::vector<std::int64_t> live;   // live generation ids, ascending
  std::vector<PgResult> values;     // pages
  std::vector<std::size_t> starts;  // index in `values` of each generation's first page

  std::vector<std::string> content() const {
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(std::max<std::int64_t>(summary.entry_count, 0)));
    std::size_t next_start = 0;
    std::ptrdiff_t middle = 0;
    for (std::size_t p = 0; p < values.size(); ++p) {
      if (next_start < starts.size() && starts[next_start] == p) {
        // Each generation is sorted; generations of one list are disjoint.
        std::inplace_merge(out.begin(), out.begin() + middle, out.end());
        middle = static_cast<std::ptrdiff_t>(out.size());
        ++next_start;
      }
      for (int i = 0; i < values[p].rows(); ++i) out.push_back(values[p].text(i, 0));
    }
    std::inplace_merge(out.begin(), out.begin() + middle, out.end());
    return out;
  }
};

}  // namespace

// ==================================================================== Impl

struct PostgresDatabase::Impl {
  enum class Target { kPrimary, kRead };

  PostgresOptions options;
  std::size_t chunk = 5000;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  std::unique_ptr<pg::Pool> primary;
  std::unique_ptr<pg::Pool> replica;         // null without read_url
  std::unique_ptr<asio::thread_pool> admin;  // CPU-heavy list work (diffs, digests)
  AsyncKeyLock list_locks;

  // Life cycle: every coroutine on the database's thread is counted; close()
  // waits for none to be left.
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  bool closed = false;
  std::atomic<bool> closing{false};
  std::mutex close_mu;
  bool finished = false;

  // Decision writer (database thread only).
  struct InsertItem {
    InsertItem(asio::io_context& io, const domain::DecisionRecord* r, std::vector<Param> p, Clock::time_point d)
        : record(r), params(std::move(p)), deadline(d), done(io) {}
    const domain::DecisionRecord* record;
    std::vector<Param> params;
    Clock::time_point deadline;
    std::optional<Result<InsertOutcome>> out;
    Event done;
    void finish(Result<InsertOutcome> r) {
      out.emplace(std::move(r));
      done.set();
    }
  };
  std::deque<InsertItem*> insert_queue;
  int writers_active = 0;
  int writers_starting = 0;
  std::atomic<std::uint64_t> batches{0}, items{0}, largest_batch{0}, fallbacks{0}, queued{0};

  // Background deletion of retired list generations (database thread only).
  bool sweeping = false;
  bool sweep_again = false;

  bool enter() {
    std::lock_guard lk(mu);
    if (closed) return false;
    ++in_flight;
    return true;
  }
  void leave() {
    std::lock_guard lk(mu);
    if (--in_flight == 0) cv.notify_all();
  }
  // Counts a coroutine that serves calls already in flight (not gated by close()).
  void hold() {
    std::lock_guard lk(mu);
    ++in_flight;
  }
  bool is_closed() {
    std::lock_guard lk(mu);
    return closed;
  }

  template <class R, class F>
  static Task<std::optional<R>> guarded(F f) {
    try {
      co_return std::optional<R>(co_await f());
    } catch (const std::exception& e) {
      co_return std::optional<R>(R(make_error("internal", std::string("postgres: ") + e.what())));
    }
  }

  // Runs f() (a Task) on the database's thread; the caller resumes on its own
  // executor with the result. "unavailable" after close().
  template <class F>
  auto call(F f) -> Task<typename std::invoke_result_t<F&>::value_type> {
    using R = typename std::invoke_result_t<F&>::value_type;
    auto initiate = [this, f = std::move(f)](auto handler) mutable {
      auto work = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
      if (!enter()) {
        asio::post(work, [h = std::move(handler)]() mutable {
          std::optional<R> r;
          r.emplace(closed_error());
          std::move(h)(std::move(r));
        });
        return;
      }
      asio::co_spawn(
          io, guarded<R>(std::move(f)),
          [this, h = std::move(handler), work = std::move(work)](std::exception_ptr, std::optional<R> r) mutable {
            if (!r) r.emplace(R(make_error("internal", "postgres: call abandoned")));
            asio::post(work, [h = std::move(h), r = std::move(r)]() mutable { std::move(h)(std::move(r)); });
            leave();
          });
    };
    std::optional<R> r = co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::optional<R>)>(
        std::move(initiate), asio::use_awaitable);
    co_return std::move(*r);
  }

  // Blocking twin of call() for start-up and the blocking store calls: never
  // from an I/O thread nor from the database's thread.
  template <class F>
  auto block(F f) -> typename std::invoke_result_t<F&>::value_type {
    using R = typename std::invoke_result_t<F&>::value_type;
    if (!enter()) return R(closed_error());
    auto promise = std::make_shared<std::promise<std::optional<R>>>();
    auto future = promise->get_future();
    asio::co_spawn(io, guarded<R>(std::move(f)), [this, promise](std::exception_ptr, std::optional<R> r) mutable {
      if (!r) r.emplace(R(make_error("internal", "postgres: call abandoned")));
      promise->set_value(std::move(r));
      leave();
    });
    return std::move(*future.get());
  }

  pg::Pool& pool_for(Target t) { return t == Target::kRead && replica ? *replica : *primary; }

  // Database thread: a leased connection of `target` (the primary if the
  // read server is unavailable).
  Task<Result<pg::Pool::Lease>> acquire(Target target, Clock::time_point deadline) {
    pg::Pool& pool = pool_for(target);
    auto lease = co_await pool.acquire(deadline);
    if (!lease.ok() && &pool != primary.get() && !closing.load()) lease = co_await primary->acquire(deadline);
    co_return lease;
  }

  // Database thread: one exchange on a pooled connection; any statement's
  // error is the exchange's. `idempotent`: retried once on a fresh connection
  // when the connection was lost (not when it timed out).
  Task<Result<std::vector<PgResult>>> exchange(Target target, std::span<const Statement> statements,
                                               std::string_view what, bool idempotent) {
    for (int attempt = 0;; ++attempt) {
      const auto deadline = Clock::now() + options.call_timeout;
      auto lease = co_await acquire(target, deadline);
      if (!lease.ok()) co_return lease.error();
      std::vector<PgResult> out;
      Status st = co_await (*lease)->run(statements, deadline, out);
      if (!st.ok()) {
        const bool retry = idempotent && attempt == 0 && (*lease)->lost() && !closing.load();
        lease->release();
        if (retry) continue;
        co_return st.error();
      }
      if (auto e = pg::first_error(out, what); !e.ok()) co_return e.error();
      co_return out;
    }
  }

  // From any thread: one exchange, results delivered to the caller's thread.
  Task<Result<std::vector<PgResult>>> query(Target target, std::vector<Statement> statements, std::string what,
                                            bool idempotent) {
    auto fn = [this, target, statements = std::move(statements), what = std::move(what),
               idempotent]() -> Task<Result<std::vector<PgResult>>> {
      return exchange(target, statements, what, idempotent);
    };
    co_return co_await call(std::move(fn));
  }
  Task<Result<std::vector<PgResult>>> read(Target target, std::vector<Statement> statements, std::string what) {
    return query(target, std::move(statements), std::move(what), true);
  }
  Task<Result<std::vector<PgResult>>> write(std::vector<Statement> statements, std::string what) {
    return query(Target::kPrimary, std::move(statements), std::move(what), false);
  }

  // Database thread: one exchange on a leased connection (several make a
  // session, e.g. an explicit transaction).
  Task<Result<std::vector<PgResult>>> run(pg::Pool::Lease& lease, std::vector<Statement> statements,
                                          std::string_view what) {
    std::vector<PgResult> out;
    Status st = co_await lease->run(statements, Clock::now() + options.call_timeout, out);
    if (!st.ok()) co_return st.error();
    if (auto e = pg::first_error(out, what); !e.ok()) co_return e.error();
    co_return out;
  }
  // Ends an explicit transaction without its changes (else the connection is dropped on release).
  Task<void> rollback(pg::Pool::Lease& lease) { (void)co_await run(lease, seq(stmt(nullptr, "ROLLBACK")), "rollback"); }

  // ---------------------------------------------------------------- decision writer

  void kick_writers() {
    if (insert_queue.empty() || writers_starting > 0 || writers_active >= std::max(options.insert_writers, 1)) return;
    hold();  // the queued items are in flight: close() waits for them
    ++writers_active;
    ++writers_starting;
    asio::co_spawn(io, writer_loop(), asio::detached);
  }

  Task<void> writer_loop() {
    --writers_starting;
    const auto max_batch = static_cast<std::size_t>(std::clamp(options.max_insert_batch, 1, 2000));
    while (!insert_queue.empty()) {
      std::vector<InsertItem*> batch;
      const auto now = Clock::now();
      while (!insert_queue.empty() && batch.size() < max_batch) {
        InsertItem* item = insert_queue.front();
        insert_queue.pop_front();
        queued.store(insert_queue.size());
        if (item->deadline <= now) {
          item->finish(make_error("unavailable", "postgres: the decision was not written in time"));
          continue;
        }
        batch.push_back(item);
      }
      if (batch.empty()) continue;
      // A second writer starts while this batch is in flight, if work waits.
      kick_writers();
      try {
        co_await write_batch(batch);
      } catch (const std::exception& e) {
        for (auto* item : batch) {
          if (!item->out) item->finish(make_error("internal", std::string("postgres: ") + e.what()));
        }
      }
      items += batch.size();
    }
    --writers_active;
    leave();
  }

  static void fail_all(std::vector<InsertItem*>& batch, const Error& e) {
    for (auto* item : batch) {
      if (!item->out) item->finish(e);
    }
  }

  Task<void> write_batch(std::vector<InsertItem*>& batch) {
    const auto deadline = Clock::now() + options.call_timeout;
    auto lease = co_await primary->acquire(deadline);
    if (!lease.ok()) {
      fail_all(batch, lease.error());
      co_return;
    }
    // 1. Every decision of the batch in one INSERT, one transaction.
    Statement insert;
    insert.name = insert_batch_name(batch.size());
    insert.sql = insert_decisions_sql(batch.size());
    insert.params.reserve(batch.size() * kDecisionParams);
    for (auto* item : batch) {
      for (const auto& p : item->params) insert.params.push_back(p);
    }
    std::vector<PgResult> out;
    if (Status st = co_await (*lease)->run(std::span<const Statement>(&insert, 1), deadline, out); !st.ok()) {
      fail_all(batch, st.error());
      co_return;
    }
    if (!out[0].ok()) {
      Error e = pg::error_from_result(out[0], "inserting decisions");
      if (e.code == ErrorCode::kUnavailable || batch.size() == 1) {
        fail_all(batch, e);
        co_return;
      }
      ++fallbacks;
      co_await write_one_by_one(**lease, batch);
      co_return;
    }
    ++batches;
    std::uint64_t largest = largest_batch.load();
    while (batch.size() > largest && !largest_batch.compare_exchange_weak(largest, batch.size())) {
    }
    std::unordered_map<std::string, std::int64_t> inserted;
    for (int i = 0; i < out[0].rows(); ++i)
      inserted.emplace(decision_key(out[0].view(i, 1), out[0].view(i, 2)), out[0].int8(i, 0));
    std::vector<InsertItem*> conflicts;
    std::vector<std::string> conflict_keys;
    for (auto* item : batch) {
      std::string key = decision_key(item->record->merchant_id, item->record->transaction_id);
      auto it = inserted.find(key);
      if (it != inserted.end()) {
        InsertOutcome o{true, *item->record};
        o.record.seq = it->second;
        inserted.erase(it);  // a later item with the same key lost to this one
        item->finish(std::move(o));
      } else {
        conflicts.push_back(item);
        conflict_keys.push_back(std::move(key));
      }
    }
    if (conflicts.empty()) co_return;
    // 2. The stored records of the keys that were taken (only then).
    Statement select;
    if (conflicts.size() == 1) {
      select = stmt("txv_find_decision", kFindDecisionSql, pg::text(conflicts[0]->record->merchant_id),
                    pg::text(conflicts[0]->record->transaction_id));
    } else {
      SqlBuilder q;
      q.sql = "SELECT " TXV_DECISION_COLUMNS " FROM transactions WHERE (merchant_id, transaction_id) IN (VALUES ";
      for (std::size_t i = 0; i < conflicts.size(); ++i) {
        const std::string m = q.add(pg::text(conflicts[i]->record->merchant_id));
        const std::string t = q.add(pg::text(conflicts[i]->record->transaction_id));
        q.sql += (i > 0 ? ", (" : "(") + m + "::text, " + t + "::text)";
      }
      q.sql += ")";
      select = stmt(nullptr, std::move(q.sql), std::move(q.params));
    }
    auto found = co_await run(*lease, seq(std::move(select)), "reading stored decisions");
    if (!found.ok()) {
      fail_all(conflicts, found.error());
      co_return;
    }
    const PgResult& rows = (*found)[0];
    std::unordered_map<std::string, int> by_key;
    for (int i = 0; i < rows.rows(); ++i) by_key.emplace(decision_key(rows.view(i, 1), rows.view(i, 2)), i);
    for (std::size_t i = 0; i < conflicts.size(); ++i) {
      auto it = by_key.find(conflict_keys[i]);
      if (it == by_key.end()) {
        conflicts[i]->finish(make_error("internal", "postgres: insert ignored but no existing row found"));
        continue;
      }
      auto rec = decode_decision(rows, it->second);
      if (!rec.ok()) {
        conflicts[i]->finish(rec.error());
      } else {
        conflicts[i]->finish(InsertOutcome{false, std::move(*rec)});
      }
    }
  }

  // Each decision its own transaction (a Sync after each), all in one
  // pipeline: a failing one fails alone.
  Task<void> write_one_by_one(pg::Connection& conn, std::vector<InsertItem*>& batch) {
    std::vector<Statement> statements;
    statements.reserve(batch.size() * 2);
    for (auto* item : batch) {
      statements.push_back(stmt(insert_batch_name(1), insert_decisions_sql(1), item->params));
      Statement find = stmt("txv_find_decision", kFindDecisionSql, pg::text(item->record->merchant_id),
                            pg::text(item->record->transaction_id));
      find.sync_after = true;
      statements.push_back(std::move(find));
    }
    std::vector<PgResult> out;
    if (Status st = co_await conn.run(statements, Clock::now() + options.call_timeout, out); !st.ok()) {
      fail_all(batch, st.error());
      co_return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const PgResult& ins = out[2 * i];
      const PgResult& found = out[2 * i + 1];
      if (!ins.ok()) {
        batch[i]->finish(pg::error_from_result(ins, "inserting a decision"));
      } else if (ins.rows() == 1) {
        InsertOutcome o{true, *batch[i]->record};
        o.record.seq = ins.int8(0, 0);
        batch[i]->finish(std::move(o));
      } else if (!found.ok() || found.rows() != 1) {
        batch[i]->finish(make_error("internal", "postgres: insert ignored but no existing row found"));
      } else {
        auto rec = decode_decision(found, 0);
        if (!rec.ok()) {
          batch[i]->finish(rec.error());
        } else {
          batch[i]->finish(InsertOutcome{false, std::move(*rec)});
        }
      }
    }
  }

  // ---------------------------------------------------------------- lists

  // Database thread: reads a list in one REPEATABLE READ transaction.
  Task<Result<ListSnapshot>> snapshot_on(pg::Pool::Lease& lease, const std::string& name, bool with_content) {
    ListSnapshot snap;
    auto head = co_await run(
        lease,
        seq(stmt(nullptr, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            stmt("txv_list_head", "SELECT revision, entry_count, updated_at FROM lists WHERE name = $1",
                 pg::text(name)),
            stmt("txv_list_live", "SELECT id FROM list_generations WHERE list_name = $1 AND state = 'live' ORDER BY id",
                 pg::text(name))),
        "reading a list");
    if (!head.ok()) co_return head.error();
    const PgResult& h = (*head)[1];
    if (h.rows() == 1) {
      snap.exists = true;
      snap.revision = h.int8(0, 0);
      snap.summary = ListSummary{name, h.int8(0, 1), from_ms(h.int8(0, 2))};
      const PgResult& g = (*head)[2];
      for (int i = 0; i < g.rows(); ++i) snap.live.push_back(g.int8(i, 0));
    }
    if (with_content) {
      for (std::int64_t gen : snap.live) {
        snap.starts.push_back(snap.values.size());
        std::optional<std::string> after;  // keyset: the last value read
        for (;;) {
          Statement page =
              after ? stmt("txv_list_values_after",
                           "SELECT value FROM list_values WHERE generation = $1 AND value > $2 ORDER BY value LIMIT $3",
                           pg::int8(gen), pg::text(*after), pg::int8(kListPageRows))
                    : stmt("txv_list_values_first",
                           "SELECT value FROM list_values WHERE generation = $1 ORDER BY value LIMIT $2", pg::int8(gen),
                           pg::int8(kListPageRows));
          auto r = co_await run(lease, seq(std::move(page)), "reading a list");
          if (!r.ok()) co_return r.error();
          PgResult& rows = (*r)[0];
          const int n = rows.rows();
          if (n > 0) {
            after = rows.text(n - 1, 0);
            snap.values.push_back(std::move(rows));
          }
          if (n < kListPageRows) break;
        }
      }
    }
    auto done = co_await run(lease, seq(stmt(nullptr, "COMMIT")), "reading a list");
    if (!done.ok()) co_return done.error();
    co_return snap;
  }

  Task<Result<ListSnapshot>> snapshot(Target target, const std::string& name, bool with_content) {
    auto fn = [&, target]() -> Task<Result<ListSnapshot>> {
      for (int attempt = 0;; ++attempt) {
        auto lease = co_await acquire(target, Clock::now() + options.call_timeout);
        if (!lease.ok()) co_return lease.error();
        auto snap = co_await snapshot_on(*lease, name, with_content);
        if (!snap.ok() && attempt == 0 && (*lease)->lost() && !closing.load()) continue;
        co_return snap;
      }
    };
    co_return co_await call(std::move(fn));
  }

  // Checks the list is still at the snapshot's revision and takes its row
  // lock (opens a transaction on `lease`), or creates it.
  Task<Status> lock_list(pg::Pool::Lease& lease, const std::string& name, const ListSnapshot& snap,
                         std::int64_t entry_count, std::int64_t now) {
    std::vector<Statement> s = seq(stmt(nullptr, "BEGIN"));
    if (snap.exists) {
      s.push_back(stmt("txv_list_update",
                       "UPDATE lists SET entry_count = $2, updated_at = $3, revision = revision + 1 "
                       "WHERE name = $1 AND revision = $4",
                       pg::text(name), pg::int8(entry_count), pg::int8(now), pg::int8(snap.revision)));
    } else {
      s.push_back(stmt("txv_list_insert",
                       "INSERT INTO lists (name, entry_count, created_at, updated_at, revision) "
                       "VALUES ($1, $2, $3, $3, 1)",
                       pg::text(name), pg::int8(entry_count), pg::int8(now)));
    }
    auto r = co_await run(lease, std::move(s), "changing a list");
    const Error changed = make_error("conflict", "list " + name + " was changed concurrently; retry");
    if (!r.ok()) {
      co_await rollback(lease);
      if (r.error().code == ErrorCode::kConflict) co_return changed;
      co_return r.error();
    }
    if ((*r)[1].affected() != 1) {
      co_await rollback(lease);
      co_return changed;
    }
    co_return Ok{};
  }

  static std::vector<Statement> finish_statements(const std::string& name, const ListChange& change, const char* action,
                                                  const std::string& actor, std::int64_t now) {
    std::vector<Statement> s;
    s.push_back(bump_counter("lists_version"));
    s.push_back(append_audit(actor, action, "list", name, list_audit_before_json(change),
                             list_audit_after_json(change, ListStore::kAuditSampleEntries), now));
    return s;
  }

  // A small change in place: one transaction.
  Task<Result<ListSummary>> apply_small(const std::string& name, const ListSnapshot& snap, const ListChange& change,
                                        const char* action, const std::string& actor, bool& orphans) {
    auto fn = [&]() -> Task<Result<ListSummary>> {
      auto lease = co_await primary->acquire(Clock::now() + options.call_timeout);
      if (!lease.ok()) co_return lease.error();
      const std::int64_t now = to_ms(domain::now_millis());
      if (auto st = co_await lock_list(*lease, name, snap, change.entry_count, now); !st.ok()) co_return st.error();
      std::vector<Statement> s;
      std::vector<std::string_view> added(change.added.begin(), change.added.end());
      if (snap.live.empty()) {
        s.push_back(stmt("txv_list_new_live",
                         "WITH g AS (INSERT INTO list_generations (list_name, state, created_at) "
                         "VALUES ($1, 'live', $2) RETURNING id) "
                         "INSERT INTO list_values (generation, value) SELECT g.id, unnest($3::text[]) FROM g",
                         pg::text(name), pg::int8(now), pg::text_array(added)));
      } else if (!added.empty()) {
        s.push_back(stmt("txv_list_add_values",
                         "INSERT INTO list_values (generation, value) SELECT $1::bigint, unnest($2::text[])",
                         pg::int8(snap.live.back()), pg::text_array(added)));
      }
      std::size_t delete_index = 0;
      if (!change.removed.empty()) {
        delete_index = s.size();
        s.push_back(stmt("txv_list_remove_values",
                         "DELETE FROM list_values WHERE generation = ANY($1::bigint[]) AND value = ANY($2::text[])",
                         pg::int8_array(snap.live), pg::text_array(change.removed)));
      }
      const std::size_t orphan_index = s.size();
      s.push_back(stmt("txv_list_retire_orphans",
                       "UPDATE list_generations SET state = 'retired' "
                       "WHERE list_name = $1 AND state = 'staging' AND id <> $2",
                       pg::text(name), pg::int8(0)));
      for (auto& f : finish_statements(name, change, action, actor, now)) s.push_back(std::move(f));
      auto r = co_await run(*lease, std::move(s), "changing a list");
      if (!r.ok()) {
        co_await rollback(*lease);
        co_return r.error();
      }
      if (!change.removed.empty() &&
          (*r)[delete_index].affected() != static_cast<std::int64_t>(change.removed.size())) {
        co_await rollback(*lease);
        co_return make_error("internal", "list " + name + ": stored entries differ from the snapshot");
      }
      orphans = (*r)[orphan_index].affected() > 0;
      auto c = co_await run(*lease, seq(stmt(nullptr, "COMMIT")), "committing a list change");
      if (!c.ok()) co_return c.error();
      co_return ListSummary{name, change.entry_count, from_ms(now)};
    };
    co_return co_await call(std::move(fn));
  }

  // Writes `values` (sorted) into a new staging generation of `name`, one
  // transaction per chunk. Answers the generation; on failure the staged rows
  // are abandoned.
  Task<Result<std::int64_t>> stage(const std::string& name, std::span<const std::string_view> values) {
    std::int64_t gen = 0;
    std::size_t offset = 0;
    do {
      const std::size_t n = std::min(chunk, values.size() - offset);
      const std::string part = pg::text_array(values.subspan(offset, n));
      Result<std::vector<PgResult>> r = std::vector<PgResult>{};
      if (gen == 0) {
        r = co_await write(seq(stmt("txv_list_stage_first",
                                    "WITH g AS (INSERT INTO list_generations (list_name, state, created_at) "
                                    "VALUES ($1, 'staging', $2) RETURNING id), "
                                    "v AS (INSERT INTO list_values (generation, value) "
                                    "SELECT g.id, unnest($3::text[]) FROM g) SELECT id FROM g",
                                    pg::text(name), pg::int8(to_ms(domain::now_millis())), part)),
                           "staging a list");
        if (r.ok()) gen = (*r)[0].rows() == 1 ? (*r)[0].int8(0, 0) : 0;
      } else {
        r = co_await write(seq(stmt("txv_list_add_values",
                                    "INSERT INTO list_values (generation, value) SELECT $1::bigint, unnest($2::text[])",
                                    pg::int8(gen), part)),
                           "staging a list");
      }
      if (!r.ok()) {
        co_await abandon(gen);
        co_return r.error();
      }
      offset += n;
    } while (offset < values.size());
    co_return gen;
  }

  Task<void> abandon(std::int64_t gen) {
    if (gen == 0) co_return;
    (void)co_await write(
        seq(stmt(nullptr, "UPDATE list_generations SET state = 'retired' WHERE id = $1 AND state = 'staging'",
                 pg::int8(gen))),
        "abandoning a staged list");
    post_sweep();
  }

  Task<Result<ListSummary>> publish(const std::string& name, const ListSnapshot& snap, const ListChange& change,
                                    const char* action, const std::string& actor, std::int64_t gen, bool whole,
                                    bool& orphans) {
    auto fn = [&]() -> Task<Result<ListSummary>> {
      auto lease = co_await primary->acquire(Clock::now() + options.call_timeout);
      if (!lease.ok()) co_return lease.error();
      const std::int64_t now = to_ms(domain::now_millis());
      if (auto st = co_await lock_list(*lease, name, snap, change.entry_count, now); !st.ok()) co_return st.error();
      std::vector<Statement> s;
      if (whole) {
        s.push_back(stmt("txv_list_retire_live",
                         "UPDATE list_generations SET state = 'retired' WHERE list_name = $1 AND state = 'live'",
                         pg::text(name)));
      }
      const std::size_t live_index = s.size();
      s.push_back(stmt("txv_list_go_live",
                       "UPDATE list_generations SET state = 'live' WHERE id = $1 AND state = 'staging'",
                       pg::int8(gen)));
      const std::size_t orphan_index = s.size();
      s.push_back(stmt("txv_list_retire_orphans",
                       "UPDATE list_generations SET state = 'retired' "
                       "WHERE list_name = $1 AND state = 'staging' AND id <> $2",
                       pg::text(name), pg::int8(gen)));
      for (auto& f : finish_statements(name, change, action, actor, now)) s.push_back(std::move(f));
      auto r = co_await run(*lease, std::move(s), "publishing a list");
      if (!r.ok()) {
        co_await rollback(*lease);
        co_return r.error();
      }
      if ((*r)[live_index].affected() != 1) {
        co_await rollback(*lease);
        co_return make_error("conflict", "list " + name + ": staged content was discarded; retry");
      }
      orphans = (*r)[orphan_index].affected() > 0;
      auto c = co_await run(*lease, seq(stmt(nullptr, "COMMIT")), "committing a list change");
      if (!c.ok()) co_return c.error();
      co_return ListSummary{name, change.entry_count, from_ms(now)};
    };
    co_return co_await call(std::move(fn));
  }

  Task<Result<ListSummary>> change_list(const std::string& name, ListOp op, const std::vector<std::string>* entries,
                                        const std::string* value, const std::string& actor) {
    if (is_closed()) co_return closed_error();
    auto guard_lock = co_await list_locks.lock(name);

    // 1. The change, computed from one snapshot off the database's thread.
    auto snap_r = co_await snapshot(Target::kPrimary, name, true);
    if (!snap_r.ok()) co_return snap_r.error();
    ListSnapshot& snap = *snap_r;
    std::vector<std::string> current;
    std::vector<std::string_view> wanted;  // replace: the new content, sorted
    ListChange change;
    auto plan = [&]() -> Status {
      current = snap.content();
      snap.values.clear();
      std::optional<std::span<const std::string>> cur;
      if (snap.exists) cur = std::span<const std::string>(current);
      auto planned = plan_list_change(name, ListOpInput{op, entries, value}, cur, wanted);
      if (!planned.ok()) return planned.error();
      change = std::move(planned).value();
      return Ok{};
    };
    Status planned = co_await run_on(admin->get_executor(), std::move(plan));
    if (!planned.ok()) co_return planned.error();
    const char* action = op == ListOp::kReplace ? "replace" : op == ListOp::kAdd ? "add_entries" : "remove_entry";

    // 2a. Small: in place, one transaction.
    if (change.added.size() + change.removed.size() <= chunk) {
      bool orphans = false;
      auto done = co_await apply_small(name, snap, change, action, actor, orphans);
      if (done.ok() && orphans) post_sweep();
      co_return done;
    }

    // 2b. Large: stage, then publish with one small transaction.
    const bool whole = op == ListOp::kReplace || snap.live.size() >= kMaxLiveListGenerations;
    std::vector<std::string_view> staged;
    if (op == ListOp::kReplace) {
      staged = std::move(wanted);
    } else if (whole) {
      staged = content_after_add(current, change);
    } else {
      staged.assign(change.added.begin(), change.added.end());
      std::sort(staged.begin(), staged.end());
    }
    auto gen = co_await stage(name, staged);
    if (!gen.ok()) co_return gen.error();
    bool orphans = false;
    auto done = co_await publish(name, snap, change, action, actor, *gen, whole, orphans);
    if (!done.ok()) {
      co_await abandon(*gen);
    } else if (whole || orphans) {
      post_sweep();
    }
    co_return done;
  }

  static constexpr std::size_t kMaxLiveListGenerations = 8;

  // ---------------------------------------------------------------- sweeping

  void post_sweep() {
    asio::post(io, [this] { start_sweep(); });
  }

  // Database thread.
  void start_sweep() {
    if (closing.load()) return;
    sweep_again = true;
    if (sweeping) return;
    if (!enter()) return;
    sweeping = true;
    asio::co_spawn(io, sweep_loop(), asio::detached);
  }

  Task<void> sweep_loop() {
    try {
      for (;;) {
        sweep_again = false;
        while (!closing.load()) {
          auto more = co_await sweep_step();
          if (!more.ok() || !*more) break;
        }
        if (!sweep_again || closing.load()) break;
      }
    } catch (const std::exception&) {
    }
    sweeping = false;
    leave();
  }

  // Deletes up to `chunk` rows of the oldest retired generation, and the
  // generation itself once empty. Answers whether anything was retired.
  Task<Result<bool>> sweep_step() {
    auto g = co_await exchange(
        Target::kPrimary,
        seq(stmt(nullptr, "SELECT id FROM list_generations WHERE state = 'retired' ORDER BY id LIMIT 1")),
        "sweeping lists", true);
    if (!g.ok()) co_return g.error();
    if ((*g)[0].rows() == 0) co_return false;
    const std::int64_t gen = (*g)[0].int8(0, 0);
    auto d = co_await exchange(Target::kPrimary,
                               seq(stmt(nullptr,
                                        "DELETE FROM list_values WHERE generation = $1 AND value IN "
                                        "(SELECT value FROM list_values WHERE generation = $1 ORDER BY value LIMIT $2)",
                                        pg::int8(gen), pg::int8(static_cast<std::int64_t>(chunk)))),
                               "sweeping lists", false);
    if (!d.ok()) co_return d.error();
    if ((*d)[0].affected() > 0) co_return true;
    auto e = co_await exchange(
        Target::kPrimary,
        seq(stmt(nullptr, "DELETE FROM list_generations WHERE id = $1 AND state = 'retired'", pg::int8(gen))),
        "sweeping lists", false);
    if (!e.ok()) co_return e.error();
    co_return true;
  }
};

// ==================================================================== open, close

Result<std::unique_ptr<Database>> open_postgres_database(const PostgresOptions& options) {
  auto db = PostgresDatabase::open(options);
  if (!db.ok()) return db.error();
  return std::unique_ptr<Database>(std::move(*db));
}

Result<std::unique_ptr<PostgresDatabase>> PostgresDatabase::open(const PostgresOptions& options) {
  if (options.url.empty()) return make_error("invalid_configuration", "postgres: the database URL is empty");
  if (options.pool_size < 1) return make_error("invalid_configuration", "postgres: pool_size must be at least 1");
  auto config_for = [&](const std::string& url) -> Result<pg::ConnectConfig> {
    pg::ConnectConfig c;
    c.url = url;
    c.schema = options.schema;
    c.fallback_application_name = options.application_name.empty() ? "txv" : options.application_name;
    c.statement_timeout = options.statement_timeout;
    c.connect_timeout = options.connect_timeout;
    c.on_round_trip = options.on_round_trip;
    if (auto st = c.prepare(); !st.ok()) return st.error();
    return c;
  };
  auto primary = config_for(options.url);
  if (!primary.ok()) return primary.error();
  std::optional<pg::ConnectConfig> read;
  if (options.read_url && !options.read_url->empty()) {
    auto r = config_for(*options.read_url);
    if (!r.ok()) return make_error("invalid_configuration", "postgres: the read URL is not a valid connection string");
    read = std::move(*r);
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->chunk = static_cast<std::size_t>(std::max(options.list_chunk_rows, 1));
  impl->primary =
      std::make_unique<pg::Pool>(impl->io, std::move(*primary), options.pool_size, options.reconnect_backoff_max);
  if (read) {
    impl->replica =
        std::make_unique<pg::Pool>(impl->io, std::move(*read), options.pool_size, options.reconnect_backoff_max);
  }
  impl->admin = std::make_unique<asio::thread_pool>(1);
  impl->guard.emplace(asio::make_work_guard(impl->io));
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(std::move(impl)));

  const auto deadline = Clock::now() + options.connect_retry_budget;
  Status st = raw->block([raw, deadline]() -> Task<Status> {
    if (auto s = co_await raw->primary->warm_up(deadline); !s.ok()) co_return s;
    // The read server is an optimisation: one attempt, and reads fall back
    // to the primary while it is unavailable.
    if (raw->replica) (void)co_await raw->replica->warm_up(deadline, false);
    co_return Ok{};
  });
  if (!st.ok()) return st.error();  // the destructor closes
  return db;
}

PostgresDatabase::PostgresDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PostgresDatabase::~PostgresDatabase() {
  close();
  impl_->admin->join();
}

void PostgresDatabase::close() {
  std::lock_guard cl(impl_->close_mu);
  if (impl_->finished) return;
  {
    std::unique_lock lk(impl_->mu);
    impl_->closed = true;
    impl_->closing.store(true);
    impl_->cv.wait(lk, [&] { return impl_->in_flight == 0; });
  }
  Impl* raw = impl_.get();
  asio::post(impl_->io, [raw] {
    raw->primary->close();
    if (raw->replica) raw->replica->close();
  });
  impl_->guard.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->finished = true;
}

PostgresDatabase::WriterStats PostgresDatabase::writer_stats() const {
  return WriterStats{impl_->batches.load(), impl_->items.load(), impl_->largest_batch.load(), impl_->fallbacks.load(),
                     impl_->queued.load()};
}

// ==================================================================== migrate

Status PostgresDatabase::migrate() {
  if (!impl_->enter()) return closed_error();
  struct Leave {
    Impl* impl;
    ~Leave() { impl->leave(); }
  } leave{impl_.get()};
  // A connection of its own, not pipelined: a migration file holds several
  // statements (simple query protocol) and may run longer than statement_timeout.
  pg::ConnectConfig config = impl_->primary->config();
  config.schema.clear();  // the schema may not exist yet
  auto conn_r = pg::BlockingConnection::open(config);
  if (!conn_r.ok()) return conn_r.error();
  pg::BlockingConnection& c = **conn_r;
  const std::string& schema = impl_->options.schema;
  bool retired = false;
  auto body = [&]() -> Status {
    if (auto r = c.exec("BEGIN", "migrate"); !r.ok()) return r.error();
    // Processes starting together take turns here; the lock is keyed by the
    // schema so that databases in other schemas migrate independently.
    if (auto r = c.exec("SELECT pg_advisory_xact_lock(hashtextextended('txv.migrate:' || "
                        "coalesce(nullif($1, ''), current_schema(), ''), 0))",
                        {pg::text(schema)}, "taking the migration lock");
        !r.ok()) {
      return r.error();
    }
    if (!schema.empty()) {
      if (auto r = c.exec("SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)", {pg::text(schema)},
                          "naming the schema");
          !r.ok()) {
        return r.error();
      } else if (auto r2 = c.exec(r->text(0, 0), "creating the schema"); !r2.ok()) {
        return r2.error();
      }
      if (auto r = c.exec("SELECT set_config('search_path', quote_ident($1), true)", {pg::text(schema)},
                          "setting search_path");
          !r.ok()) {
        return r.error();
      }
    }
    if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
                        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                        "creating schema_migrations");
        !r.ok()) {
      return r.error();
    }
    auto migrations = postgres_migrations();
    const std::int64_t known = migrations.empty() ? 0 : migrations.back().version;
    std::set<std::int64_t> applied;
    {
      auto r = c.exec("SELECT version FROM schema_migrations", "reading schema_migrations");
      if (!r.ok()) return r.error();
      for (int i = 0; i < r->rows(); ++i) applied.insert(r->int8(i, 0));
    }
    if (!applied.empty() && *applied.rbegin() > known) {
      return make_error("internal", "database schema version " + std::to_string(*applied.rbegin()) +
                                        " is newer than this binary knows (" + std::to_string(known) + ")");
    }
    for (const Migration& m : migrations) {
      if (applied.contains(m.version)) continue;
      if (auto r = c.exec(m.sql, std::string("migration ") + m.name); !r.ok()) return r.error();
      if (auto r = c.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                          {pg::int8(m.version), pg::text(m.name), pg::int8(to_ms(domain::now_millis()))},
                          "recording a migration");
          !r.ok()) {
        return r.error();
      }
    }
    // A change that died while staging (crash, kill) left its generation in
    // 'staging'; a live one of another process would be minutes old at most.
    if (auto r = c.exec("UPDATE list_generations SET state = 'retired' WHERE state = 'staging' AND created_at < $1",
                        {pg::int8(to_ms(domain::now_millis() - std::chrono::hours(1)))}, "retiring abandoned lists");
        !r.ok()) {
      return r.error();
    }
    auto any = c.exec("SELECT EXISTS (SELECT 1 FROM list_generations WHERE state = 'retired')", "migrate");
    if (!any.ok()) return any.error();
    retired = any->boolean(0, 0);
    if (auto r = c.exec("COMMIT", "committing migrations"); !r.ok()) return r.error();
    return Ok{};
  };
  Status st = body();
  if (!st.ok()) {
    (void)c.exec("ROLLBACK", "rollback");
    return st;
  }
  if (retired) impl_->post_sweep();
  return Ok{};
}

// ==================================================================== api keys

Task<Status> PostgresDatabase::create_api_key(const ApiKey& key) {
  auto r = co_await impl_->write(
      seq(stmt("txv_create_api_key",
               "INSERT INTO api_keys (" TXV_API_KEY_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
               pg::text(key.id), pg::text(key.name), pg::text(to_string(key.role)), pg::opt_text(key.merchant_id),
               pg::text(key.secret_hash), pg::int8(to_ms(key.created_at)),
               key.last_used_at ? pg::int8(to_ms(*key.last_used_at)) : pg::null(),
               key.revoked_at ? pg::int8(to_ms(*key.revoked_at)) : pg::null())),
      "creating an API key");
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kConflict) {
      co_return make_error("conflict", "an API key with this id or secret already exists");
    }
    co_return r.error();
  }
  co_return Ok{};
}

Task<Result<std::optional<ApiKey>>> PostgresDatabase::find_api_key_by_hash(const std::string& secret_hash) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_api_key", "SELECT " TXV_API_KEY_COLUMNS " FROM api_keys WHERE secret_hash = $1",
               pg::text(secret_hash))),
      "finding an API key");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return std::optional<ApiKey>{};
  auto key = decode_api_key((*r)[0], 0);
  if (!key.ok()) co_return key.error();
  co_return std::optional<ApiKey>{std::move(*key)};
}

Task<Result<std::vector<ApiKey>>> PostgresDatabase::list_api_keys() {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_list_api_keys", "SELECT " TXV_API_KEY_COLUMNS " FROM api_keys ORDER BY created_at, id")),
      "listing API keys");
  if (!r.ok()) co_return r.error();
  std::vector<ApiKey> out;
  for (int i = 0; i < (*r)[0].rows(); ++i) {
    auto key = decode_api_key((*r)[0], i);
    if (!key.ok()) co_return key.error();
    out.push_back(std::move(*key));
  }
  co_return out;
}

Task<Result<ApiKey>> PostgresDatabase::revoke_api_key(const std::string& id, TimePoint at) {
  auto r =
      co_await impl_->write(seq(stmt("txv_revoke_api_key",
                                     "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2::bigint) WHERE id = $1 "
                                     "RETURNING " TXV_API_KEY_COLUMNS,
                                     pg::text(id), pg::int8(to_ms(at)))),
                            "revoking an API key");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return make_error("not_found", "API key " + id + " not found");
  co_return decode_api_key((*r)[0], 0);
}

Task<Status> PostgresDatabase::touch_api_key(const std::string& id, TimePoint at) {
  auto r = co_await impl_->write(
      seq(stmt("txv_touch_api_key",
               "UPDATE api_keys SET last_used_at = GREATEST(COALESCE(last_used_at, $2::bigint), $2::bigint) "
               "WHERE id = $1",
               pg::text(id), pg::int8(to_ms(at)))),
      "recording an API key's use");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].affected() == 0) co_return make_error("not_found", "API key " + id + " not found");
  co_return Ok{};
}

// ==================================================================== trace layouts

Task<Status> PostgresDatabase::save_trace_layout(const std::string& id, const std::string& layout) {
  auto r = co_await impl_->write(
      seq(stmt("txv_save_trace_layout",
               "INSERT INTO trace_layouts (id, layout, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
               pg::text(id), pg::text(layout), pg::int8(to_ms(domain::now_millis())))),
      "storing a trace layout");
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

Task<Result<std::optional<std::string>>> PostgresDatabase::find_trace_layout(const std::string& id) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_trace_layout", "SELECT layout FROM trace_layouts WHERE id = $1", pg::text(id))),
      "finding a trace layout");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return std::optional<std::string>{};
  co_return std::optional<std::string>{(*r)[0].text(0, 0)};
}

// ==================================================================== sessions

#define TXV_SESSION_COLUMNS "id_hash, key_hash, csrf_token, created_at, expires_at, last_seen_at"

Task<Status> PostgresDatabase::create_session(const Session& session, std::chrono::milliseconds idle_timeout) {
  auto r = co_await impl_->write(
      seq(stmt("txv_forget_sessions", "DELETE FROM sessions WHERE expires_at <= $1 OR idle_until <= $1",
               pg::int8(to_ms(session.created_at))),
          stmt("txv_create_session",
               "INSERT INTO sessions (" TXV_SESSION_COLUMNS ", idle_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
               pg::text(session.id_hash), pg::text(session.key_hash), pg::text(session.csrf_token),
               pg::int8(to_ms(session.created_at)), pg::int8(to_ms(session.expires_at)),
               pg::int8(to_ms(session.last_seen_at)), pg::int8(to_ms(session.last_seen_at + idle_timeout)))),
      "creating a session");
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

Task<Result<std::optional<Session>>> PostgresDatabase::find_session(const std::string& id_hash) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_session", "SELECT " TXV_SESSION_COLUMNS " FROM sessions WHERE id_hash = $1",
               pg::text(id_hash))),
      "finding a session");
  if (!r.ok()) co_return r.error();
  const auto& q = (*r)[0];
  if (q.rows() == 0) co_return std::optional<Session>{};
  Session s;
  s.id_hash = q.text(0, 0);
  s.key_hash = q.text(0, 1);
  s.csrf_token = q.text(0, 2);
  s.created_at = from_ms(q.int8(0, 3));
  s.expires_at = from_ms(q.int8(0, 4));
  s.last_seen_at = from_ms(q.int8(0, 5));
  co_return std::optional<Session>{std::move(s)};
}

Task<Status> PostgresDatabase::touch_session(const std::string& id_hash, TimePoint at,
                                             std::chrono::milliseconds idle_timeout) {
  auto r = co_await impl_->write(seq(stmt("txv_touch_session",
                                          "UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2::bigint), "
                                          "idle_until = GREATEST(idle_until, $3::bigint) WHERE id_hash = $1",
                                          pg::text(id_hash), pg::int8(to_ms(at)), pg::int8(to_ms(at + idle_timeout)))),
                                 "recording a session's use");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].affected() == 0) co_return make_error("not_found", "no such session");
  co_return Ok{};
}

Task<Status> PostgresDatabase::delete_session(const std::string& id_hash) {
  auto r = co_await impl_->write(
      seq(stmt("txv_delete_session", "DELETE FROM sessions WHERE id_hash = $1", pg::text(id_hash))),
      "ending a session");
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

// ==================================================================== backtests

#define TXV_BACKTEST_COLUMNS                                                                                     \
  "id, status, progress_ppm, transactions, by_name, created_at, finished_at, since, until, merchant_id, error, " \
  "result, heartbeat_at, cancel_requested"

namespace {

std::int64_t to_ppm(double progress) { return std::llround(std::clamp(progress, 0.0, 1.0) * 1e6); }

Result<BacktestRecord> decode_backtest(const PgResult& q, int row) {
  BacktestRecord r;
  r.id = q.text(row, 0);
  auto status = parse_backtest_status(q.text(row, 1));
  if (!status) return corrupt("backtests.status");
  r.status = *status;
  r.progress = static_cast<double>(q.int8(row, 2)) / 1e6;
  r.transactions = q.int8(row, 3);
  r.by = q.text(row, 4);
  r.created_at = from_ms(q.int8(row, 5));
  if (!q.is_null(row, 6)) r.finished_at = from_ms(q.int8(row, 6));
  r.since = from_ms(q.int8(row, 7));
  r.until = from_ms(q.int8(row, 8));
  r.merchant_id = q.opt_text(row, 9);
  r.error = q.text(row, 10);
  r.result_json = q.opt_text(row, 11);
  r.heartbeat_at = from_ms(q.int8(row, 12));
  r.cancel_requested = q.boolean(row, 13);
  return r;
}

Statement find_backtest_stmt(const std::string& id) {
  return stmt("txv_find_backtest", "SELECT " TXV_BACKTEST_COLUMNS " FROM backtests WHERE id = $1", pg::text(id));
}

}  // namespace

Task<Status> PostgresDatabase::create_backtest(const BacktestRecord& job) {
  auto r = co_await impl_->write(
      seq(stmt("txv_create_backtest",
               "INSERT INTO backtests (" TXV_BACKTEST_COLUMNS
               ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
               pg::text(job.id), pg::text(to_string(job.status)), pg::int8(to_ppm(job.progress)),
               pg::int8(job.transactions), pg::text(job.by), pg::int8(to_ms(job.created_at)),
               job.finished_at ? pg::int8(to_ms(*job.finished_at)) : pg::null(), pg::int8(to_ms(job.since)),
               pg::int8(to_ms(job.until)), pg::opt_text(job.merchant_id), pg::text(job.error),
               pg::opt_text(job.result_json), pg::int8(to_ms(job.heartbeat_at)), pg::boolean(job.cancel_requested))),
      "creating a backtest");
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kConflict) co_return make_error("conflict", "backtest " + job.id + " exists");
    co_return r.error();
  }
  co_return Ok{};
}

Task<Result<bool>> PostgresDatabase::update_backtest_progress(const std::string& id, double progress,
                                                              std::int64_t transactions, TimePoint at) {
  auto r = co_await impl_->write(
      seq(stmt("txv_update_backtest_progress",
               "UPDATE backtests SET progress_ppm = $2, transactions = $3, "
               "heartbeat_at = GREATEST(heartbeat_at, $4::bigint) WHERE id = $1 AND status = 'running'",
               pg::text(id), pg::int8(to_ppm(progress)), pg::int8(transactions), pg::int8(to_ms(at))),
          stmt("txv_backtest_should_stop", "SELECT status, cancel_requested FROM backtests WHERE id = $1",
               pg::text(id))),
      "recording a backtest's progress");
  if (!r.ok()) co_return r.error();
  const auto& q = (*r)[1];
  if (q.rows() == 0) co_return make_error("not_found", "no such backtest");
  co_return q.text(0, 0) != "running" || q.boolean(0, 1);
}

Task<Result<bool>> PostgresDatabase::finish_backtest(const BacktestRecord& job) {
  const std::int64_t finished = to_ms(job.finished_at.value_or(job.heartbeat_at));
  auto r = co_await impl_->write(
      seq(stmt("txv_finish_backtest",
               "UPDATE backtests SET status = $2, progress_ppm = $3, transactions = $4, finished_at = $5, "
               "error = $6, result = $7, heartbeat_at = $5 WHERE id = $1 AND status = 'running'",
               pg::text(job.id), pg::text(to_string(job.status)), pg::int8(to_ppm(job.progress)),
               pg::int8(job.transactions), pg::int8(finished), pg::text(job.error), pg::opt_text(job.result_json)),
          stmt("txv_backtest_exists", "SELECT 1 FROM backtests WHERE id = $1", pg::text(job.id))),
      "finishing a backtest");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].affected() > 0) co_return true;
  if ((*r)[1].rows() == 0) co_return make_error("not_found", "no such backtest");
  co_return false;
}

Task<Result<BacktestRecord>> PostgresDatabase::cancel_backtest(const std::string& id, TimePoint at) {
  auto r = co_await impl_->write(
      seq(stmt("txv_cancel_backtest",
               "UPDATE backtests SET status = 'cancelled', finished_at = $2, cancel_requested = TRUE "
               "WHERE id = $1 AND status = 'running'",
               pg::text(id), pg::int8(to_ms(at))),
          find_backtest_stmt(id)),
      "cancelling a backtest");
  if (!r.ok()) co_return r.error();
  const bool changed = (*r)[0].affected() > 0;
  const auto& q = (*r)[1];
  if (q.rows() == 0) co_return make_error("not_found", "no such backtest");
  auto job = decode_backtest(q, 0);
  if (!job.ok()) co_return job.error();
  if (!changed) co_return make_error("conflict", std::string("the backtest is already ") + to_string(job->status));
  co_return std::move(*job);
}

Task<Result<std::optional<BacktestRecord>>> PostgresDatabase::find_backtest(const std::string& id) {
  auto r = co_await impl_->read(Impl::Target::kPrimary, seq(find_backtest_stmt(id)), "finding a backtest");
  if (!r.ok()) co_return r.error();
  const auto& q = (*r)[0];
  if (q.rows() == 0) co_return std::optional<BacktestRecord>{};
  auto job = decode_backtest(q, 0);
  if (!job.ok()) co_return job.error();
  co_return std::optional<BacktestRecord>{std::move(*job)};
}

Task<Result<std::vector<BacktestRecord>>> PostgresDatabase::list_backtests(int limit) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_list_backtests",
               "SELECT id, status, progress_ppm, transactions, by_name, created_at, finished_at, since, until, "
               "merchant_id, error, NULL, heartbeat_at, cancel_requested FROM backtests "
               "ORDER BY created_at DESC, id DESC LIMIT $1",
               pg::int8(clamp_limit(limit)))),
      "listing backtests");
  if (!r.ok()) co_return r.error();
  const auto& q = (*r)[0];
  std::vector<BacktestRecord> out;
  out.reserve(static_cast<std::size_t>(q.rows()));
  for (int i = 0; i < q.rows(); ++i) {
    auto job = decode_backtest(q, i);
    if (!job.ok()) co_return job.error();
    out.push_back(std::move(*job));
  }
  co_return out;
}

Task<Result<std::int64_t>> PostgresDatabase::fail_stale_backtests(TimePoint heartbeat_before, TimePoint at,
                                                                  const std::string& error) {
  auto r = co_await impl_->write(seq(stmt("txv_fail_stale_backtests",
                                          "UPDATE backtests SET status = 'failed', error = $1, finished_at = $2 "
                                          "WHERE status = 'running' AND heartbeat_at < $3",
                                          pg::text(error), pg::int8(to_ms(at)), pg::int8(to_ms(heartbeat_before)))),
                                 "failing stale backtests");
  if (!r.ok()) co_return r.error();
  co_return (*r)[0].affected();
}

Task<Result<std::int64_t>> PostgresDatabase::fail_running_backtests(TimePoint at, const std::string& error) {
  auto r = co_await impl_->write(
      seq(stmt("txv_fail_running_backtests",
               "UPDATE backtests SET status = 'failed', error = $1, finished_at = $2 WHERE status = 'running'",
               pg::text(error), pg::int8(to_ms(at)))),
      "failing running backtests");
  if (!r.ok()) co_return r.error();
  co_return (*r)[0].affected();
}

// ==================================================================== transactions

Task<Result<InsertOutcome>> PostgresDatabase::insert_decision(const domain::DecisionRecord& r) {
  // Encode on the caller's thread: the database's thread only sends.
  std::vector<Param> params = decision_params(r);
  // Refused here, alone: in a batch it would fail every decision of the batch.
  for (const auto& p : params) {
    if (p && p->find('\0') != std::string::npos) {
      co_return make_error("internal", "postgres: a text value holds a NUL byte, which PostgreSQL cannot store");
    }
  }
  Impl* impl = impl_.get();
  auto fn = [impl, &r, &params]() -> Task<Result<InsertOutcome>> {
    Impl::InsertItem item(impl->io, &r, std::move(params), Clock::now() + impl->options.call_timeout);
    impl->insert_queue.push_back(&item);
    impl->queued.store(impl->insert_queue.size());
    impl->kick_writers();
    co_await item.done.wait();
    co_return std::move(*item.out);
  };
  co_return co_await impl->call(std::move(fn));
}

Task<Result<std::optional<domain::DecisionRecord>>> PostgresDatabase::find_decision(const std::string& merchant_id,
                                                                                    const std::string& transaction_id) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_decision", kFindDecisionSql, pg::text(merchant_id), pg::text(transaction_id))),
      "finding a decision");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return std::optional<domain::DecisionRecord>{};
  auto rec = decode_decision((*r)[0], 0);
  if (!rec.ok()) co_return rec.error();
  co_return std::optional<domain::DecisionRecord>{std::move(*rec)};
}

Task<Result<TransactionPage>> PostgresDatabase::list_decisions(const TransactionQuery& query) {
  const int limit = clamp_limit(query.limit);
  SqlBuilder b;
  b.sql = "SELECT " TXV_DECISION_COLUMNS ", " TXV_CURRENT_LABEL_COLUMNS " FROM transactions WHERE true";
  if (query.merchant_id) b.sql += " AND merchant_id = " + b.add(pg::text(*query.merchant_id));
  if (query.decision) b.sql += " AND decision = " + b.add(pg::text(domain::to_string(*query.decision)));
  if (query.resolved) {
    // Literal terms, so the planner can use the partial review-queue index.
    b.sql += *query.resolved ? " AND decision = 'review' AND resolution_decision IS NOT NULL"
                             : " AND decision = 'review' AND resolution_decision IS NULL";
  }
  if (query.label) {
    // Literal terms, so the planner can use the partial label indexes.
    switch (*query.label) {
      case TransactionQuery::LabelFilter::kFraud:
        b.sql += " AND label = 'fraud'";
        break;
      case TransactionQuery::LabelFilter::kNotFraud:
        b.sql += " AND label = 'not_fraud'";
        break;
      case TransactionQuery::LabelFilter::kNone:
        b.sql += " AND label IS NULL";
        break;
    }
  }
  if (query.since) b.sql += " AND decided_at >= " + b.add(pg::int8(to_ms(*query.since))) + "::bigint";
  if (query.until) b.sql += " AND decided_at < " + b.add(pg::int8(to_ms(*query.until))) + "::bigint";
  if (query.min_amount) b.sql += " AND amount >= " + b.add(pg::int8(*query.min_amount)) + "::bigint";
  if (query.max_amount) b.sql += " AND amount <= " + b.add(pg::int8(*query.max_amount)) + "::bigint";
  const bool oldest_first = query.order == TransactionQuery::Order::kOldestFirst;
  if (!oldest_first && query.before_seq) b.sql += " AND seq < " + b.add(pg::int8(*query.before_seq)) + "::bigint";
  if (oldest_first && query.after_seq) b.sql += " AND seq > " + b.add(pg::int8(*query.after_seq)) + "::bigint";
  b.sql += oldest_first ? " ORDER BY seq ASC" : " ORDER BY seq DESC";
  b.sql += " LIMIT " + b.add(pg::int8(static_cast<std::int64_t>(limit) + 1)) + "::bigint";
  auto r = co_await impl_->read(Impl::Target::kRead, seq(stmt(nullptr, std::move(b.sql), std::move(b.params))),
                                "listing decisions");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  TransactionPage page;
  const int n = std::min(rows.rows(), limit);
  page.items.reserve(static_cast<std::size_t>(n));
  page.labels.reserve(static_cast<std::size_t>(n));
  constexpr int kFirstLabelColumn = column_count(TXV_DECISION_COLUMNS);  // the label columns follow
  for (int i = 0; i < n; ++i) {
    auto rec = decode_decision(rows, i);
    if (!rec.ok()) co_return rec.error();
    auto label = decode_label(rows, i, kFirstLabelColumn, rec->merchant_id, rec->transaction_id);
    if (!label.ok()) co_return label.error();
    page.items.push_back(std::move(*rec));
    page.labels.push_back(std::move(*label));
  }
  if (rows.rows() > limit) (oldest_first ? page.next_after_seq : page.next_before_seq) = page.items.back().seq;
  co_return page;
}

Task<Result<domain::DecisionRecord>> PostgresDatabase::resolve_review(const std::string& merchant_id,
                                                                      const std::string& transaction_id,
                                                                      const domain::Resolution& resolution) {
  const std::string object_id = merchant_id + "/" + transaction_id;
  // Only an unresolved review is updated, so the audit entry's before is known.
  std::pair<std::string, std::string> audit = resolution_audit_json(resolution);
  auto r = co_await impl_->write(
      seq(stmt("txv_resolve_review",
               "WITH upd AS (UPDATE transactions SET resolution_decision = $3, resolution_note = $4, "
               "resolution_by = $5, resolution_at = $6::bigint "
               "WHERE merchant_id = $1 AND transaction_id = $2 AND decision = 'review' "
               "AND resolution_decision IS NULL RETURNING " TXV_DECISION_COLUMNS
               "), aud AS (INSERT INTO audit_log (at, actor, action, object_type, object_id, before_json, after_json) "
               "SELECT $7::bigint, $5::text, 'resolve', 'transaction', $8::text, $9::text, $10::text FROM upd) "
               "SELECT " TXV_DECISION_COLUMNS " FROM upd",
               pg::text(merchant_id), pg::text(transaction_id), pg::text(domain::to_string(resolution.decision)),
               pg::text(resolution.note), pg::text(resolution.by), pg::int8(to_ms(resolution.at)),
               pg::int8(to_ms(domain::now_millis())), pg::text(object_id), std::move(audit.first),
               std::move(audit.second)),
          stmt("txv_review_state",
               "SELECT decision, resolution_decision IS NOT NULL FROM transactions "
               "WHERE merchant_id = $1 AND transaction_id = $2",
               pg::text(merchant_id), pg::text(transaction_id))),
      "resolving a review");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 1) co_return decode_decision((*r)[0], 0);
  const PgResult& state = (*r)[1];
  if (state.rows() == 0) co_return make_error("not_found", "transaction " + object_id + " not found");
  if (state.view(0, 0) != "review") {
    co_return make_error("not_reviewable", "transaction " + object_id + " is not a review decision");
  }
  co_return make_error("not_reviewable", "transaction " + object_id + " is already resolved");
}

// ==================================================================== labels

Task<Result<Label>> PostgresDatabase::add_label(const Label& label) {
  auto out = co_await add_labels(std::span<const Label>(&label, 1));
  if (out.size() != 1) co_return make_error("internal", "postgres: no outcome for the label");
  if (!out[0].ok()) co_return out[0].error();
  co_return label;
}

Task<std::vector<Status>> PostgresDatabase::add_labels(std::span<const Label> labels) {
  std::vector<Status> out;
  out.reserve(labels.size());
  Impl* impl = impl_.get();
  const std::size_t chunk = std::max<std::size_t>(impl->options.label_chunk, 1);
  for (std::size_t begin = 0; begin < labels.size(); begin += chunk) {
    const auto part = labels.subspan(begin, std::min(chunk, labels.size() - begin));
    // Prepared on the caller's thread: the keys to lock, in one statement.
    std::vector<std::string_view> merchants, transactions;
    std::set<std::pair<std::string_view, std::string_view>> keys;
    for (const auto& l : part) {
      if (has_nul(l)) continue;
      if (keys.emplace(l.merchant_id, l.transaction_id).second) {
        merchants.push_back(l.merchant_id);
        transactions.push_back(l.transaction_id);
      }
    }
    std::string merchant_array = pg::text_array(merchants);
    std::string transaction_array = pg::text_array(transactions);
    auto fn = [impl, part, &merchant_array, &transaction_array]() -> Task<Result<std::vector<Status>>> {
      auto lease = co_await impl->primary->acquire(Clock::now() + impl->options.call_timeout);
      if (!lease.ok()) co_return lease.error();
      // 1. Lock the labelled transactions' rows (in seq order: two batches never
      // wait on each other in a cycle) and read their current labels.
      auto locked = co_await impl->run(
          *lease,
          seq(stmt(nullptr, "BEGIN"),
              stmt("txv_label_lock",
                   "SELECT t.seq, t.merchant_id, t.transaction_id, " TXV_CURRENT_LABEL_COLUMNS
                   " FROM transactions t JOIN unnest($1::text[], $2::text[]) AS k(m, x) "
                   "ON t.merchant_id = k.m AND t.transaction_id = k.x ORDER BY t.seq FOR UPDATE OF t",
                   merchant_array, transaction_array)),
          "labelling transactions");
      if (!locked.ok()) {
        co_await impl->rollback(*lease);
        co_return locked.error();
      }
      auto plan = plan_labels(part, (*locked)[1], to_ms(domain::now_millis()));
      if (!plan.ok()) {
        co_await impl->rollback(*lease);
        co_return plan.error();
      }
      if (plan->statements.empty()) {
        co_await impl->rollback(*lease);
        co_return std::move(plan->results);
      }
      // 3. Everything else in one round trip.
      plan->statements.push_back(stmt(nullptr, "COMMIT"));
      auto done = co_await impl->run(*lease, std::move(plan->statements), "labelling transactions");
      if (!done.ok()) co_return done.error();  // the connection, left in a transaction, is dropped
      co_return std::move(plan->results);
    };
    auto done = co_await impl->call(std::move(fn));
    if (done.ok()) {
      for (auto& r : *done) out.push_back(std::move(r));
    } else {
      for (std::size_t i = 0; i < part.size(); ++i) out.emplace_back(done.error());
    }
  }
  co_return out;
}

Task<Result<std::optional<Label>>> PostgresDatabase::find_label(const std::string& merchant_id,
                                                                const std::string& transaction_id) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_label",
               "SELECT " TXV_CURRENT_LABEL_COLUMNS " FROM transactions WHERE merchant_id = $1 AND transaction_id = $2",
               pg::text(merchant_id), pg::text(transaction_id))),
      "finding a label");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return std::optional<Label>{};
  co_return decode_label((*r)[0], 0, 0, merchant_id, transaction_id);
}

Task<Result<std::vector<Label>>> PostgresDatabase::label_history(const std::string& merchant_id,
                                                                 const std::string& transaction_id) {
  auto r = co_await impl_->read(Impl::Target::kPrimary,
                                seq(stmt("txv_label_history",
                                         "SELECT l.label, l.source, l.reason, l.at, l.actor FROM labels l "
                                         "JOIN transactions t ON t.seq = l.transaction_seq "
                                         "WHERE t.merchant_id = $1 AND t.transaction_id = $2 ORDER BY l.at, l.id",
                                         pg::text(merchant_id), pg::text(transaction_id))),
                                "reading labels");
  if (!r.ok()) co_return r.error();
  std::vector<Label> out;
  const PgResult& rows = (*r)[0];
  for (int i = 0; i < rows.rows(); ++i) {
    auto label = decode_label(rows, i, 0, merchant_id, transaction_id);
    if (!label.ok()) co_return label.error();
    out.push_back(std::move(**label));
  }
  co_return out;
}

Task<Result<DecisionStats>> PostgresDatabase::decision_stats(const DecisionStatsQuery& query) {
  DecisionStats stats = empty_decision_stats(query);
  if (stats.buckets.empty()) co_return stats;
  // kind 'b': (bucket, decision, count); 'e' / 's': (0, rule_id, count) of enforced reasons / shadow matches.
  auto r = co_await impl_->read(
      Impl::Target::kRead,
      seq(stmt("txv_decision_stats",
               "SELECT 'b', (decided_at - $1::bigint) / $2::bigint, decision, count(*) FROM transactions "
               "WHERE decided_at >= $1::bigint AND decided_at < $3::bigint GROUP BY 2, 3 "
               "UNION ALL "
               "SELECT 'e', 0, r->>'rule_id', count(*) FROM transactions t "
               "CROSS JOIN LATERAL jsonb_array_elements(t.reasons::jsonb) r "
               "WHERE t.decided_at >= $1::bigint AND t.decided_at < $3::bigint AND t.reasons <> '[]' "
               "AND r->>'source' = 'rule' GROUP BY 3 "
               "UNION ALL "
               "SELECT 's', 0, s->>'rule_id', count(*) FROM transactions t "
               "CROSS JOIN LATERAL jsonb_array_elements(t.shadow_matches::jsonb) s "
               "WHERE t.decided_at >= $1::bigint AND t.decided_at < $3::bigint AND t.shadow_matches <> '[]' "
               "GROUP BY 3",
               pg::int8(to_ms(query.since)), pg::int8(static_cast<std::int64_t>(query.bucket.count())),
               pg::int8(to_ms(query.until)))),
      "aggregating decisions");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  for (int i = 0; i < rows.rows(); ++i) {
    const std::string_view kind = rows.view(i, 0);
    if (kind == "b") {
      if (auto st = add_bucket_count(stats, rows.int8(i, 1), rows.view(i, 2), rows.int8(i, 3)); !st.ok()) {
        co_return st.error();
      }
    } else {
      if (rows.is_null(i, 2)) co_return make_error("internal", "stored row does not decode: transactions.reasons");
      stats.rules.push_back(
          DecisionStats::RuleMatches{rows.text(i, 2), kind == "e" ? "enforce" : "shadow", rows.int8(i, 3)});
    }
  }
  sort_rule_matches(stats);
  co_return stats;
}

Status PostgresDatabase::scan_velocity_events(TimePoint since, TimePoint until, std::size_t chunk,
                                              const VelocityScanFields& /*fields: every field is read*/,
                                              const VelocitySink& sink) {
  chunk = std::max<std::size_t>(chunk, 1);
  std::vector<VelocityEvent> events;
  events.reserve(std::min<std::size_t>(chunk, 65536));
  std::int64_t after_at = to_ms(since);
  // The first chunk starts at `since` inclusive: (since, min) < (since, any seq).
  std::int64_t after_seq = std::numeric_limits<std::int64_t>::min();
  Impl* impl = impl_.get();
  for (;;) {
    std::vector<Statement> s{stmt("txv_scan_velocity",
                                  "SELECT decided_at, seq, amount, currency, merchant_id, card_fingerprint, "
                                  "customer_id, customer_email, customer_ip, customer_device_id FROM transactions "
                                  "WHERE (decided_at, seq) > ($1::bigint, $2::bigint) AND decided_at < $3::bigint "
                                  "ORDER BY decided_at, seq LIMIT $4::bigint",
                                  pg::int8(after_at), pg::int8(after_seq), pg::int8(to_ms(until)),
                                  pg::int8(static_cast<std::int64_t>(chunk)))};
    auto r = impl->block([impl, &s]() -> Task<Result<std::vector<PgResult>>> {
      return impl->exchange(Impl::Target::kPrimary, s, "scanning decisions", true);
    });
    if (!r.ok()) return r.error();
    const PgResult& rows = (*r)[0];
    events.clear();
    for (int i = 0; i < rows.rows(); ++i) {
      VelocityEvent e;
      after_at = rows.int8(i, 0);
      after_seq = rows.int8(i, 1);
      e.at = from_ms(after_at);
      e.amount = rows.int8(i, 2);
      e.currency = rows.text(i, 3);
      e.merchant_id = rows.text(i, 4);
      e.card_fingerprint = rows.text(i, 5);
      e.customer_id = rows.opt_text(i, 6);
      e.email = rows.opt_text(i, 7);
      e.ip = rows.opt_text(i, 8);
      e.device_id = rows.opt_text(i, 9);
      events.push_back(std::move(e));
    }
    if (events.empty()) return Ok{};
    if (auto st = sink(std::span<const VelocityEvent>(events)); !st.ok()) return st;
    if (events.size() < chunk) return Ok{};
  }
}

Status PostgresDatabase::scan_decisions(TimePoint since, TimePoint until, std::size_t chunk, const DecisionSink& sink) {
  chunk = std::max<std::size_t>(chunk, 1);
  std::vector<ReplayedDecision> decisions;
  decisions.reserve(std::min<std::size_t>(chunk, 65536));
  std::int64_t after_at = to_ms(since);
  std::int64_t after_seq = std::numeric_limits<std::int64_t>::min();  // `since` inclusive
  constexpr int kLabelColumn = 31;                                    // after TXV_DECISION_COLUMNS
  Impl* impl = impl_.get();
  for (;;) {
    // Lag-tolerant: a backtest reads history, from the read replica when there is one.
    std::vector<Statement> s{stmt("txv_scan_decisions",
                                  "SELECT " TXV_DECISION_COLUMNS ", label FROM transactions "
                                  "WHERE (decided_at, seq) > ($1::bigint, $2::bigint) AND decided_at < $3::bigint "
                                  "ORDER BY decided_at, seq LIMIT $4::bigint",
                                  pg::int8(after_at), pg::int8(after_seq), pg::int8(to_ms(until)),
                                  pg::int8(static_cast<std::int64_t>(chunk)))};
    auto r = impl->block([impl, &s]() -> Task<Result<std::vector<PgResult>>> {
      return impl->exchange(Impl::Target::kRead, s, "scanning decisions for a backtest", true);
    });
    if (!r.ok()) return r.error();
    const PgResult& rows = (*r)[0];
    decisions.clear();
    for (int i = 0; i < rows.rows(); ++i) {
      auto rec = decode_decision(rows, i);
      if (!rec.ok()) return rec.error();
      after_at = to_ms(rec->decided_at);
      after_seq = rec->seq;
      ReplayedDecision d{std::move(*rec), std::nullopt};
      if (!rows.is_null(i, kLabelColumn)) d.fraud = rows.text(i, kLabelColumn) == "fraud";
      decisions.push_back(std::move(d));
    }
    if (decisions.empty()) return Ok{};
    const std::size_t got = decisions.size();
    if (auto st = sink(decisions); !st.ok()) return st;
    if (got < chunk) return Ok{};
  }
}

Task<Result<std::optional<std::string>>> PostgresDatabase::find_trace(const std::string& merchant_id,
                                                                      const std::string& transaction_id) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_trace", "SELECT trace FROM transactions WHERE merchant_id = $1 AND transaction_id = $2",
               pg::text(merchant_id), pg::text(transaction_id))),
      "reading a decision trace");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  if (rows.rows() == 0 || rows.is_null(0, 0)) co_return std::optional<std::string>{};
  co_return std::optional<std::string>{rows.text(0, 0)};
}

namespace {
const char* count_sql(DecisionField field) {
  // One statement per field so that each uses its index (migration 0002).
#define TXV_COUNT(where)                                                           \
  "SELECT count(*), LEAST(COALESCE(sum(amount) FILTER (WHERE currency = $3), 0), " \
  "9223372036854775807)::bigint FROM transactions WHERE " where                    \
  " AND decided_at > $2::bigint AND decided_at < $4::bigint"
  switch (field) {
    case DecisionField::kCardFingerprint:
      return TXV_COUNT("card_fingerprint = $1");
    case DecisionField::kCustomerId:
      return TXV_COUNT("customer_id = $1");
    case DecisionField::kEmailLowerCase:
      return TXV_COUNT("lower(customer_email) = $1");  // COLLATE "C": ASCII only
    case DecisionField::kIp:
      return TXV_COUNT("customer_ip = $1");
    case DecisionField::kDeviceId:
      return TXV_COUNT("customer_device_id = $1");
    case DecisionField::kMerchantId:
      return TXV_COUNT("merchant_id = $1");
  }
#undef TXV_COUNT
  return nullptr;
}

const char* count_name(DecisionField field) {
  static constexpr const char* kNames[] = {"txv_count_card", "txv_count_customer", "txv_count_email",
                                           "txv_count_ip",   "txv_count_device",   "txv_count_merchant"};
  return kNames[static_cast<int>(field)];
}
}  // namespace

Task<Result<std::vector<DecisionCount>>> PostgresDatabase::count_decisions(
    std::span<const DecisionCountQuery> queries) {
  if (queries.empty()) co_return std::vector<DecisionCount>{};
  std::vector<Statement> statements;
  statements.reserve(queries.size());
  for (const auto& q : queries) {
    const char* sql = count_sql(q.field);
    if (sql == nullptr) co_return make_error("internal", "postgres: unknown decision field");
    statements.push_back(stmt(count_name(q.field), sql, pg::text(q.value), pg::int8(to_ms(q.after)),
                              pg::text(q.currency),
                              pg::int8(q.until ? to_ms(*q.until) : std::numeric_limits<std::int64_t>::max())));
  }
  // One round trip for all of them, on the primary (counts must be current).
  auto r = co_await impl_->read(Impl::Target::kPrimary, std::move(statements), "counting decisions");
  if (!r.ok()) co_return r.error();
  std::vector<DecisionCount> out;
  out.reserve(queries.size());
  for (const auto& res : *r) {
    if (res.rows() != 1) co_return make_error("internal", "postgres: a count answered no row");
    out.push_back(DecisionCount{res.int8(0, 0), res.int8(0, 1)});
  }
  co_return out;
}

// ==================================================================== rules

Task<Result<RuleRecord>> PostgresDatabase::create_rule(const RuleRecord& rule, const std::string& actor) {
  RuleRecord stored = rule;
  stored.version = 1;
  auto r = co_await impl_->write(
      seq(stmt("txv_create_rule", kInsertRuleSql, rule_params(stored)), bump_counter("rules_version"),
          append_audit(actor, "create", "rule", stored.id, "null", json::serialize(rule_to_json(stored)))),
      "creating a rule");
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kConflict) co_return make_error("conflict", "rule " + rule.id + " already exists");
    co_return r.error();
  }
  co_return stored;
}

namespace {
Statement find_rule_for_update(const std::string& id) {
  return stmt("txv_find_rule_for_update", "SELECT " TXV_RULE_COLUMNS " FROM rules WHERE id = $1 FOR UPDATE",
              pg::text(id));
}
}  // namespace

Task<Result<RuleRecord>> PostgresDatabase::replace_rule(const RuleRecord& rule, const std::string& actor) {
  Impl* impl = impl_.get();
  auto fn = [&, impl]() -> Task<Result<RuleRecord>> {
    auto lease = co_await impl->primary->acquire(Clock::now() + impl->options.call_timeout);
    if (!lease.ok()) co_return lease.error();
    auto found =
        co_await impl->run(*lease, seq(stmt(nullptr, "BEGIN"), find_rule_for_update(rule.id)), "replacing a rule");
    if (!found.ok()) {
      co_await impl->rollback(*lease);
      co_return found.error();
    }
    if ((*found)[1].rows() == 0) {
      co_await impl->rollback(*lease);
      co_return make_error("not_found", "rule " + rule.id + " not found");
    }
    auto old = decode_rule((*found)[1], 0);
    if (!old.ok()) {
      co_await impl->rollback(*lease);
      co_return old.error();
    }
    RuleRecord stored = rule;
    stored.version = old->version + 1;
    stored.created_at = old->created_at;
    auto done = co_await impl->run(
        *lease,
        seq(stmt("txv_replace_rule", kUpdateRuleSql, rule_params(stored)), bump_counter("rules_version"),
            append_audit(actor, "update", "rule", stored.id, json::serialize(rule_to_json(*old)),
                         json::serialize(rule_to_json(stored))),
            stmt(nullptr, "COMMIT")),
        "replacing a rule");
    if (!done.ok()) co_return done.error();  // the connection, left in a transaction, is dropped
    co_return stored;
  };
  co_return co_await impl->call(std::move(fn));
}

Task<Status> PostgresDatabase::delete_rule(const std::string& id, const std::string& actor) {
  Impl* impl = impl_.get();
  auto fn = [&, impl]() -> Task<Status> {
    auto lease = co_await impl->primary->acquire(Clock::now() + impl->options.call_timeout);
    if (!lease.ok()) co_return lease.error();
    auto found = co_await impl->run(*lease, seq(stmt(nullptr, "BEGIN"), find_rule_for_update(id)), "deleting a rule");
    if (!found.ok()) {
      co_await impl->rollback(*lease);
      co_return found.error();
    }
    if ((*found)[1].rows() == 0) {
      co_await impl->rollback(*lease);
      co_return make_error("not_found", "rule " + id + " not found");
    }
    auto old = decode_rule((*found)[1], 0);
    if (!old.ok()) {
      co_await impl->rollback(*lease);
      co_return old.error();
    }
    auto done =
        co_await impl->run(*lease,
                           seq(stmt("txv_delete_rule", kDeleteRuleSql, pg::text(id)), bump_counter("rules_version"),
                               append_audit(actor, "delete", "rule", id, json::serialize(rule_to_json(*old)), "null"),
                               stmt(nullptr, "COMMIT")),
                           "deleting a rule");
    if (!done.ok()) co_return done.error();
    co_return Ok{};
  };
  co_return co_await impl->call(std::move(fn));
}

Task<Result<std::optional<RuleRecord>>> PostgresDatabase::find_rule(const std::string& id) {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_find_rule", "SELECT " TXV_RULE_COLUMNS " FROM rules WHERE id = $1", pg::text(id))),
      "finding a rule");
  if (!r.ok()) co_return r.error();
  if ((*r)[0].rows() == 0) co_return std::optional<RuleRecord>{};
  auto rule = decode_rule((*r)[0], 0);
  if (!rule.ok()) co_return rule.error();
  co_return std::optional<RuleRecord>{std::move(*rule)};
}

Task<Result<std::vector<RuleRecord>>> PostgresDatabase::list_rules() {
  auto r = co_await impl_->read(
      Impl::Target::kPrimary,
      seq(stmt("txv_list_rules", "SELECT " TXV_RULE_COLUMNS " FROM rules ORDER BY priority, id")), "listing rules");
  if (!r.ok()) co_return r.error();
  std::vector<RuleRecord> out;
  for (int i = 0; i < (*r)[0].rows(); ++i) {
    auto rule = decode_rule((*r)[0], i);
    if (!rule.ok()) co_return rule.error();
    out.push_back(std::move(*rule));
  }
  co_return out;
}

Task<Result<std::int64_t>> PostgresDatabase::rules_version() {
  auto r = co_await impl_->read(Impl::Target::kPrimary, seq(read_counter("rules_version")), "reading rules_version");
  if (!r.ok()) co_return r.error();
  co_return counter_of(*r, "rules_version");
}

Task<Result<RuleSetChange>> PostgresDatabase::replace_rule_set(std::vector<RuleRecord> rules,
                                                               std::int64_t expected_version, const std::string& actor,
                                                               TimePoint now) {
  Impl* impl = impl_.get();
  auto fn = [&, impl]() -> Task<Result<RuleSetChange>> {
    auto lease = co_await impl->primary->acquire(Clock::now() + impl->options.call_timeout);
    if (!lease.ok()) co_return lease.error();
    // The counter's row lock first: every rule change bumps it, so the rules
    // read next (a new snapshot under READ COMMITTED) are the set at that version.
    auto found = co_await impl->run(
        *lease,
        seq(stmt(nullptr, "BEGIN"),
            stmt("txv_lock_counter", "SELECT value FROM meta WHERE key = $1 FOR UPDATE", pg::text("rules_version")),
            stmt("txv_list_rules_for_update",
                 "SELECT " TXV_RULE_COLUMNS " FROM rules ORDER BY priority, id FOR UPDATE")),
        "replacing the rule set");
    if (!found.ok()) {
      co_await impl->rollback(*lease);
      co_return found.error();
    }
    if ((*found)[1].rows() != 1) {
      co_await impl->rollback(*lease);
      co_return make_error("internal", "meta counter missing: rules_version");
    }
    const std::int64_t version = (*found)[1].int8(0, 0);
    if (version != expected_version) {
      co_await impl->rollback(*lease);
      co_return make_error("version_mismatch", "the rule set is at version " + std::to_string(version) + ", not " +
                                                   std::to_string(expected_version));
    }
    std::vector<RuleRecord> live;
    for (int i = 0; i < (*found)[2].rows(); ++i) {
      auto rule = decode_rule((*found)[2], i);
      if (!rule.ok()) {
        co_await impl->rollback(*lease);
        co_return rule.error();
      }
      live.push_back(std::move(*rule));
    }
    auto plan = plan_rule_set(live, rules, now);
    if (!plan.ok() || plan->empty()) {
      co_await impl->rollback(*lease);
      if (!plan.ok()) co_return plan.error();
      co_return plan->change(version);
    }
    const std::int64_t at = to_ms(now);
    std::vector<Statement> s;
    s.reserve(2 * (plan->remove.size() + plan->update.size() + plan->create.size()) + 2);
    for (const auto& old : plan->remove) {
      s.push_back(stmt("txv_delete_rule", kDeleteRuleSql, pg::text(old.id)));
      s.push_back(append_audit(actor, "delete", "rule", old.id, json::serialize(rule_to_json(old)), "null", at));
    }
    for (const auto& u : plan->update) {  // {before, after}
      s.push_back(stmt("txv_replace_rule", kUpdateRuleSql, rule_params(u.second)));
      s.push_back(append_audit(actor, "update", "rule", u.second.id, json::serialize(rule_to_json(u.first)),
                               json::serialize(rule_to_json(u.second)), at));
    }
    for (const auto& stored : plan->create) {
      s.push_back(stmt("txv_create_rule", kInsertRuleSql, rule_params(stored)));
      s.push_back(append_audit(actor, "create", "rule", stored.id, "null", json::serialize(rule_to_json(stored)), at));
    }
    s.push_back(bump_counter("rules_version"));
    s.push_back(stmt(nullptr, "COMMIT"));
    auto done = co_await impl->run(*lease, std::move(s), "replacing the rule set");
    if (!done.ok()) co_return done.error();  // the connection, left in a transaction, is dropped
    co_return plan->change(version + 1);
  };
  co_return co_await impl->call(std::move(fn));
}

// ==================================================================== lists

Task<Result<ListSummary>> PostgresDatabase::replace_list(const std::string& name,
                                                         const std::vector<std::string>& entries,
                                                         const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kReplace, &entries, nullptr, actor);
}

Task<Result<ListSummary>> PostgresDatabase::add_list_entries(const std::string& name,
                                                             const std::vector<std::string>& entries,
                                                             const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kAdd, &entries, nullptr, actor);
}

Task<Result<ListSummary>> PostgresDatabase::remove_list_entry(const std::string& name, const std::string& value,
                                                              const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kRemove, nullptr, &value, actor);
}

Task<Result<std::optional<std::vector<std::string>>>> PostgresDatabase::list_entries(const std::string& name) {
  auto snap = co_await impl_->snapshot(Impl::Target::kRead, name, true);
  if (!snap.ok()) co_return snap.error();
  Result<std::optional<std::vector<std::string>>> out = std::optional<std::vector<std::string>>();
  if (snap->exists) out.value().emplace(snap->content());
  co_return out;
}

Task<Result<std::optional<ListEntriesPage>>> PostgresDatabase::list_entries_page(const ListEntriesQuery& query) {
  if (!is_valid_utf8(query.prefix) || (query.after && !is_valid_utf8(*query.after))) {
    co_return make_error("internal", "a list page's prefix and cursor must be UTF-8");
  }
  const int limit = clamp_limit(query.limit);
  SqlBuilder b;
  const std::string name = b.add(pg::text(query.name));
  const std::string want = b.add(pg::int8(static_cast<std::int64_t>(limit) + 1)) + "::bigint";
  std::string range = "value >= " + b.add(pg::text(query.prefix));
  if (query.after) range += " AND value > " + b.add(pg::text(*query.after));
  if (auto to = prefix_upper_bound(query.prefix)) range += " AND value < " + b.add(pg::text(*to));
  b.sql =
      "SELECT l.entry_count, p.value FROM lists l LEFT JOIN LATERAL ("
      " SELECT v.value FROM list_generations g CROSS JOIN LATERAL ("
      "  SELECT value FROM list_values WHERE generation = g.id AND " +
      range + " ORDER BY value LIMIT " + want +
      " ) v WHERE g.list_name = l.name AND g.state = 'live' ORDER BY v.value LIMIT " + want +
      ") p ON true WHERE l.name = " + name + " ORDER BY p.value";
  auto r = co_await impl_->read(Impl::Target::kRead, seq(stmt(nullptr, std::move(b.sql), std::move(b.params))),
                                "reading a list page");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  if (rows.rows() == 0) co_return std::optional<ListEntriesPage>{};
  ListEntriesPage page;
  page.total = rows.int8(0, 0);
  for (int i = 0; i < rows.rows() && static_cast<int>(page.items.size()) < limit; ++i) {
    if (!rows.is_null(i, 1)) page.items.push_back(rows.text(i, 1));
  }
  page.more = rows.rows() > limit;
  co_return std::optional<ListEntriesPage>{std::move(page)};
}

Task<Result<std::optional<ListSummary>>> PostgresDatabase::find_list(const std::string& name) {
  auto r = co_await impl_->read(
      Impl::Target::kRead,
      seq(stmt("txv_find_list", "SELECT name, entry_count, updated_at FROM lists WHERE name = $1", pg::text(name))),
      "finding a list");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  if (rows.rows() == 0) co_return std::optional<ListSummary>{};
  co_return std::optional<ListSummary>{ListSummary{rows.text(0, 0), rows.int8(0, 1), from_ms(rows.int8(0, 2))}};
}

Task<Result<std::vector<ListSummary>>> PostgresDatabase::list_lists() {
  auto r = co_await impl_->read(
      Impl::Target::kRead, seq(stmt("txv_list_lists", "SELECT name, entry_count, updated_at FROM lists ORDER BY name")),
      "listing lists");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  std::vector<ListSummary> out;
  out.reserve(static_cast<std::size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) {
    out.push_back(ListSummary{rows.text(i, 0), rows.int8(i, 1), from_ms(rows.int8(i, 2))});
  }
  co_return out;
}

Task<Result<std::int64_t>> PostgresDatabase::lists_version() {
  auto r = co_await impl_->read(Impl::Target::kPrimary, seq(read_counter("lists_version")), "reading lists_version");
  if (!r.ok()) co_return r.error();
  co_return counter_of(*r, "lists_version");
}

// ==================================================================== audit

Task<Result<AuditPage>> PostgresDatabase::list_audit(const AuditQuery& query) {
  const int limit = clamp_limit(query.limit);
  SqlBuilder b;
  b.sql = "SELECT id, at, actor, action, object_type, object_id, before_json, after_json FROM audit_log WHERE true";
  if (query.object_type) b.sql += " AND object_type = " + b.add(pg::text(*query.object_type));
  if (query.object_id) b.sql += " AND object_id = " + b.add(pg::text(*query.object_id));
  if (query.since) b.sql += " AND at >= " + b.add(pg::int8(to_ms(*query.since))) + "::bigint";
  if (query.before_id) b.sql += " AND id < " + b.add(pg::int8(*query.before_id)) + "::bigint";
  b.sql += " ORDER BY id DESC LIMIT " + b.add(pg::int8(static_cast<std::int64_t>(limit) + 1)) + "::bigint";
  auto r = co_await impl_->read(Impl::Target::kRead, seq(stmt(nullptr, std::move(b.sql), std::move(b.params))),
                                "listing the audit log");
  if (!r.ok()) co_return r.error();
  const PgResult& rows = (*r)[0];
  AuditPage page;
  std::size_t bytes = 0;
  bool more = false;
  for (int i = 0; i < rows.rows(); ++i) {
    const std::size_t size = rows.length(i, 6) + rows.length(i, 7);
    if (static_cast<int>(page.items.size()) == limit || (!page.items.empty() && bytes + size > query.max_bytes)) {
      more = true;
      break;
    }
    bytes += size;
    AuditEntry e;
    e.id = rows.int8(i, 0);
    e.at = from_ms(rows.int8(i, 1));
    e.actor = rows.text(i, 2);
    e.action = rows.text(i, 3);
    e.object_type = rows.text(i, 4);
    e.object_id = rows.text(i, 5);
    e.before_json = rows.text(i, 6);
    e.after_json = rows.text(i, 7);
    page.items.push_back(std::move(e));
  }
  if (more) page.next_before_id = page.items.back().id;
  co_return page;
}

// ==================================================================== health

Task<Status> PostgresDatabase::ping() {
  auto r = co_await impl_->read(Impl::Target::kPrimary, seq(stmt("txv_ping", "SELECT 1")), "ping");
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

DatabaseHealth::PoolStats PostgresDatabase::pool_stats() {
  auto s = impl_->primary->stats();
  PoolStats out{s.idle, s.in_use};
  if (impl_->replica) {
    auto r = impl_->replica->stats();
    out.idle += r.idle;
    out.in_use += r.in_use;
  }
  return out;
}

}  // namespace txv::store

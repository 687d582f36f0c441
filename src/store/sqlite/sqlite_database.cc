#include "store/sqlite/sqlite_database.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "common/async_key_lock.h"
#include "domain/time.h"
#include "store/decision_stats.h"
#include "store/list_change.h"
#include "store/record_json.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/decision_key_filter.h"
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
    "resolution_at, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, "
    "?, ?) ON CONFLICT (merchant_id, transaction_id) DO NOTHING";

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

constexpr const char* kInsertRuleSql = "INSERT INTO rules (" TXV_RULE_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr const char* kUpdateRuleSql =
    "UPDATE rules SET name = ?2, expression = ?3, action = ?4, code = ?5, priority = ?6, "
    "mode = ?7, version = ?8, created_at = ?9, updated_at = ?10 WHERE id = ?1";

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

Status delete_rule_row(Connection& c, const std::string& id) {
  Query q(c, "DELETE FROM rules WHERE id = ?");
  q.bind(1, id);
  return q.run();
}

Result<std::vector<RuleRecord>> list_rules_on(Connection& c) {
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
                    const std::string& object_id, const std::string& before_json, const std::string& after_json,
                    std::optional<std::int64_t> at_ms = std::nullopt) {
  Query q(c,
          "INSERT INTO audit_log (at, actor, action, object_type, object_id, before_json, after_json) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)");
  q.bind(1, at_ms ? *at_ms : to_ms(domain::now_millis()))
      .bind(2, actor)
      .bind(3, action)
      .bind(4, object_type)
      .bind(5, object_id)
      .bind(6, before_json)
      .bind(7, after_json);
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

// ---------------------------------------------------------------- labels

// The current label, kept on the transaction (migrations/sqlite/0003_labels.sql).
#define TXV_CURRENT_LABEL_COLUMNS "label, label_source, label_reason, label_at, label_by"

// The number of columns of a column list such as TXV_DECISION_COLUMNS.
constexpr int column_count(std::string_view columns) {
  int n = 1;
  for (char c : columns) n += c == ',' ? 1 : 0;
  return n;
}

// Columns first .. first+4 of a row: TXV_CURRENT_LABEL_COLUMNS (all NULL: none),
// or those of the labels table (label, source, reason, at, actor).
Result<std::optional<Label>> decode_label(const Query& q, int first, const std::string& merchant_id,
                                          const std::string& transaction_id) {
  if (q.is_null(first)) return std::optional<Label>{};
  Label l;
  l.merchant_id = merchant_id;
  l.transaction_id = transaction_id;
  auto value = parse_label_value(q.get_text(first));
  if (!value) return corrupt("label");
  l.value = *value;
  auto source = parse_label_source(q.get_text(first + 1));
  if (!source) return corrupt("label source");
  l.source = *source;
  l.reason = q.get_opt_text(first + 2);
  l.at = from_ms(q.get_int(first + 3));
  l.by = q.get_text(first + 4);
  return std::optional<Label>{std::move(l)};
}

// Stores one label inside the caller's write transaction: the history row,
// the transaction's current label when this one is the latest, the audit entry.
Result<Label> add_label_on(Connection& c, const Label& label) {
  const std::string object_id = label.merchant_id + "/" + label.transaction_id;
  std::int64_t seq = 0;
  std::optional<Label> current;
  {
    Query q(c,
            "SELECT seq, " TXV_CURRENT_LABEL_COLUMNS " FROM transactions WHERE merchant_id = ? AND transaction_id = ?");
    q.bind(1, label.merchant_id).bind(2, label.transaction_id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return make_error("not_found", "transaction " + object_id + " not found");
    seq = q.get_int(0);
    auto cur = decode_label(q, 1, label.merchant_id, label.transaction_id);
    if (!cur.ok()) return cur.error();
    current = std::move(*cur);
  }
  const std::int64_t now = to_ms(domain::now_millis());
  {
    Query q(c,
            "INSERT INTO labels (transaction_seq, label, source, reason, at, actor, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, seq)
        .bind(2, to_string(label.value))
        .bind(3, to_string(label.source))
        .bind(4, label.reason)
        .bind(5, to_ms(label.at))
        .bind(6, label.by)
        .bind(7, now);
    if (auto st = q.run(); !st.ok()) return st.error();
  }
  // The latest by `at` is current; on a tie the one stored last wins.
  const bool becomes_current = !current || label.at >= current->at;
  if (becomes_current) {
    Query q(c,
            "UPDATE transactions SET label = ?, label_source = ?, label_reason = ?, label_at = ?, label_by = ? "
            "WHERE seq = ?");
    q.bind(1, to_string(label.value))
        .bind(2, to_string(label.source))
        .bind(3, label.reason)
        .bind(4, to_ms(label.at))
        .bind(5, label.by)
        .bind(6, seq);
    if (auto st = q.run(); !st.ok()) return st.error();
    if (c.changes() != 1) return make_error("internal", "label update touched no row");
  }
  json::object before{{"label", current ? json::value(label_to_json(*current)) : json::value(nullptr)}};
  json::object after{{"label", label_to_json(becomes_current ? label : *current)}, {"added", label_to_json(label)}};
  if (auto st = append_audit(c, label.by, "label", "transaction", object_id, json::serialize(before),
                             json::serialize(after), now);
      !st.ok()) {
    return st.error();
  }
  return label;
}

// ---------------------------------------------------------------- lists

// One read-transaction snapshot of a list.
struct ListSnapshot {
  bool exists = false;
  std::int64_t revision = 0;
  ListSummary summary;
  std::vector<std::int64_t> live;    // live generation ids, ascending
  std::vector<std::string> content;  // sorted, distinct (when asked for)
};

// read_list_snapshot inside the caller's (read) transaction.
Status read_list_snapshot_in(Connection& c, const std::string& name, bool with_content, ListSnapshot& out) {
  {
    Query q(c, "SELECT revision, entry_count, updated_at FROM lists WHERE name = ?");
    q.bind(1, name);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return Ok{};
    out.exists = true;
    out.revision = q.get_int(0);
    out.summary = ListSummary{name, q.get_int(1), from_ms(q.get_int(2))};
  }
  {
    Query q(c, "SELECT id FROM list_generations WHERE list_name = ? AND state = 'live' ORDER BY id");
    q.bind(1, name);
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.live.push_back(q.get_int(0));
    }
  }
  if (!with_content) return Ok{};
  out.content.reserve(static_cast<std::size_t>(std::max<std::int64_t>(out.summary.entry_count, 0)));
  Query q(c, "SELECT value FROM list_values WHERE generation = ? ORDER BY value");
  for (std::int64_t gen : out.live) {
    q.reset();
    q.bind(1, gen);
    const auto middle = static_cast<std::ptrdiff_t>(out.content.size());
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.content.push_back(q.get_text(0));
    }
    // Each generation is sorted; generations of one list are disjoint.
    std::inplace_merge(out.content.begin(), out.content.begin() + middle, out.content.end());
  }
  return Ok{};
}

Status read_list_snapshot(Connection& c, const std::string& name, bool with_content, ListSnapshot& out) {
  ReadTransaction txn(c);
  if (!txn.status().ok()) return txn.status();
  return read_list_snapshot_in(c, name, with_content, out);
}

// "conflict" unless the list is still as `snap` saw it.
Status check_list_revision(Connection& c, const std::string& name, const ListSnapshot& snap) {
  Query q(c, "SELECT revision FROM lists WHERE name = ?");
  q.bind(1, name);
  auto row = q.step();
  if (!row.ok()) return row.error();
  const bool exists = *row;
  if (exists != snap.exists || (exists && q.get_int(0) != snap.revision)) {
    return make_error("conflict", "list " + name + " was changed concurrently; retry");
  }
  return Ok{};
}

Result<std::int64_t> new_generation(Connection& c, const std::string& name, const char* state, std::int64_t now) {
  Query q(c, "INSERT INTO list_generations (list_name, state, created_at) VALUES (?, ?, ?)");
  q.bind(1, name).bind(2, state).bind(3, now);
  if (auto st = q.run(); !st.ok()) return st.error();
  return c.last_insert_rowid();
}

Status insert_values(Connection& c, std::int64_t gen, std::span<const std::string_view> values) {
  Query q(c, "INSERT INTO list_values (generation, value) VALUES (?, ?)");
  for (auto v : values) {
    q.reset();
    q.bind(1, gen).bind(2, v);
    if (auto st = q.run(); !st.ok()) return st;
  }
  return Ok{};
}

// Retires this list's generations still staging other than `keep`: with the
// per-list lock held, they are leftovers of a change that died part-way.
Status retire_orphans(Connection& c, const std::string& name, std::int64_t keep) {
  Query q(c, "UPDATE list_generations SET state = 'retired' WHERE list_name = ? AND state = 'staging' AND id <> ?");
  q.bind(1, name).bind(2, keep);
  return q.run();
}

// Writes the list's row after a change and records it: count, revision,
// lists_version, audit entry.
Result<ListSummary> finish_list_change(Connection& c, const std::string& name, const ListSnapshot& snap,
                                       const ListChange& change, const char* action, const std::string& actor,
                                       std::int64_t now) {
  if (snap.exists) {
    Query q(c, "UPDATE lists SET entry_count = ?, updated_at = ?, revision = revision + 1 WHERE name = ?");
    q.bind(1, change.entry_count).bind(2, now).bind(3, name);
    if (auto st = q.run(); !st.ok()) return st.error();
  } else {
    Query q(c, "INSERT INTO lists (name, entry_count, created_at, updated_at, revision) VALUES (?1, ?2, ?3, ?3, 1)");
    q.bind(1, name).bind(2, change.entry_count).bind(3, now);
    if (auto st = q.run(); !st.ok()) return st.error();
  }
  if (auto st = bump_counter(c, "lists_version"); !st.ok()) return st.error();
  if (auto st = append_audit(c, actor, action, "list", name, list_audit_before_json(change),
                             list_audit_after_json(change, ListStore::kAuditSampleEntries), now);
      !st.ok()) {
    return st.error();
  }
  return ListSummary{name, change.entry_count, from_ms(now)};
}

// Deletes up to `chunk` rows of the oldest retired generation, and the
// generation itself once empty. Answers whether anything was retired.
Result<bool> sweep_step(Connection& c, int chunk) {
  std::int64_t gen = 0;
  {
    Query q(c, "SELECT id FROM list_generations WHERE state = 'retired' ORDER BY id LIMIT 1");
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return false;
    gen = q.get_int(0);
  }
  std::optional<std::string> last;
  {
    Query q(c, "SELECT value FROM list_values WHERE generation = ? ORDER BY value LIMIT 1 OFFSET ?");
    q.bind(1, gen).bind(2, static_cast<std::int64_t>(std::max(chunk, 1) - 1));
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (*row) last = q.get_text(0);
  }
  if (last) {
    Query q(c, "DELETE FROM list_values WHERE generation = ? AND value <= ?");
    q.bind(1, gen).bind(2, *last);
    if (auto st = q.run(); !st.ok()) return st.error();
    return true;
  }
  {
    Query q(c, "DELETE FROM list_values WHERE generation = ?");
    q.bind(1, gen);
    if (auto st = q.run(); !st.ok()) return st.error();
  }
  Query q(c, "DELETE FROM list_generations WHERE id = ?");
  q.bind(1, gen);
  if (auto st = q.run(); !st.ok()) return st.error();
  return true;
}

// ---------------------------------------------------------------- async per-key lock

}  // namespace

// ==================================================================== Impl

struct SqliteDatabase::Impl {
  SqliteOptions options;
  std::size_t chunk = 2000;  // options.list_chunk_rows
  std::unique_ptr<sqlite::WriteQueue> writer;
  std::unique_ptr<sqlite::ReadPool> readers;
  std::unique_ptr<sqlite::ReadPool> admin_reader;  // one connection, for the admin thread
  std::unique_ptr<asio::thread_pool> read_threads;
  std::unique_ptr<asio::thread_pool> admin_threads;
  std::mutex close_mu;
  std::atomic<bool> closed{false};
  AsyncKeyLock list_locks;  // one change per list at a time
  std::atomic<bool> sweeping{false};
  std::atomic<bool> sweep_again{false};

  // The idempotency filter (decision_key_filter.h). Look-ups use `key_filter` (null until the first load is done).
  // The writer thread adds each inserted key to the filter in use and to the one being loaded; a filter is
  // published by the writer thread too, so that no insert can miss both. Every filter made is kept until the
  // database is destroyed (a look-up may still hold an older one; each growth is 4x, so they add up to < 1/3 more).
  std::atomic<const sqlite::DecisionKeyFilter*> key_filter{nullptr};
  sqlite::DecisionKeyFilter* writer_filter = nullptr;   // writer thread only
  sqlite::DecisionKeyFilter* loading_filter = nullptr;  // writer thread only
  bool filter_growth_asked = false;                     // writer thread only
  std::mutex filter_mu;                                 // guards the four below
  std::condition_variable filter_cv;
  std::size_t filter_wanted = 0;  // a load asked for, of at least this capacity (0: none)
  bool filter_stop = false;
  std::vector<std::unique_ptr<sqlite::DecisionKeyFilter>> filters;
  std::thread filter_loader;
  std::atomic<std::uint64_t> filter_builds{0};
  std::atomic<bool> migrated{false};      // migrate() succeeded: the table exists
  std::atomic<bool> filter_asked{false};  // the first load was asked for (by the first find_decision)
  std::atomic<std::uint64_t> lookups_filtered{0};
  std::atomic<std::uint64_t> lookups_read{0};

  void ask_filter_load(std::size_t capacity) {
    {
      std::lock_guard lk(filter_mu);
      if (filter_stop) return;
      filter_wanted = std::max(filter_wanted, std::max<std::size_t>(capacity, 1));
      if (!filter_loader.joinable()) filter_loader = std::thread([this] { filter_load_loop(); });
    }
    filter_cv.notify_one();
  }

  void stop_filter_loader() {
    {
      std::lock_guard lk(filter_mu);
      filter_stop = true;
    }
    filter_cv.notify_one();
    if (filter_loader.joinable()) filter_loader.join();
  }

  // Writer thread, in an insert's work: the key goes into every filter that must know it.
  void note_inserted_key(std::string_view merchant_id, std::string_view transaction_id) {
    if (loading_filter != nullptr) loading_filter->add(merchant_id, transaction_id);
    if (writer_filter == nullptr) return;
    writer_filter->add(merchant_id, transaction_id);
    // Past twice its capacity its false positives pass ~6%: load a bigger one (the old one answers meanwhile).
    if (!filter_growth_asked && writer_filter->added() > 2 * writer_filter->capacity()) {
      filter_growth_asked = true;
      ask_filter_load(4 * writer_filter->added());
    }
  }

  void filter_load_loop() {
    for (;;) {
      std::size_t capacity = 0;
      {
        std::unique_lock lk(filter_mu);
        filter_cv.wait(lk, [this] { return filter_stop || filter_wanted > 0; });
        if (filter_stop) return;
        capacity = std::exchange(filter_wanted, 0);
      }
      load_filter(capacity);
    }
  }

  // A new filter with every stored key; published when complete. On any error (closing, no table) nothing is
  // published and look-ups go on as before.
  void load_filter(std::size_t min_capacity) {
    auto conn = Connection::open(options.path, SQLITE_OPEN_READONLY, options.busy_timeout);
    if (!conn.ok()) return;
    Connection& c = **conn;
    auto rows = c.query_int("SELECT max(seq) FROM transactions");
    if (!rows.ok()) return;
    const auto stored = static_cast<std::size_t>(std::max<std::int64_t>(rows->value_or(0), 0));
    auto made = std::make_unique<sqlite::DecisionKeyFilter>(
        std::max({min_capacity, stored + stored / 2, options.decision_key_filter_min_keys}));
    sqlite::DecisionKeyFilter* filter = made.get();
    {
      std::lock_guard lk(filter_mu);
      filters.push_back(std::move(made));
    }
    // Inserts add to it from the next write item on. Waiting for this item to commit means every insert that ran
    // before it has committed too, so the scan below (which starts later) sees all of them.
    if (!writer
             ->submit_blocking([this, filter](Connection&) -> Status {
               loading_filter = filter;
               return Ok{};
             })
             .ok()) {
      return;
    }
    std::int64_t after = 0;
    Query q(c, "SELECT seq, merchant_id, transaction_id FROM transactions WHERE seq > ?1 ORDER BY seq LIMIT 65536");
    for (bool more = true; more;) {
      if (closed.load()) return;
      q.reset();
      q.bind(1, after);
      std::size_t n = 0;
      for (;;) {
        auto row = q.step();
        if (!row.ok()) return;
        if (!*row) break;
        ++n;
        after = q.get_int(0);
        filter->add(q.get_text_view(1), q.get_text_view(2));
      }
      more = n == 65536;
    }
    q.reset();
    (void)writer->submit_blocking([this, filter](Connection&) -> Status {
      writer_filter = filter;
      loading_filter = nullptr;
      filter_growth_asked = false;
      key_filter.store(filter, std::memory_order_release);
      filter_builds.fetch_add(1, std::memory_order_relaxed);
      if (filter->added() > 2 * filter->capacity()) {  // outgrown while it loaded
        filter_growth_asked = true;
        ask_filter_load(4 * filter->added());
      }
      return Ok{};
    });
  }

  static Error closed_error() { return make_error("unavailable", "database is closed"); }

  // Runs f(write connection) -> Result<T> as one item of the next group commit
  // and completes with its result once committed.
  template <typename T, typename F>
  Task<Result<T>> write(F f) {
    std::optional<Result<T>> out;
    Status st = co_await writer->submit(
        [&out, &f](Connection& c) -> Status {
          out.emplace(f(c));
          if (!out->ok()) return out->error();
          return Ok{};
        },
        asio::use_awaitable);
    if (!st.ok()) co_return std::move(st).take_error();
    co_return std::move(*out);
  }

  template <typename R, typename F>
  static R with_lease(sqlite::ReadPool& pool, std::chrono::milliseconds timeout, F& f) {
    auto lease = pool.acquire(timeout);
    if (!lease.ok()) return lease.error();
    try {
      return f(lease->conn());
    } catch (const std::exception& e) {
      return make_error("internal", std::string("storage read failed: ") + e.what());
    }
  }

  // Runs f(read connection) on a read thread; resumes the caller on its own
  // executor.
  template <typename F>
  Task<std::invoke_result_t<F&, Connection&>> read(F f) {
    using R = std::invoke_result_t<F&, Connection&>;
    if (closed.load()) co_return R(closed_error());
    co_return co_await run_on(read_threads->get_executor(),
                              [this, &f]() -> R { return with_lease<R>(*readers, options.busy_timeout, f); });
  }

  // Runs f(admin connection) on the admin thread (bulk reads off the request
  // path's connections).
  template <typename F>
  Task<std::invoke_result_t<F&, Connection&>> admin_read(F f) {
    using R = std::invoke_result_t<F&, Connection&>;
    if (closed.load()) co_return R(closed_error());
    co_return co_await run_on(admin_threads->get_executor(),
                              [this, &f]() -> R { return with_lease<R>(*admin_reader, options.busy_timeout, f); });
  }

  // Deletes retired list generations in the background, one bounded write
  // item at a time, until none is left (or the database closes).
  void start_sweep() {
    if (closed.load()) return;
    sweep_again.store(true);
    if (sweeping.exchange(true)) return;  // the running sweeper will look again
    asio::co_spawn(admin_threads->get_executor(), sweep_loop(), asio::detached);
  }

  Task<void> sweep_loop() {
    for (;;) {
      sweep_again.store(false);
      for (;;) {
        auto more = co_await write<bool>([this](Connection& c) { return sweep_step(c, static_cast<int>(chunk)); });
        if (!more.ok() || !*more) break;
      }
      sweeping.store(false);
      if (!sweep_again.load() || closed.load() || sweeping.exchange(true)) co_return;
    }
  }

  // Marks a staged generation retired (after a failed change) and sweeps it.
  Task<void> abandon(std::int64_t gen) {
    if (gen == 0) co_return;
    (void)co_await write<Ok>([gen](Connection& c) -> Status {
      Query q(c, "UPDATE list_generations SET state = 'retired' WHERE id = ? AND state = 'staging'");
      q.bind(1, gen);
      return q.run();
    });
    start_sweep();
  }

  // Writes `values` (sorted) into a new staging generation of `name`, one
  // write item per chunk, so other items commit in between. Answers the
  // generation; on failure the staged rows are abandoned.
  Task<Result<std::int64_t>> stage(const std::string& name, std::span<const std::string_view> values) {
    std::int64_t gen = 0;
    std::size_t offset = 0;
    do {
      const std::size_t n = std::min(chunk, values.size() - offset);
      auto part = values.subspan(offset, n);
      auto st = co_await write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
        std::int64_t g = gen;
        if (g == 0) {
          auto created = new_generation(c, name, "staging", to_ms(domain::now_millis()));
          if (!created.ok()) return created.error();
          g = *created;
        }
        if (auto ins = insert_values(c, g, part); !ins.ok()) return ins.error();
        return g;
      });
      if (!st.ok()) {
        co_await abandon(gen);
        co_return st.error();
      }
      gen = *st;
      offset += n;
    } while (offset < values.size());
    co_return gen;
  }

  Task<Result<ListSummary>> change_list(const std::string& name, ListOp op, const std::vector<std::string>* entries,
                                        const std::string* value, const std::string& actor) {
    if (closed.load()) co_return closed_error();
    auto guard = co_await list_locks.lock(name);

    // 1. The change, computed from one snapshot on the admin thread.
    ListSnapshot snap;
    std::vector<std::string_view> wanted;  // replace: the new content, sorted
    ListChange change;
    Status planned = co_await admin_read([&](Connection& c) -> Status {
      if (auto st = read_list_snapshot(c, name, true, snap); !st.ok()) return st;
      std::optional<std::span<const std::string>> current;
      if (snap.exists) current = std::span<const std::string>(snap.content);
      auto planned = plan_list_change(name, ListOpInput{op, entries, value}, current, wanted);
      if (!planned.ok()) return planned.error();
      change = std::move(planned).value();
      return Ok{};
    });
    if (!planned.ok()) co_return planned.error();
    const char* action = op == ListOp::kReplace ? "replace" : op == ListOp::kAdd ? "add_entries" : "remove_entry";

    // 2a. Small: in place, one write item.
    if (change.added.size() + change.removed.size() <= chunk) {
      bool orphans = false;
      auto done = co_await write<ListSummary>([&](Connection& c) -> Result<ListSummary> {
        if (auto st = check_list_revision(c, name, snap); !st.ok()) return st.error();
        const std::int64_t now = to_ms(domain::now_millis());
        std::int64_t target = snap.live.empty() ? 0 : snap.live.back();
        if (target == 0) {
          auto created = new_generation(c, name, "live", now);
          if (!created.ok()) return created.error();
          target = *created;
        }
        if (!change.removed.empty()) {
          Query q(c, "DELETE FROM list_values WHERE generation = ? AND value = ?");
          std::int64_t deleted = 0;
          for (auto v : change.removed) {
            for (std::int64_t gen : snap.live) {
              q.reset();
              q.bind(1, gen).bind(2, v);
              if (auto st = q.run(); !st.ok()) return st.error();
              deleted += c.changes();
            }
          }
          if (deleted != static_cast<std::int64_t>(change.removed.size())) {
            return make_error("internal", "list " + name + ": stored entries differ from the snapshot");
          }
        }
        if (auto st = insert_values(c, target, change.added); !st.ok()) return st.error();
        if (auto st = retire_orphans(c, name, 0); !st.ok()) return st.error();
        orphans = c.changes() > 0;
        return finish_list_change(c, name, snap, change, action, actor, now);
      });
      if (done.ok() && orphans) start_sweep();
      co_return done;
    }

    // 2b. Large: stage, then publish with one small write item.
    const bool whole = op == ListOp::kReplace || snap.live.size() >= SqliteDatabase::kMaxLiveListGenerations;
    std::vector<std::string_view> staged;
    if (op == ListOp::kReplace) {
      staged = std::move(wanted);
    } else if (whole) {
      staged = content_after_add(snap.content, change);
    } else {
      staged.assign(change.added.begin(), change.added.end());
      std::sort(staged.begin(), staged.end());
    }
    auto gen = co_await stage(name, staged);
    if (!gen.ok()) co_return gen.error();
    bool orphans = false;
    auto done = co_await write<ListSummary>([&](Connection& c) -> Result<ListSummary> {
      if (auto st = check_list_revision(c, name, snap); !st.ok()) return st.error();
      const std::int64_t now = to_ms(domain::now_millis());
      if (whole) {
        Query q(c, "UPDATE list_generations SET state = 'retired' WHERE list_name = ? AND state = 'live'");
        q.bind(1, name);
        if (auto st = q.run(); !st.ok()) return st.error();
      }
      {
        Query q(c, "UPDATE list_generations SET state = 'live' WHERE id = ? AND state = 'staging'");
        q.bind(1, *gen);
        if (auto st = q.run(); !st.ok()) return st.error();
        if (c.changes() != 1) return make_error("conflict", "list " + name + ": staged content was discarded; retry");
      }
      if (auto st = retire_orphans(c, name, *gen); !st.ok()) return st.error();
      orphans = c.changes() > 0;
      return finish_list_change(c, name, snap, change, action, actor, now);
    });
    if (!done.ok()) {
      co_await abandon(*gen);
    } else if (whole || orphans) {
      start_sweep();
    }
    co_return done;
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
  impl->options.read_pool_size = std::max(options.read_pool_size, 1);
  impl->chunk = static_cast<std::size_t>(std::max(options.list_chunk_rows, 1));
  auto readers = sqlite::ReadPool::open(options.path, impl->options.read_pool_size, options.busy_timeout);
  if (!readers.ok()) return readers.error();
  impl->readers = std::move(*readers);
  auto admin = sqlite::ReadPool::open(options.path, 1, options.busy_timeout);
  if (!admin.ok()) return admin.error();
  impl->admin_reader = std::move(*admin);
  impl->read_threads = std::make_unique<asio::thread_pool>(static_cast<std::size_t>(impl->options.read_pool_size));
  impl->admin_threads = std::make_unique<asio::thread_pool>(1);
  impl->writer =
      std::make_unique<sqlite::WriteQueue>(std::move(*conn), static_cast<std::size_t>(std::max(options.max_batch, 1)));
  return std::unique_ptr<SqliteDatabase>(new SqliteDatabase(std::move(impl)));
}

SqliteDatabase::SqliteDatabase(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteDatabase::~SqliteDatabase() {
  close();
  // Nothing may be in flight now; what remains on the store's threads (a
  // read finishing, the sweeper's last step) ends quickly.
  impl_->read_threads->join();
  impl_->admin_threads->join();
}

void SqliteDatabase::close() {
  std::lock_guard lk(impl_->close_mu);
  if (impl_->closed.exchange(true)) return;
  impl_->writer->stop();         // drains pending writes first
  impl_->readers->close();       // waits for reads in flight
  impl_->admin_reader->close();  // and for a list diff in flight
  impl_->stop_filter_loader();   // its scan stops at the next chunk; its writer items are answered by now
  // The thread pools keep running until the destructor: a call racing with
  // close() still gets its "unavailable" delivered.
}

SqliteDatabase::KeyFilterStats SqliteDatabase::key_filter_stats() const {
  KeyFilterStats out;
  if (const auto* filter = impl_->key_filter.load(std::memory_order_acquire)) {
    out.ready = true;
    out.capacity = filter->capacity();
    out.keys = filter->added();
  }
  out.builds = impl_->filter_builds.load();
  out.filtered = impl_->lookups_filtered.load();
  out.read = impl_->lookups_read.load();
  return out;
}

SqliteDatabase::WriterStats SqliteDatabase::writer_stats() const {
  auto s = impl_->writer->stats();
  return WriterStats{s.batches, s.items, s.largest_batch, s.longest_transaction};
}

Result<std::string> SqliteDatabase::writer_pragma(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) { return std::islower(ch) || ch == '_'; })) {
    return make_error("internal", "not a pragma name: " + name);
  }
  std::string value;
  Status st = impl_->writer->submit_blocking([&](Connection& c) -> Status {
    Query q(c, "PRAGMA " + name);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (*row) value = q.get_text(0);
    return Ok{};
  });
  if (!st.ok()) return st.error();
  return value;
}

// ==================================================================== migrate

Status SqliteDatabase::migrate() {
  bool retired = false;
  Status st = impl_->writer->submit_blocking([&](Connection& c) -> Status {
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
    // A change that died while staging (crash, kill) left its generation in
    // 'staging'; a live one of another process would be minutes old at most.
    {
      Query q(c, "UPDATE list_generations SET state = 'retired' WHERE state = 'staging' AND created_at < ?");
      q.bind(1, to_ms(domain::now_millis() - std::chrono::hours(1)));
      if (auto st = q.run(); !st.ok()) return st;
    }
    auto any = c.query_int("SELECT EXISTS (SELECT 1 FROM list_generations WHERE state = 'retired')");
    if (!any.ok()) return any.error();
    retired = any->value_or(0) != 0;
    return Ok{};
  });
  if (st.ok() && retired) impl_->start_sweep();
  if (st.ok()) impl_->migrated.store(true);
  return st;
}

// ==================================================================== api keys

namespace {
#define TXV_API_KEY_COLUMNS "id, name, role, merchant_id, secret_hash, created_at, last_used_at, revoked_at"

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
  if (!q.is_null(6)) k.last_used_at = from_ms(q.get_int(6));
  if (!q.is_null(7)) k.revoked_at = from_ms(q.get_int(7));
  return k;
}

Result<std::optional<ApiKey>> find_api_key_on(Connection& c, const char* where, const std::string& arg) {
  Query q(c, std::string("SELECT " TXV_API_KEY_COLUMNS " FROM api_keys WHERE ") + where + " = ?");
  q.bind(1, arg);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<ApiKey>{};
  auto key = decode_api_key(q);
  if (!key.ok()) return key.error();
  return std::optional<ApiKey>{std::move(*key)};
}
}  // namespace

Task<Status> SqliteDatabase::create_api_key(const ApiKey& key) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "INSERT INTO api_keys (" TXV_API_KEY_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, key.id)
        .bind(2, key.name)
        .bind(3, to_string(key.role))
        .bind(4, key.merchant_id)
        .bind(5, key.secret_hash)
        .bind(6, to_ms(key.created_at));
    if (key.last_used_at) {
      q.bind(7, to_ms(*key.last_used_at));
    } else {
      q.bind_null(7);
    }
    if (key.revoked_at) {
      q.bind(8, to_ms(*key.revoked_at));
    } else {
      q.bind_null(8);
    }
    auto st = q.run();
    if (!st.ok() && st.error().code == "conflict") {
      return make_error("conflict", "an API key with this id or secret already exists");
    }
    return st;
  });
}

Task<Result<std::optional<ApiKey>>> SqliteDatabase::find_api_key_by_hash(const std::string& secret_hash) {
  co_return co_await impl_->read([&](Connection& c) { return find_api_key_on(c, "secret_hash", secret_hash); });
}

Task<Result<std::vector<ApiKey>>> SqliteDatabase::list_api_keys() {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::vector<ApiKey>> {
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

Task<Result<ApiKey>> SqliteDatabase::revoke_api_key(const std::string& id, TimePoint at) {
  co_return co_await impl_->write<ApiKey>([&](Connection& c) -> Result<ApiKey> {
    Query q(c, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL");
    q.bind(1, to_ms(at)).bind(2, id);
    if (auto st = q.run(); !st.ok()) return st.error();
    auto key = find_api_key_on(c, "id", id);
    if (!key.ok()) return key.error();
    if (!*key) return make_error("not_found", "API key " + id + " not found");
    return std::move(**key);
  });
}

Task<Status> SqliteDatabase::touch_api_key(const std::string& id, TimePoint at) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2");
    q.bind(1, to_ms(at)).bind(2, id);
    if (auto st = q.run(); !st.ok()) return st;
    if (c.changes() == 0) return make_error("not_found", "API key " + id + " not found");
    return Ok{};
  });
}

// ==================================================================== trace layouts

Task<Status> SqliteDatabase::save_trace_layout(const std::string& id, const std::string& layout) {
  const std::int64_t now = to_ms(domain::now_millis());
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "INSERT INTO trace_layouts (id, layout, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING");
    q.bind(1, id).bind(2, layout).bind(3, now);
    return q.run();
  });
}

Task<Result<std::optional<std::string>>> SqliteDatabase::find_trace_layout(const std::string& id) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<std::string>> {
    Query q(c, "SELECT layout FROM trace_layouts WHERE id = ?");
    q.bind(1, id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<std::string>{};
    return std::optional<std::string>{q.get_text(0)};
  });
}

// ==================================================================== sessions

#define TXV_SESSION_COLUMNS "id_hash, key_hash, csrf_token, created_at, expires_at, last_seen_at"

Task<Status> SqliteDatabase::create_session(const Session& session, std::chrono::milliseconds idle_timeout) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    {
      Query forget(c, "DELETE FROM sessions WHERE expires_at <= ?1 OR idle_until <= ?1");
      forget.bind(1, to_ms(session.created_at));
      if (auto st = forget.run(); !st.ok()) return st;
    }
    Query q(c, "INSERT INTO sessions (" TXV_SESSION_COLUMNS ", idle_until) VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, session.id_hash)
        .bind(2, session.key_hash)
        .bind(3, session.csrf_token)
        .bind(4, to_ms(session.created_at))
        .bind(5, to_ms(session.expires_at))
        .bind(6, to_ms(session.last_seen_at))
        .bind(7, to_ms(session.last_seen_at + idle_timeout));
    return q.run();
  });
}

Task<Result<std::optional<Session>>> SqliteDatabase::find_session(const std::string& id_hash) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<Session>> {
    Query q(c, "SELECT " TXV_SESSION_COLUMNS " FROM sessions WHERE id_hash = ?");
    q.bind(1, id_hash);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<Session>{};
    Session s;
    s.id_hash = q.get_text(0);
    s.key_hash = q.get_text(1);
    s.csrf_token = q.get_text(2);
    s.created_at = from_ms(q.get_int(3));
    s.expires_at = from_ms(q.get_int(4));
    s.last_seen_at = from_ms(q.get_int(5));
    return std::optional<Session>{std::move(s)};
  });
}

Task<Status> SqliteDatabase::touch_session(const std::string& id_hash, TimePoint at,
                                           std::chrono::milliseconds idle_timeout) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c,
            "UPDATE sessions SET last_seen_at = max(last_seen_at, ?1), idle_until = max(idle_until, ?2) "
            "WHERE id_hash = ?3");
    q.bind(1, to_ms(at)).bind(2, to_ms(at + idle_timeout)).bind(3, id_hash);
    if (auto st = q.run(); !st.ok()) return st;
    if (c.changes() == 0) return make_error("not_found", "no such session");
    return Ok{};
  });
}

Task<Status> SqliteDatabase::delete_session(const std::string& id_hash) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "DELETE FROM sessions WHERE id_hash = ?");
    q.bind(1, id_hash);
    return q.run();
  });
}

// ==================================================================== backtests

#define TXV_BACKTEST_COLUMNS                                                                                     \
  "id, status, progress_ppm, transactions, by_name, created_at, finished_at, since, until, merchant_id, error, " \
  "result, heartbeat_at, cancel_requested"

namespace {

std::int64_t to_ppm(double progress) { return std::llround(std::clamp(progress, 0.0, 1.0) * 1e6); }

Result<BacktestRecord> decode_backtest(const Query& q) {
  BacktestRecord r;
  r.id = q.get_text(0);
  auto status = parse_backtest_status(q.get_text(1));
  if (!status) return corrupt("backtests.status");
  r.status = *status;
  r.progress = static_cast<double>(q.get_int(2)) / 1e6;
  r.transactions = q.get_int(3);
  r.by = q.get_text(4);
  r.created_at = from_ms(q.get_int(5));
  if (!q.is_null(6)) r.finished_at = from_ms(q.get_int(6));
  r.since = from_ms(q.get_int(7));
  r.until = from_ms(q.get_int(8));
  r.merchant_id = q.get_opt_text(9);
  r.error = q.get_text(10);
  r.result_json = q.get_opt_text(11);
  r.heartbeat_at = from_ms(q.get_int(12));
  r.cancel_requested = q.get_int(13) != 0;
  return r;
}

Result<std::optional<BacktestRecord>> find_backtest_on(Connection& c, const std::string& id) {
  Query q(c, "SELECT " TXV_BACKTEST_COLUMNS " FROM backtests WHERE id = ?");
  q.bind(1, id);
  auto row = q.step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<BacktestRecord>{};
  auto r = decode_backtest(q);
  if (!r.ok()) return r.error();
  return std::optional<BacktestRecord>{std::move(*r)};
}

}  // namespace

Task<Status> SqliteDatabase::create_backtest(const BacktestRecord& job) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(c, "INSERT INTO backtests (" TXV_BACKTEST_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, job.id)
        .bind(2, to_string(job.status))
        .bind(3, to_ppm(job.progress))
        .bind(4, job.transactions)
        .bind(5, job.by)
        .bind(6, to_ms(job.created_at));
    if (job.finished_at) {
      q.bind(7, to_ms(*job.finished_at));
    } else {
      q.bind_null(7);
    }
    q.bind(8, to_ms(job.since))
        .bind(9, to_ms(job.until))
        .bind(10, job.merchant_id)
        .bind(11, job.error)
        .bind(12, job.result_json)
        .bind(13, to_ms(job.heartbeat_at))
        .bind(14, job.cancel_requested);
    auto st = q.run();
    if (!st.ok() && st.error().code == "conflict") return make_error("conflict", "backtest " + job.id + " exists");
    return st;
  });
}

Task<Result<bool>> SqliteDatabase::update_backtest_progress(const std::string& id, double progress,
                                                            std::int64_t transactions, TimePoint at) {
  co_return co_await impl_->write<bool>([&](Connection& c) -> Result<bool> {
    {
      Query q(c,
              "UPDATE backtests SET progress_ppm = ?1, transactions = ?2, heartbeat_at = max(heartbeat_at, ?3) "
              "WHERE id = ?4 AND status = 'running'");
      q.bind(1, to_ppm(progress)).bind(2, transactions).bind(3, to_ms(at)).bind(4, id);
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    Query q(c, "SELECT status, cancel_requested FROM backtests WHERE id = ?");
    q.bind(1, id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return make_error("not_found", "no such backtest");
    return q.get_text(0) != "running" || q.get_int(1) != 0;
  });
}

Task<Result<bool>> SqliteDatabase::finish_backtest(const BacktestRecord& job) {
  co_return co_await impl_->write<bool>([&](Connection& c) -> Result<bool> {
    const std::int64_t finished = to_ms(job.finished_at.value_or(job.heartbeat_at));
    {
      Query q(c,
              "UPDATE backtests SET status = ?1, progress_ppm = ?2, transactions = ?3, finished_at = ?4, error = ?5, "
              "result = ?6, heartbeat_at = ?4 WHERE id = ?7 AND status = 'running'");
      q.bind(1, to_string(job.status))
          .bind(2, to_ppm(job.progress))
          .bind(3, job.transactions)
          .bind(4, finished)
          .bind(5, job.error)
          .bind(6, job.result_json)
          .bind(7, job.id);
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    if (c.changes() > 0) return true;
    Query q(c, "SELECT 1 FROM backtests WHERE id = ?");
    q.bind(1, job.id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return make_error("not_found", "no such backtest");
    return false;
  });
}

Task<Result<BacktestRecord>> SqliteDatabase::cancel_backtest(const std::string& id, TimePoint at) {
  co_return co_await impl_->write<BacktestRecord>([&](Connection& c) -> Result<BacktestRecord> {
    {
      Query q(c,
              "UPDATE backtests SET status = 'cancelled', finished_at = ?1, cancel_requested = 1 "
              "WHERE id = ?2 AND status = 'running'");
      q.bind(1, to_ms(at)).bind(2, id);
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    const bool changed = c.changes() > 0;
    auto found = find_backtest_on(c, id);
    if (!found.ok()) return found.error();
    if (!*found) return make_error("not_found", "no such backtest");
    if (!changed) {
      return make_error("conflict", std::string("the backtest is already ") + to_string((*found)->status));
    }
    return std::move(**found);
  });
}

Task<Result<std::optional<BacktestRecord>>> SqliteDatabase::find_backtest(const std::string& id) {
  co_return co_await impl_->read([&](Connection& c) { return find_backtest_on(c, id); });
}

Task<Result<std::vector<BacktestRecord>>> SqliteDatabase::list_backtests(int limit) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::vector<BacktestRecord>> {
    Query q(c,
            "SELECT id, status, progress_ppm, transactions, by_name, created_at, finished_at, since, until, "
            "merchant_id, error, NULL, heartbeat_at, cancel_requested FROM backtests "
            "ORDER BY created_at DESC, id DESC LIMIT ?");
    q.bind(1, clamp_limit(limit));
    std::vector<BacktestRecord> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      auto r = decode_backtest(q);
      if (!r.ok()) return r.error();
      out.push_back(std::move(*r));
    }
  });
}

Task<Result<std::int64_t>> SqliteDatabase::fail_stale_backtests(TimePoint heartbeat_before, TimePoint at,
                                                                const std::string& error) {
  co_return co_await impl_->write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
    Query q(c,
            "UPDATE backtests SET status = 'failed', error = ?1, finished_at = ?2 "
            "WHERE status = 'running' AND heartbeat_at < ?3");
    q.bind(1, error).bind(2, to_ms(at)).bind(3, to_ms(heartbeat_before));
    if (auto st = q.run(); !st.ok()) return st.error();
    return c.changes();
  });
}

Task<Result<std::int64_t>> SqliteDatabase::fail_running_backtests(TimePoint at, const std::string& error) {
  co_return co_await impl_->write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
    Query q(c, "UPDATE backtests SET status = 'failed', error = ?1, finished_at = ?2 WHERE status = 'running'");
    q.bind(1, error).bind(2, to_ms(at));
    if (auto st = q.run(); !st.ok()) return st.error();
    return c.changes();
  });
}

// ==================================================================== transactions

Task<Result<InsertOutcome>> SqliteDatabase::insert_decision(const domain::DecisionRecord& r) {
  // Encode before queueing: keeps the serialised section short.
  std::string reasons = reasons_to_text(r.reasons);
  std::string shadow = shadow_matches_to_text(r.shadow_matches);
  std::string metadata = metadata_to_text(r.metadata);
  co_return co_await impl_->write<InsertOutcome>([&](Connection& c) -> Result<InsertOutcome> {
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
      if (r.trace.empty()) {
        q.bind_null(31);
      } else {
        q.bind(31, r.trace);
      }
      if (auto st = q.run(); !st.ok()) return st.error();
    }
    if (c.changes() == 1) {
      impl_->note_inserted_key(r.merchant_id, r.transaction_id);
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

Task<Result<std::optional<domain::DecisionRecord>>> SqliteDatabase::find_decision(const std::string& merchant_id,
                                                                                  const std::string& transaction_id) {
  // The filter loads on first use (not at migrate: a start-up rebuilding its counters has the cores busy already).
  if (impl_->options.decision_key_filter && !impl_->filter_asked.load(std::memory_order_relaxed) &&
      impl_->migrated.load() && !impl_->filter_asked.exchange(true)) {
    impl_->ask_filter_load(1);
  }
  // A key never stored (nearly every validate's): answered here, without a read thread's round trip.
  if (const auto* filter = impl_->key_filter.load(std::memory_order_acquire);
      filter != nullptr && !impl_->closed.load() && !filter->may_contain(merchant_id, transaction_id)) {
    impl_->lookups_filtered.fetch_add(1, std::memory_order_relaxed);
    co_return std::optional<domain::DecisionRecord>{};
  }
  impl_->lookups_read.fetch_add(1, std::memory_order_relaxed);
  co_return co_await impl_->read([&](Connection& c) { return find_decision_on(c, merchant_id, transaction_id); });
}

Task<Result<TransactionPage>> SqliteDatabase::list_decisions(const TransactionQuery& query) {
  const int limit = clamp_limit(query.limit);
  std::string sql = "SELECT " TXV_DECISION_COLUMNS ", " TXV_CURRENT_LABEL_COLUMNS " FROM transactions WHERE 1 = 1";
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
  if (query.label) {
    // Literal terms, so the planner can use the partial label indexes.
    switch (*query.label) {
      case TransactionQuery::LabelFilter::kFraud:
        sql += " AND label = 'fraud'";
        break;
      case TransactionQuery::LabelFilter::kNotFraud:
        sql += " AND label = 'not_fraud'";
        break;
      case TransactionQuery::LabelFilter::kNone:
        sql += " AND label IS NULL";
        break;
    }
  }
  if (query.since) {
    sql += " AND decided_at >= ?";
    params.emplace_back(to_ms(*query.since));
  }
  if (query.until) {
    sql += " AND decided_at < ?";
    params.emplace_back(to_ms(*query.until));
  }
  if (query.min_amount) {
    sql += " AND amount >= ?";
    params.emplace_back(*query.min_amount);
  }
  if (query.max_amount) {
    sql += " AND amount <= ?";
    params.emplace_back(*query.max_amount);
  }
  const bool oldest_first = query.order == TransactionQuery::Order::kOldestFirst;
  if (!oldest_first && query.before_seq) {
    sql += " AND seq < ?";
    params.emplace_back(*query.before_seq);
  }
  if (oldest_first && query.after_seq) {
    sql += " AND seq > ?";
    params.emplace_back(*query.after_seq);
  }
  sql += oldest_first ? " ORDER BY seq ASC LIMIT ?" : " ORDER BY seq DESC LIMIT ?";
  params.emplace_back(static_cast<std::int64_t>(limit) + 1);

  co_return co_await impl_->read([&](Connection& c) -> Result<TransactionPage> {
    Query q(c, sql);
    bind_params(q, params);
    TransactionPage page;
    constexpr int kFirstLabelColumn = column_count(TXV_DECISION_COLUMNS);  // the label columns follow
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      if (static_cast<int>(page.items.size()) == limit) {
        (oldest_first ? page.next_after_seq : page.next_before_seq) = page.items.back().seq;
        break;
      }
      auto rec = decode_decision(q);
      if (!rec.ok()) return rec.error();
      auto label = decode_label(q, kFirstLabelColumn, rec->merchant_id, rec->transaction_id);
      if (!label.ok()) return label.error();
      page.items.push_back(std::move(*rec));
      page.labels.push_back(std::move(*label));
    }
    return page;
  });
}

Task<Result<domain::DecisionRecord>> SqliteDatabase::resolve_review(const std::string& merchant_id,
                                                                    const std::string& transaction_id,
                                                                    const domain::Resolution& resolution) {
  co_return co_await impl_->write<domain::DecisionRecord>([&](Connection& c) -> Result<domain::DecisionRecord> {
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

// ==================================================================== labels

Task<Result<Label>> SqliteDatabase::add_label(const Label& label) {
  co_return co_await impl_->write<Label>([&](Connection& c) { return add_label_on(c, label); });
}

Task<std::vector<Status>> SqliteDatabase::add_labels(std::span<const Label> labels) {
  std::vector<Status> out;
  out.reserve(labels.size());
  // Bounded write items: decisions' commits interleave with a large batch.
  const std::size_t chunk = std::max<std::size_t>(impl_->options.label_chunk, 1);
  for (std::size_t begin = 0; begin < labels.size(); begin += chunk) {
    const auto part = labels.subspan(begin, std::min(chunk, labels.size() - begin));
    auto done = co_await impl_->write<std::vector<Status>>([&](Connection& c) -> Result<std::vector<Status>> {
      std::vector<Status> results;
      results.reserve(part.size());
      for (const auto& label : part) {
        auto one = add_label_on(c, label);
        if (one.ok()) {
          results.emplace_back(Ok{});
        } else if (one.error().code == ErrorCode::kNotFound) {
          results.emplace_back(one.error());  // nothing of it was written; the others go on
        } else {
          return one.error();  // the whole chunk rolls back
        }
      }
      return results;
    });
    if (done.ok()) {
      for (auto& r : *done) out.push_back(std::move(r));
    } else {
      for (std::size_t i = 0; i < part.size(); ++i) out.emplace_back(done.error());
    }
  }
  co_return out;
}

Task<Result<std::optional<Label>>> SqliteDatabase::find_label(const std::string& merchant_id,
                                                              const std::string& transaction_id) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<Label>> {
    Query q(c, "SELECT " TXV_CURRENT_LABEL_COLUMNS " FROM transactions WHERE merchant_id = ? AND transaction_id = ?");
    q.bind(1, merchant_id).bind(2, transaction_id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<Label>{};
    return decode_label(q, 0, merchant_id, transaction_id);
  });
}

Task<Result<std::vector<Label>>> SqliteDatabase::label_history(const std::string& merchant_id,
                                                               const std::string& transaction_id) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::vector<Label>> {
    Query q(c,
            "SELECT l.label, l.source, l.reason, l.at, l.actor FROM labels l "
            "JOIN transactions t ON t.seq = l.transaction_seq "
            "WHERE t.merchant_id = ? AND t.transaction_id = ? ORDER BY l.at, l.id");
    q.bind(1, merchant_id).bind(2, transaction_id);
    std::vector<Label> out;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      auto label = decode_label(q, 0, merchant_id, transaction_id);
      if (!label.ok()) return label.error();
      out.push_back(std::move(**label));
    }
    return out;
  });
}

Status SqliteDatabase::scan_velocity_events(TimePoint since, TimePoint until, std::size_t chunk,
                                            const VelocityScanFields& fields, const VelocitySink& sink) {
  if (impl_->closed.load()) return Impl::closed_error();
  chunk = std::max<std::size_t>(chunk, 1);
  // A connection of its own: a long scan occupies neither a request's read
  // connection nor the admin thread.
  auto conn = Connection::open(impl_->options.path, SQLITE_OPEN_READONLY, impl_->options.busy_timeout);
  if (!conn.ok()) return conn.error();
  Connection& c = **conn;
  // In seq order (a walk of the table's own b-tree, about twice as fast as following the decided_at index to
  // each row), from the first seq whose decision is in range: every decision before it is older than `since`.
  std::int64_t after_seq = 0;
  {
    Query first(c, "SELECT min(seq) FROM transactions WHERE decided_at >= ?1 AND decided_at < ?2");
    first.bind(1, to_ms(since)).bind(2, to_ms(until));
    auto row = first.step();
    if (!row.ok()) return row.error();
    if (!*row || first.is_null(0)) return Ok{};
    after_seq = first.get_int(0) - 1;
  }
  // A key field the caller does not keep for a decision that old is not even read from the row (CASE ... END:
  // SQLite decodes a column only when it is used).
  Query q(c,
          "SELECT seq, decided_at, amount, currency, "
          "CASE WHEN decided_at >= ?5 THEN card_fingerprint END, CASE WHEN decided_at >= ?6 THEN customer_id END, "
          "CASE WHEN decided_at >= ?7 THEN customer_email END, CASE WHEN decided_at >= ?8 THEN customer_ip END, "
          "CASE WHEN decided_at >= ?9 THEN customer_device_id END, CASE WHEN decided_at >= ?10 THEN merchant_id END "
          "FROM transactions WHERE seq > ?1 AND decided_at >= ?2 AND decided_at < ?3 ORDER BY seq LIMIT ?4");
  auto put = [](std::optional<std::string>& out, const Query& row, int col) {
    if (row.is_null(col)) {
      out.reset();
    } else if (out) {
      out->assign(row.get_text_view(col));
    } else {
      out.emplace(row.get_text_view(col));
    }
  };
  // The next chunk into `events` (reused from chunk to chunk: assigning into the same strings allocates only when
  // one grows); answers how many.
  auto read_chunk = [&](std::vector<VelocityEvent>& events) -> Result<std::size_t> {
    if (impl_->closed.load()) return Impl::closed_error();
    q.reset();
    q.bind(1, after_seq).bind(2, to_ms(since)).bind(3, to_ms(until)).bind(4, static_cast<std::int64_t>(chunk));
    for (std::size_t k = 0; k < VelocityScanFields::kKeyCount; ++k) {
      q.bind(static_cast<int>(5 + k), to_ms(fields.needed_from[k]));
    }
    std::size_t n = 0;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      if (n == events.size()) events.emplace_back();
      VelocityEvent& e = events[n++];
      after_seq = q.get_int(0);
      e.at = from_ms(q.get_int(1));
      e.amount = q.get_int(2);
      e.currency.assign(q.get_text_view(3));
      e.card_fingerprint.assign(q.get_text_view(4));
      put(e.customer_id, q, 5);
      put(e.email, q, 6);
      put(e.ip, q, 7);
      put(e.device_id, q, 8);
      e.merchant_id.assign(q.get_text_view(9));
    }
    q.reset();  // ends the chunk's implicit read transaction
    return n;
  };
  // Read-ahead: the next chunk is read on a thread of its own while the sink takes this one. A start-up is CPU-bound
  // on both, so together they take about the longer of the two instead of their sum.
  std::array<std::vector<VelocityEvent>, 2> buffers;
  std::size_t current = 0;
  Result<std::size_t> ahead = read_chunk(buffers[current]);
  for (;;) {
    if (!ahead.ok()) return ahead.error();
    const std::size_t n = *ahead;
    if (n == 0) return Ok{};
    const bool last = n < chunk;
    std::thread reader;
    if (!last) {
      auto read_next = [&read_chunk, &ahead, &next = buffers[1 - current]] {
        try {
          ahead = read_chunk(next);
        } catch (const std::exception&) {  // std::bad_alloc
          ahead = make_error("internal", "out of memory while scanning decisions");
        }
      };
      try {
        reader = std::thread(read_next);
      } catch (const std::system_error&) {  // no thread: after the sink instead
      }
      Status st = sink(std::span<const VelocityEvent>(buffers[current].data(), n));
      if (reader.joinable()) {
        reader.join();
      } else if (st.ok()) {
        read_next();
      }
      if (!st.ok()) return st;
      current = 1 - current;
      continue;
    }
    return sink(std::span<const VelocityEvent>(buffers[current].data(), n));
  }
}

Status SqliteDatabase::scan_decisions(TimePoint since, TimePoint until, std::size_t chunk, const DecisionSink& sink) {
  if (impl_->closed.load()) return Impl::closed_error();
  chunk = std::max<std::size_t>(chunk, 1);
  // A connection of its own, as for scan_velocity_events: a backtest holds no request's connection.
  auto conn = Connection::open(impl_->options.path, SQLITE_OPEN_READONLY, impl_->options.busy_timeout);
  if (!conn.ok()) return conn.error();
  Connection& c = **conn;
  std::vector<ReplayedDecision> decisions;
  decisions.reserve(std::min<std::size_t>(chunk, 65536));
  std::int64_t after_at = to_ms(since);
  std::int64_t after_seq = std::numeric_limits<std::int64_t>::min();
  constexpr int kLabelColumn = 31;  // after TXV_DECISION_COLUMNS
  Query q(c, "SELECT " TXV_DECISION_COLUMNS
             ", label FROM transactions "
             "WHERE (decided_at, seq) > (?1, ?2) AND decided_at < ?3 ORDER BY decided_at, seq LIMIT ?4");
  for (;;) {
    if (impl_->closed.load()) return Impl::closed_error();
    decisions.clear();
    q.reset();
    q.bind(1, after_at).bind(2, after_seq).bind(3, to_ms(until)).bind(4, static_cast<std::int64_t>(chunk));
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      auto rec = decode_decision(q);
      if (!rec.ok()) return rec.error();
      after_at = to_ms(rec->decided_at);
      after_seq = rec->seq;
      ReplayedDecision d{std::move(*rec), std::nullopt};
      if (!q.is_null(kLabelColumn)) d.fraud = q.get_text(kLabelColumn) == "fraud";
      decisions.push_back(std::move(d));
    }
    q.reset();  // ends the chunk's read transaction before the sink runs
    if (decisions.empty()) return Ok{};
    const std::size_t got = decisions.size();
    if (auto st = sink(decisions); !st.ok()) return st;
    if (got < chunk) return Ok{};
  }
}

Task<Result<std::optional<std::string>>> SqliteDatabase::find_trace(const std::string& merchant_id,
                                                                    const std::string& transaction_id) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<std::string>> {
    Query q(c, "SELECT trace FROM transactions WHERE merchant_id = ? AND transaction_id = ?");
    q.bind(1, merchant_id).bind(2, transaction_id);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row || q.is_null(0)) return std::optional<std::string>{};
    return std::optional<std::string>{q.get_text(0)};
  });
}

// ==================================================================== rules

Task<Result<RuleRecord>> SqliteDatabase::create_rule(const RuleRecord& rule, const std::string& actor) {
  co_return co_await impl_->write<RuleRecord>([&](Connection& c) -> Result<RuleRecord> {
    auto existing = find_rule_on(c, rule.id);
    if (!existing.ok()) return existing.error();
    if (*existing) return make_error("conflict", "rule " + rule.id + " already exists");
    RuleRecord stored = rule;
    stored.version = 1;
    if (auto st = write_rule(c, kInsertRuleSql, stored); !st.ok()) {
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

Task<Result<RuleRecord>> SqliteDatabase::replace_rule(const RuleRecord& rule, const std::string& actor) {
  co_return co_await impl_->write<RuleRecord>([&](Connection& c) -> Result<RuleRecord> {
    auto existing = find_rule_on(c, rule.id);
    if (!existing.ok()) return existing.error();
    if (!*existing) return make_error("not_found", "rule " + rule.id + " not found");
    const RuleRecord& old = **existing;
    RuleRecord stored = rule;
    stored.version = old.version + 1;
    stored.created_at = old.created_at;
    if (auto st = write_rule(c, kUpdateRuleSql, stored); !st.ok()) {
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

Task<Status> SqliteDatabase::delete_rule(const std::string& id, const std::string& actor) {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    auto existing = find_rule_on(c, id);
    if (!existing.ok()) return existing.error();
    if (!*existing) return make_error("not_found", "rule " + id + " not found");
    if (auto st = delete_rule_row(c, id); !st.ok()) return st;
    if (auto st = bump_counter(c, "rules_version"); !st.ok()) return st;
    return append_audit(c, actor, "delete", "rule", id, json::serialize(rule_to_json(**existing)), "null");
  });
}

Task<Result<std::optional<RuleRecord>>> SqliteDatabase::find_rule(const std::string& id) {
  co_return co_await impl_->read([&](Connection& c) { return find_rule_on(c, id); });
}

Task<Result<std::vector<RuleRecord>>> SqliteDatabase::list_rules() {
  co_return co_await impl_->read([&](Connection& c) { return list_rules_on(c); });
}

Task<Result<std::int64_t>> SqliteDatabase::rules_version() {
  co_return co_await impl_->read([&](Connection& c) { return read_counter(c, "rules_version"); });
}

Task<Result<RuleSetChange>> SqliteDatabase::replace_rule_set(std::vector<RuleRecord> rules,
                                                             std::int64_t expected_version, const std::string& actor,
                                                             TimePoint now) {
  co_return co_await impl_->write<RuleSetChange>([&](Connection& c) -> Result<RuleSetChange> {
    auto version = read_counter(c, "rules_version");
    if (!version.ok()) return version.error();
    if (*version != expected_version) {
      return make_error("version_mismatch", "the rule set is at version " + std::to_string(*version) + ", not " +
                                                std::to_string(expected_version));
    }
    auto live = list_rules_on(c);
    if (!live.ok()) return live.error();
    auto plan = plan_rule_set(*live, rules, now);
    if (!plan.ok()) return plan.error();
    if (plan->empty()) return plan->change(*version);
    const std::int64_t at = to_ms(now);
    for (const auto& old : plan->remove) {
      if (auto st = delete_rule_row(c, old.id); !st.ok()) return st.error();
      if (auto st = append_audit(c, actor, "delete", "rule", old.id, json::serialize(rule_to_json(old)), "null", at);
          !st.ok()) {
        return st.error();
      }
    }
    for (const auto& [old, stored] : plan->update) {
      if (auto st = write_rule(c, kUpdateRuleSql, stored); !st.ok()) return st.error();
      if (auto st = append_audit(c, actor, "update", "rule", stored.id, json::serialize(rule_to_json(old)),
                                 json::serialize(rule_to_json(stored)), at);
          !st.ok()) {
        return st.error();
      }
    }
    for (const auto& stored : plan->create) {
      if (auto st = write_rule(c, kInsertRuleSql, stored); !st.ok()) return st.error();
      if (auto st =
              append_audit(c, actor, "create", "rule", stored.id, "null", json::serialize(rule_to_json(stored)), at);
          !st.ok()) {
        return st.error();
      }
    }
    if (auto st = bump_counter(c, "rules_version"); !st.ok()) return st.error();
    return plan->change(*version + 1);
  });
}

// ==================================================================== lists

Task<Result<ListSummary>> SqliteDatabase::replace_list(const std::string& name, const std::vector<std::string>& entries,
                                                       const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kReplace, &entries, nullptr, actor);
}

Task<Result<ListSummary>> SqliteDatabase::add_list_entries(const std::string& name,
                                                           const std::vector<std::string>& entries,
                                                           const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kAdd, &entries, nullptr, actor);
}

Task<Result<ListSummary>> SqliteDatabase::remove_list_entry(const std::string& name, const std::string& value,
                                                            const std::string& actor) {
  co_return co_await impl_->change_list(name, ListOp::kRemove, nullptr, &value, actor);
}

Task<Result<std::optional<std::vector<std::string>>>> SqliteDatabase::list_entries(const std::string& name) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<std::vector<std::string>>> {
    ListSnapshot snap;
    if (auto st = read_list_snapshot(c, name, true, snap); !st.ok()) return st.error();
    if (!snap.exists) return std::optional<std::vector<std::string>>{};
    return std::optional<std::vector<std::string>>{std::move(snap.content)};
  });
}

namespace {

// Up to `want` entries of one generation in [from, to), > after, ascending.
Status read_generation_range(Connection& c, std::int64_t gen, const ListEntriesQuery& query,
                             const std::optional<std::string>& to, int want, std::vector<std::string>& out) {
  std::string sql = "SELECT value FROM list_values WHERE generation = ?1 AND value >= ?2";
  if (query.after) sql += " AND value > ?3";
  if (to) sql += " AND value < ?4";
  sql += " ORDER BY value LIMIT ?5";
  Query q(c, sql);
  q.bind(1, gen).bind(2, query.prefix).bind(5, static_cast<std::int64_t>(want));
  if (query.after) q.bind(3, *query.after);
  if (to) q.bind(4, *to);
  for (;;) {
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return Ok{};
    out.push_back(q.get_text(0));
  }
}

}  // namespace

Task<Result<std::optional<ListEntriesPage>>> SqliteDatabase::list_entries_page(const ListEntriesQuery& query) {
  if (!is_valid_utf8(query.prefix) || (query.after && !is_valid_utf8(*query.after))) {
    co_return make_error("internal", "a list page's prefix and cursor must be UTF-8");
  }
  const int limit = clamp_limit(query.limit);
  const std::optional<std::string> to = prefix_upper_bound(query.prefix);
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<ListEntriesPage>> {
    ReadTransaction txn(c);  // the list's row, its generations and their values: one snapshot
    if (!txn.status().ok()) return txn.status().error();
    ListSnapshot now;
    if (auto st = read_list_snapshot_in(c, query.name, false, now); !st.ok()) return st.error();
    if (!now.exists) return std::optional<ListEntriesPage>{};
    std::vector<std::string> merged;
    for (std::int64_t gen : now.live) {
      const auto middle = static_cast<std::ptrdiff_t>(merged.size());
      if (auto st = read_generation_range(c, gen, query, to, limit + 1, merged); !st.ok()) return st.error();
      // Each generation's rows are sorted; generations of one list are disjoint.
      std::inplace_merge(merged.begin(), merged.begin() + middle, merged.end());
    }
    ListEntriesPage page;
    page.total = now.summary.entry_count;
    page.more = static_cast<int>(merged.size()) > limit;
    if (page.more) merged.resize(static_cast<std::size_t>(limit));
    page.items = std::move(merged);
    return std::optional<ListEntriesPage>{std::move(page)};
  });
}

Task<Result<std::optional<ListSummary>>> SqliteDatabase::find_list(const std::string& name) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::optional<ListSummary>> {
    Query q(c, "SELECT name, entry_count, updated_at FROM lists WHERE name = ?");
    q.bind(1, name);
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<ListSummary>{};
    return std::optional<ListSummary>{ListSummary{q.get_text(0), q.get_int(1), from_ms(q.get_int(2))}};
  });
}

Task<Result<std::vector<ListSummary>>> SqliteDatabase::list_lists() {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::vector<ListSummary>> {
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

Task<Result<std::int64_t>> SqliteDatabase::lists_version() {
  co_return co_await impl_->read([&](Connection& c) { return read_counter(c, "lists_version"); });
}

// ==================================================================== audit

Task<Result<AuditPage>> SqliteDatabase::list_audit(const AuditQuery& query) {
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

  co_return co_await impl_->read([&](Connection& c) -> Result<AuditPage> {
    Query q(c, sql);
    bind_params(q, params);
    AuditPage page;
    std::size_t bytes = 0;
    bool more = false;
    for (;;) {
      auto row = q.step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      const std::size_t size = q.text_bytes(6) + q.text_bytes(7);
      if (static_cast<int>(page.items.size()) == limit || (!page.items.empty() && bytes + size > query.max_bytes)) {
        more = true;
        break;
      }
      bytes += size;
      AuditEntry e;
      e.id = q.get_int(0);
      e.at = from_ms(q.get_int(1));
      e.actor = q.get_text(2);
      e.action = q.get_text(3);
      e.object_type = q.get_text(4);
      e.object_id = q.get_text(5);
      e.before_json = q.get_text(6);
      e.after_json = q.get_text(7);
      page.items.push_back(std::move(e));
    }
    if (more) page.next_before_id = page.items.back().id;
    return page;
  });
}

namespace {
const char* count_column(DecisionField field) {
  switch (field) {
    case DecisionField::kCardFingerprint:
      return "card_fingerprint = ?1";
    case DecisionField::kCustomerId:
      return "customer_id = ?1";
    case DecisionField::kEmailLowerCase:
      return "lower(customer_email) = ?1";  // SQLite's lower() folds ASCII only, as the counters do
    case DecisionField::kIp:
      return "customer_ip = ?1";
    case DecisionField::kDeviceId:
      return "customer_device_id = ?1";
    case DecisionField::kMerchantId:
      return "merchant_id = ?1";
  }
  return nullptr;
}
}  // namespace

Task<Result<std::vector<DecisionCount>>> SqliteDatabase::count_decisions(std::span<const DecisionCountQuery> queries) {
  co_return co_await impl_->read([&](Connection& c) -> Result<std::vector<DecisionCount>> {
    std::vector<DecisionCount> out;
    out.reserve(queries.size());
    for (const auto& q : queries) {
      const char* where = count_column(q.field);
      if (where == nullptr) return make_error("internal", "unknown decision field");
      // Summed here, saturating: SQLite's sum() fails on int64 overflow.
      Query rows(c, std::string("SELECT amount, currency = ?3 FROM transactions WHERE ") + where +
                        " AND decided_at > ?2 AND decided_at < ?4");
      rows.bind(1, q.value)
          .bind(2, to_ms(q.after))
          .bind(3, q.currency)
          .bind(4, q.until ? to_ms(*q.until) : std::numeric_limits<std::int64_t>::max());
      DecisionCount count;
      for (;;) {
        auto row = rows.step();
        if (!row.ok()) return row.error();
        if (!*row) break;
        ++count.count;
        if (rows.get_int(1) == 0) continue;
        const std::int64_t amount = rows.get_int(0);
        count.amount = amount > std::numeric_limits<std::int64_t>::max() - count.amount
                           ? std::numeric_limits<std::int64_t>::max()
                           : count.amount + amount;
      }
      out.push_back(count);
    }
    return out;
  });
}

// ==================================================================== health

namespace {

// Decisions per (bucket, decision) of the window, on the decided_at index.
Status count_stats_buckets(Connection& c, const DecisionStatsQuery& query, DecisionStats& stats) {
  Query q(c,
          "SELECT (decided_at - ?1) / ?2, decision, count(*) FROM transactions "
          "WHERE decided_at >= ?1 AND decided_at < ?3 GROUP BY 1, 2");
  q.bind(1, to_ms(query.since)).bind(2, static_cast<std::int64_t>(query.bucket.count())).bind(3, to_ms(query.until));
  for (;;) {
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return Ok{};
    if (auto st = add_bucket_count(stats, q.get_int(0), q.get_text(1), q.get_int(2)); !st.ok()) return st;
  }
}

// Enforced rule reasons and shadow matches of the window's decisions, per rule.
Status count_stats_rules(Connection& c, const DecisionStatsQuery& query, DecisionStats& stats) {
  Query q(c,
          "SELECT json_extract(r.value, '$.rule_id'), 'enforce', count(*) FROM transactions t, json_each(t.reasons) r "
          "WHERE t.decided_at >= ?1 AND t.decided_at < ?2 AND t.reasons <> '[]' "
          "AND json_extract(r.value, '$.source') = 'rule' GROUP BY 1 "
          "UNION ALL "
          "SELECT json_extract(s.value, '$.rule_id'), 'shadow', count(*) FROM transactions t, "
          "json_each(t.shadow_matches) s "
          "WHERE t.decided_at >= ?1 AND t.decided_at < ?2 AND t.shadow_matches <> '[]' GROUP BY 1");
  q.bind(1, to_ms(query.since)).bind(2, to_ms(query.until));
  for (;;) {
    auto row = q.step();
    if (!row.ok()) return row.error();
    if (!*row) return Ok{};
    if (q.is_null(0)) return corrupt("transactions.reasons");
    stats.rules.push_back(DecisionStats::RuleMatches{q.get_text(0), q.get_text(1), q.get_int(2)});
  }
}

}  // namespace

Task<Result<DecisionStats>> SqliteDatabase::decision_stats(const DecisionStatsQuery& query) {
  co_return co_await impl_->read([&](Connection& c) -> Result<DecisionStats> {
    DecisionStats stats = empty_decision_stats(query);
    if (stats.buckets.empty()) return stats;
    ReadTransaction txn(c);
    if (!txn.status().ok()) return txn.status().error();
    if (auto st = count_stats_buckets(c, query, stats); !st.ok()) return st.error();
    if (auto st = count_stats_rules(c, query, stats); !st.ok()) return st.error();
    sort_rule_matches(stats);
    return stats;
  });
}

Task<Status> SqliteDatabase::ping() {
  co_return co_await impl_->read([&](Connection& c) -> Status {
    auto v = c.query_int("SELECT count(*) FROM sqlite_master");
    if (!v.ok()) return v.error();
    return Ok{};
  });
}

Task<Status> SqliteDatabase::probe_write() {
  co_return co_await impl_->write<Ok>([&](Connection& c) -> Status {
    Query q(
        c, "INSERT INTO meta (key, value) VALUES ('write_probe', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1");
    return q.run();
  });
}

DatabaseHealth::PoolStats SqliteDatabase::pool_stats() {
  auto s = impl_->readers->stats();
  return PoolStats{s.idle, s.in_use};
}

}  // namespace txv::store

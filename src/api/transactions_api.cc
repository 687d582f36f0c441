#include "api/transactions_api.h"

#include <charconv>

#include "api/mapping/canonical_json.h"
#include "api/mapping/error_json.h"
#include "api/mapping/transaction_json.h"
#include "api/mapping/transaction_request.h"
#include "api/responses.h"
#include "decide/decision_trace.h"
#include "domain/card_text.h"
#include "domain/time.h"
#include "http/router.h"
#include "store/record_json.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

namespace {

constexpr std::size_t kMaxBatch = 500;
constexpr int kMaxListLimit = 500;
constexpr std::size_t kMaxNoteLength = 1000;

}  // namespace

std::string encode_cursor(std::int64_t position) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  if (position <= 0) return "c0";
  std::string s;
  auto v = static_cast<std::uint64_t>(position);
  while (v > 0) {
    s.insert(s.begin(), kDigits[v % 36]);
    v /= 36;
  }
  return "c" + s;
}

std::optional<std::int64_t> decode_cursor(std::string_view cursor) {
  if (cursor.size() < 2 || cursor.size() > 14 || cursor[0] != 'c') return std::nullopt;
  std::int64_t v = 0;
  for (char c : cursor.substr(1)) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'z' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v * 36 + d;
  }
  return v;
}

std::optional<int> parse_page_limit(const std::string& value) {
  char* end = nullptr;
  long n = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 1 || n > kMaxListLimit) return std::nullopt;
  return static_cast<int>(n);
}

std::optional<std::int64_t> parse_amount_filter(const std::string& value) {
  constexpr std::int64_t kMaxAmount = 1'000'000'000'000'000;  // 10^15, the largest amount (contract section 3)
  std::int64_t n = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec != std::errc() || ptr != end || n < 0 || n > kMaxAmount) return std::nullopt;
  return n;
}

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i <= query.size()) {
    std::size_t amp = query.find('&', i);
    if (amp == std::string::npos) amp = query.size();
    std::string_view pair(query.data() + i, amp - i);
    if (!pair.empty()) {
      auto eq = pair.find('=');
      std::string key = http::percent_decode(pair.substr(0, eq), true);
      std::string value = eq == std::string_view::npos ? "" : http::percent_decode(pair.substr(eq + 1), true);
      out[key] = value;
    }
    i = amp + 1;
  }
  return out;
}

TransactionsApi::TransactionsApi(decide::DecisionPipeline& pipeline, store::TransactionStore& store,
                                 store::LabelStore& labels, store::TraceLayoutStore& trace_layouts,
                                 const decide::Fingerprinter& fingerprinter, metrics::Metrics& metrics)
    : pipeline_(pipeline),
      trace_layouts_(trace_layouts),
      store_(store),
      labels_(labels, store),
      fingerprinter_(fingerprinter),
      metrics_(metrics) {}

void TransactionsApi::register_routes(http::Router& router) {
  const auto deciders = allow({Role::kAdmin, Role::kValidator});
  const auto readers = allow({Role::kAdmin, Role::kAnalyst, Role::kValidator});
  const auto reviewers = allow({Role::kAdmin, Role::kAnalyst});
  router.add("POST", "/v1/transactions/validate", {deciders, kMaxValidateBody},
             [this](http::Request& r) { return validate(r); });
  router.add("POST", "/v1/transactions/validate-batch", {deciders, kMaxBatchBody},
             [this](http::Request& r) { return validate_batch(r); });
  router.add("GET", "/v1/transactions", {readers}, [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}", {readers},
             [this](http::Request& r) { return get_one(r); });
  router.add("POST", "/v1/transactions/{merchant_id}/{transaction_id}/resolution", {reviewers},
             [this](http::Request& r) { return resolve(r); });
  labels_.register_routes(router);
}

Task<Result<json::object>> TransactionsApi::decide_one(const Principal& principal, const json::value& body,
                                                       std::string_view field_prefix) {
  auto request = parse_transaction_request(body, field_prefix);
  if (!request.ok()) co_return Error(request.error());
  if (!in_merchant_scope(principal, request->merchant_id)) {
    co_return make_error("forbidden", "this API key may only validate for merchant " + *principal.merchant_id);
  }
  std::string digest = fingerprinter_.request_digest(canonical_json(body));
  auto decided = co_await pipeline_.decide(*request, digest);
  if (!decided.ok()) co_return Error(decided.error());
  if (!decided->replayed) {
    metrics_.count_decision(domain::to_string(decided->record.decision));
    for (const auto& reason : decided->record.reasons) {
      if (reason.source == "rule") metrics_.count_rule_match(reason.rule_id, "enforce");
    }
    for (const auto& m : decided->record.shadow_matches) metrics_.count_rule_match(m.rule_id, "shadow");
  }
  co_return render_decision(decided->record, decided->replayed);
}

Task<http::Response> TransactionsApi::validate(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto result = co_await decide_one(principal, *body, "");
  if (!result.ok()) co_return error_response(result.error());
  co_return json_response(200, *result);
}

Task<http::Response> TransactionsApi::validate_batch(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"transactions"}, issues);
  const json::value* items = obj->if_contains("transactions");
  if (items == nullptr) {
    issues.push_back({"transactions", "required"});
  } else if (!items->is_array()) {
    issues.push_back({"transactions", "invalid_type"});
  } else if (items->as_array().empty() || items->as_array().size() > kMaxBatch) {
    issues.push_back({"transactions", items->as_array().empty() ? "required" : "too_many"});
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "the batch is not valid", std::move(issues)));
  }

  json::array results;
  const auto& array = items->as_array();
  results.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto one = co_await decide_one(principal, array[i], "transactions[" + std::to_string(i) + "].");
    if (one.ok()) {
      results.emplace_back(std::move(one).value());
    } else {
      results.emplace_back(error_object(one.error()));
    }
  }
  co_return json_response(200, json::object{{"results", std::move(results)}});
}

Task<http::Response> TransactionsApi::get_one(http::Request& request) {
  const Principal& principal = principal_of(request);
  const std::string& merchant_id = request.path_params["merchant_id"];
  // ?include=trace adds the decision trace (contract section 10); nothing else is accepted.
  bool include_trace = false;
  std::vector<FieldIssue> issues;
  for (const auto& [key, value] : parse_query(request.query)) {
    if (key != "include") {
      issues.push_back({key, "unknown_field"});
    } else if (value == "trace") {
      include_trace = true;
    } else {
      issues.push_back({key, "invalid_value"});
    }
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "invalid query parameters", std::move(issues)));
  }
  // Another merchant's transaction is answered as absent, without a look-up.
  if (!in_merchant_scope(principal, merchant_id)) {
    co_return error_response(make_error("not_found", "no such transaction"));
  }
  auto found = co_await store_.find_decision(merchant_id, request.path_params["transaction_id"]);
  if (!found.ok()) co_return error_response(found.error());
  if (!found->has_value()) co_return error_response(make_error("not_found", "no such transaction"));
  auto label = co_await labels_.store().find_label(merchant_id, request.path_params["transaction_id"]);
  if (!label.ok()) co_return error_response(label.error());
  json::object out = render_record(**found);
  if (label->has_value()) out["label"] = store::label_to_json(**label);
  if (include_trace) {
    auto trace = co_await store_.find_trace(merchant_id, request.path_params["transaction_id"]);
    if (!trace.ok()) co_return error_response(trace.error());
    // A decision stored without one (traces off, or before they existed) has an empty trace.
    const std::string_view stored = trace->has_value() ? std::string_view(**trace) : std::string_view();
    std::string layout;
    if (auto layout_id = decide::stored_trace_layout(stored)) {
      auto found_layout = co_await trace_layouts_.find_trace_layout(*layout_id);
      if (!found_layout.ok()) co_return error_response(found_layout.error());
      if (found_layout->has_value()) layout = std::move(**found_layout);
    }
    auto expanded = decide::expand_decision_trace(stored, layout);
    if (!expanded.ok()) co_return error_response(expanded.error());
    out["trace"] = std::move(*expanded);
  }
  co_return json_response(200, out);
}

Task<http::Response> TransactionsApi::list(http::Request& request) {
  const Principal& principal = principal_of(request);

  using Order = store::TransactionQuery::Order;
  store::TransactionQuery q;
  std::optional<std::int64_t> cursor;
  std::vector<FieldIssue> issues;
  for (const auto& [key, value] : parse_query(request.query)) {
    if (key == "merchant_id") {
      q.merchant_id = value;
    } else if (key == "decision") {
      q.decision = domain::parse_decision(value);
      if (!q.decision) issues.push_back({key, "invalid_value"});
    } else if (key == "resolved") {
      if (value == "true" || value == "false") {
        q.resolved = value == "true";
      } else {
        issues.push_back({key, "invalid_value"});
      }
    } else if (key == "label") {
      if (value == "fraud") {
        q.label = store::TransactionQuery::LabelFilter::kFraud;
      } else if (value == "not_fraud") {
        q.label = store::TransactionQuery::LabelFilter::kNotFraud;
      } else if (value == "none") {
        q.label = store::TransactionQuery::LabelFilter::kNone;
      } else {
        issues.push_back({key, "invalid_value"});
      }
    } else if (key == "since" || key == "until") {
      auto t = domain::parse_rfc3339(value);
      if (!t) {
        issues.push_back({key, "invalid_format"});
      } else {
        (key == "since" ? q.since : q.until) = t;
      }
    } else if (key == "min_amount" || key == "max_amount") {
      auto amount = parse_amount_filter(value);
      if (!amount) issues.push_back({key, "invalid_value"});
      (key == "min_amount" ? q.min_amount : q.max_amount) = amount;
    } else if (key == "order") {
      if (value == "newest" || value == "oldest") {
        q.order = value == "oldest" ? Order::kOldestFirst : Order::kNewestFirst;
      } else {
        issues.push_back({key, "invalid_value"});
      }
    } else if (key == "limit") {
      auto limit = parse_page_limit(value);
      if (!limit) issues.push_back({key, "out_of_range"});
      q.limit = limit.value_or(q.limit);
    } else if (key == "cursor") {
      cursor = decode_cursor(value);
      if (!cursor) issues.push_back({key, "invalid_format"});
    } else {
      issues.push_back({key, "unknown_field"});
    }
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "invalid query parameters", std::move(issues)));
  }
  // The cursor is the last seq sent: the next page is below it (newest first) or above it (oldest first).
  (q.order == Order::kOldestFirst ? q.after_seq : q.before_seq) = cursor;
  if (principal.merchant_id) {
    if (q.merchant_id && !in_merchant_scope(principal, *q.merchant_id)) {
      co_return error_response(
          make_error("forbidden", "this API key may only read merchant " + *principal.merchant_id));
    }
    q.merchant_id = principal.merchant_id;
  }
  auto page = co_await store_.list_decisions(q);
  if (!page.ok()) co_return error_response(page.error());
  json::array items;
  for (std::size_t i = 0; i < page->items.size(); ++i) {
    json::object item = render_record(page->items[i]);
    if (i < page->labels.size() && page->labels[i]) item["label"] = store::label_to_json(*page->labels[i]);
    items.emplace_back(std::move(item));
  }
  json::object out{{"items", std::move(items)}};
  const auto& next = q.order == Order::kOldestFirst ? page->next_after_seq : page->next_before_seq;
  out["next_cursor"] = next ? json::value(encode_cursor(*next)) : json::value(nullptr);
  co_return json_response(200, out);
}

Task<http::Response> TransactionsApi::resolve(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  domain::Resolution resolution;
  for (const auto& kv : *obj) {
    if (kv.key() == "decision") {
      auto d = kv.value().is_string() ? domain::parse_decision(kv.value().as_string()) : std::nullopt;
      if (!d || *d == domain::Decision::kReview) {
        issues.push_back({"decision", "invalid_value"});
      } else {
        resolution.decision = *d;
      }
    } else if (kv.key() == "note") {
      if (!kv.value().is_string()) {
        issues.push_back({"note", "invalid_type"});
      } else if (kv.value().as_string().size() > kMaxNoteLength) {
        issues.push_back({"note", "too_long"});
      } else if (domain::looks_like_card_number(kv.value().as_string())) {
        issues.push_back({"note", "looks_like_card_number"});
      } else {
        resolution.note = std::string(kv.value().as_string());
      }
    } else {
      issues.push_back({std::string(kv.key()), "unknown_field"});
    }
  }
  if (obj->if_contains("decision") == nullptr) issues.push_back({"decision", "required"});
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "the resolution is not valid", std::move(issues)));
  }
  // A key scoped to a merchant resolves only that merchant's reviews; others are absent to it.
  if (!in_merchant_scope(principal, request.path_params["merchant_id"])) {
    co_return error_response(make_error("not_found", "no such transaction"));
  }
  resolution.by = principal.name;
  resolution.at = domain::now_millis();
  auto resolved = co_await store_.resolve_review(request.path_params["merchant_id"],
                                                 request.path_params["transaction_id"], resolution);
  if (!resolved.ok()) co_return error_response(resolved.error());
  co_return json_response(200, render_record(*resolved));
}

}  // namespace txv::api

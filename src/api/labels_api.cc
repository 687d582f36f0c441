#include "api/labels_api.h"

#include "api/mapping/error_json.h"
#include "api/mapping/label_request.h"
#include "api/responses.h"
#include "api/transactions_api.h"
#include "domain/time.h"
#include "store/record_json.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

void LabelsApi::register_routes(http::Router& router) {
  const auto labellers = allow({Role::kAdmin, Role::kAnalyst});
  router.add("POST", "/v1/transactions/{merchant_id}/{transaction_id}/labels", {labellers},
             [this](http::Request& r) { return add(r); });
  router.add("POST", "/v1/labels/batch", {labellers, kMaxBatchBody}, [this](http::Request& r) { return add_batch(r); });
  router.add("GET", "/v1/transactions/{merchant_id}/{transaction_id}/labels", {labellers},
             [this](http::Request& r) { return history(r); });
}

Task<http::Response> LabelsApi::history(http::Request& request) {
  const Principal& principal = principal_of(request);
  std::vector<FieldIssue> issues;  // no query parameter is known
  for (const auto& kv : parse_query(request.query)) issues.push_back({kv.first, "unknown_field"});
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "invalid query parameters", std::move(issues)));
  }
  const std::string& merchant_id = request.path_params["merchant_id"];
  const std::string& transaction_id = request.path_params["transaction_id"];
  // A key scoped to a merchant reads only that merchant's labels; others are absent to it.
  if (!in_merchant_scope(principal, merchant_id)) {
    co_return error_response(make_error("not_found", "no such transaction"));
  }
  auto found = co_await transactions_.find_decision(merchant_id, transaction_id);
  if (!found.ok()) co_return error_response(found.error());
  if (!found->has_value()) co_return error_response(make_error("not_found", "no such transaction"));
  auto labels = co_await labels_.label_history(merchant_id, transaction_id);
  if (!labels.ok()) co_return error_response(labels.error());
  json::array items;
  items.reserve(labels->size());
  for (const auto& label : *labels) items.emplace_back(store::label_to_json(label, /*ids=*/true));
  co_return json_response(200, json::object{{"items", std::move(items)}});
}

Task<http::Response> LabelsApi::add(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto label = parse_label_request(*body, "", /*with_ids=*/false, domain::now_millis());
  if (!label.ok()) co_return error_response(label.error());
  const std::string& merchant_id = request.path_params["merchant_id"];
  // A key scoped to a merchant labels only that merchant's transactions; others are absent to it.
  if (!in_merchant_scope(principal, merchant_id)) {
    co_return error_response(make_error("not_found", "no such transaction"));
  }
  label->merchant_id = merchant_id;
  label->transaction_id = request.path_params["transaction_id"];
  label->by = principal.name;
  auto stored = co_await labels_.add_label(*label);
  if (!stored.ok()) {
    if (stored.error().code == ErrorCode::kNotFound) {
      co_return error_response(make_error("not_found", "no such transaction"));
    }
    co_return error_response(stored.error());
  }
  co_return json_response(201, store::label_to_json(*stored, /*ids=*/true));
}

Task<http::Response> LabelsApi::add_batch(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"labels"}, issues);
  const json::value* items = obj->if_contains("labels");
  if (items == nullptr || items->is_null()) {
    issues.push_back({"labels", "required"});
  } else if (!items->is_array()) {
    issues.push_back({"labels", "invalid_type"});
  } else if (items->as_array().empty()) {
    issues.push_back({"labels", "required"});
  } else if (items->as_array().size() > store::LabelStore::kMaxBatch) {
    issues.push_back({"labels", "too_many"});
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "the batch is not valid", std::move(issues)));
  }

  const auto& array = items->as_array();
  const auto now = domain::now_millis();
  std::vector<json::value> results(array.size());
  std::vector<store::Label> accepted;
  std::vector<std::size_t> positions;  // accepted[i] is item positions[i]
  accepted.reserve(array.size());
  positions.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    auto label = parse_label_request(array[i], "labels[" + std::to_string(i) + "]", /*with_ids=*/true, now);
    if (!label.ok()) {
      results[i] = error_object(label.error());
      continue;
    }
    if (!in_merchant_scope(principal, label->merchant_id)) {
      results[i] = error_object(make_error("not_found", "no such transaction"));
      continue;
    }
    label->by = principal.name;
    accepted.push_back(std::move(*label));
    positions.push_back(i);
  }
  if (!accepted.empty()) {
    auto outcomes = co_await labels_.add_labels(accepted);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      const Status& st = k < outcomes.size() ? outcomes[k] : Status(make_error("internal", "no outcome"));
      if (st.ok()) {
        results[positions[k]] = json::object{{"ok", true}};
      } else if (st.error().code == ErrorCode::kNotFound) {
        results[positions[k]] = error_object(make_error("not_found", "no such transaction"));
      } else {
        results[positions[k]] = error_object(st.error());
      }
    }
  }
  json::array out;
  out.reserve(results.size());
  for (auto& r : results) out.emplace_back(std::move(r));
  co_return json_response(200, json::object{{"results", std::move(out)}});
}

}  // namespace txv::api

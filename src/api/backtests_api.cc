#include "api/backtests_api.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/access.h"
#include "api/responses.h"
#include "api/rule_body.h"
#include "domain/identifiers.h"
#include "domain/time.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

namespace {

json::object job_json(const decide::BacktestJob& j, bool with_result) {
  json::object o{{"id", j.id},
                 {"status", decide::to_string(j.status)},
                 {"progress", j.progress},
                 {"transactions", j.transactions},
                 {"since", domain::format_rfc3339(j.since)},
                 {"until", domain::format_rfc3339(j.until)},
                 {"merchant_id", j.merchant_id ? json::value(*j.merchant_id) : json::value(nullptr)},
                 {"by", j.by},
                 {"created_at", domain::format_rfc3339(j.created_at)},
                 {"finished_at", j.finished_at ? json::value(domain::format_rfc3339(*j.finished_at)) : nullptr}};
  if (j.status == decide::BacktestStatus::kFailed) o["error"] = j.error;
  if (with_result && j.result_json) {
    boost::system::error_code ec;
    json::value result = json::parse(*j.result_json, ec);
    if (!ec) o["result"] = std::move(result);  // stored by this program: always parses
  }
  return o;
}

// Prefixes every detail's field with "rules[i].".
Error in_rule(Error e, std::size_t i) {
  for (auto& d : e.details) d.field = "rules[" + std::to_string(i) + "]." + d.field;
  return e;
}

bool visible_to(const Principal& p, const decide::BacktestJob& j) {
  return !p.merchant_id || (j.merchant_id && in_merchant_scope(p, *j.merchant_id));
}

}  // namespace

BacktestsApi::BacktestsApi(store::RuleStore& rules, decide::BacktestJobs& jobs) : rules_(rules), jobs_(jobs) {}

void BacktestsApi::register_routes(http::Router& router) {
  const auto readers = allow({Role::kAdmin, Role::kAnalyst});
  router.add("POST", "/v1/backtests", http::RouteOptions{readers, kMaxBody},
             [this](http::Request& r) { return start(r); });
  router.add("GET", "/v1/backtests", {readers}, [this](http::Request& r) { return list(r); });
  router.add("GET", "/v1/backtests/{id}", {readers}, [this](http::Request& r) { return get(r); });
  router.add("DELETE", "/v1/backtests/{id}", {readers}, [this](http::Request& r) { return cancel(r); });
}

Task<http::Response> BacktestsApi::start(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"rules", "since", "until", "merchant_id", "replace_all"}, issues);
  decide::BacktestRequest req;
  auto time_field = [&](const char* name, domain::TimePoint& out) {
    const json::value* v = obj->if_contains(name);
    if (v == nullptr) {
      issues.push_back({name, "required"});
    } else if (!v->is_string()) {
      issues.push_back({name, "invalid_type"});
    } else if (auto t = domain::parse_rfc3339(v->as_string()); !t) {
      issues.push_back({name, "invalid_format"});
    } else {
      out = *t;
    }
  };
  time_field("since", req.since);
  time_field("until", req.until);
  if (req.since != domain::TimePoint{} && req.until != domain::TimePoint{}) {
    if (req.until <= req.since) {
      issues.push_back({"until", "must_be_after_since"});
    } else if (req.until - req.since > kMaxRange) {
      issues.push_back({"until", "range_too_long"});
    }
  }
  if (const json::value* m = obj->if_contains("merchant_id")) {
    if (!m->is_string()) {
      issues.push_back({"merchant_id", "invalid_type"});
    } else if (!domain::is_valid_id(m->as_string())) {
      issues.push_back({"merchant_id", "invalid_format"});
    } else {
      req.merchant_id = std::string(m->as_string());
    }
  }
  bool replace_all = false;
  if (const json::value* r = obj->if_contains("replace_all")) {
    if (!r->is_bool()) {
      issues.push_back({"replace_all", "invalid_type"});
    } else {
      replace_all = r->as_bool();
    }
  }
  const json::value* rules_value = obj->if_contains("rules");
  if (rules_value == nullptr) {
    issues.push_back({"rules", "required"});
  } else if (!rules_value->is_array()) {
    issues.push_back({"rules", "invalid_type"});
  } else if (rules_value->as_array().size() > kMaxRules) {
    issues.push_back({"rules", "too_many"});
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "the backtest is not valid", std::move(issues)));
  }
  if (principal.merchant_id) {
    if (req.merchant_id && !in_merchant_scope(principal, *req.merchant_id)) {
      co_return error_response(
          make_error("forbidden", "this API key may only backtest merchant " + *principal.merchant_id));
    }
    req.merchant_id = principal.merchant_id;
  }

  auto live = co_await rules_.list_rules();
  if (!live.ok()) co_return error_response(live.error());
  std::set<std::string> named;
  std::vector<store::RuleRecord> given;
  const json::array& items = rules_value->as_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    store::RuleRecord rule;
    if (auto s = parse_rule_body(items[i], rule, true); !s.ok()) co_return error_response(in_rule(s.error(), i));
    if (!rule.id.empty()) {
      const bool known = std::any_of(live->begin(), live->end(), [&](const auto& r) { return r.id == rule.id; });
      if (!known) {
        co_return error_response(make_error("validation_failed",
                                            "rule id " + rule.id + " names no live rule (leave it out for a new rule)",
                                            {{"rules[" + std::to_string(i) + "].id", "unknown_rule"}}));
      }
      if (!named.insert(rule.id).second) {
        co_return error_response(make_error("validation_failed", "rule id " + rule.id + " is given twice",
                                            {{"rules[" + std::to_string(i) + "].id", "duplicate"}}));
      }
    }
    given.push_back(std::move(rule));
  }
  req.live = *live;
  if (!replace_all) {
    for (const auto& r : *live) {
      if (!named.contains(r.id)) req.proposed.push_back(r);
    }
  }
  for (auto& r : given) req.proposed.push_back(std::move(r));

  auto job = co_await jobs_.start(std::move(req), principal.name);
  if (!job.ok()) co_return error_response(job.error());
  co_return json_response(202, job_json(*job, false));
}

Task<http::Response> BacktestsApi::get(http::Request& request) {
  auto job = co_await jobs_.get(request.path_params["id"]);
  if (!job.ok()) co_return error_response(job.error());
  if (!*job || !visible_to(principal_of(request), **job)) {
    co_return error_response(make_error("not_found", "no such backtest"));
  }
  co_return json_response(200, job_json(**job, true));
}

Task<http::Response> BacktestsApi::list(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto jobs = co_await jobs_.list(kListLimit);
  if (!jobs.ok()) co_return error_response(jobs.error());
  json::array items;
  for (const auto& j : *jobs) {
    if (visible_to(principal, j)) items.emplace_back(job_json(j, false));
  }
  co_return json_response(200, json::object{{"items", std::move(items)}});
}

Task<http::Response> BacktestsApi::cancel(http::Request& request) {
  const std::string id = request.path_params["id"];
  auto job = co_await jobs_.get(id);
  if (!job.ok()) co_return error_response(job.error());
  if (!*job || !visible_to(principal_of(request), **job)) {
    co_return error_response(make_error("not_found", "no such backtest"));
  }
  auto cancelled = co_await jobs_.cancel(id);
  if (!cancelled.ok()) co_return error_response(cancelled.error());
  co_return json_response(200, job_json(*cancelled, false));
}

}  // namespace txv::api

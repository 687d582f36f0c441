#include "api/sessions_api.h"

#include "api/responses.h"
#include "domain/time.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

void SessionsApi::register_routes(http::Router& router) {
  const auto console_users = allow({Role::kAdmin, Role::kAnalyst});
  router.add("POST", "/v1/sessions", {0, kMaxSignInBody}, [this](http::Request& r) { return sign_in(r); });
  router.add("GET", "/v1/sessions/current", {console_users}, [this](http::Request& r) { return current(r); });
  router.add("DELETE", "/v1/sessions/current", {console_users}, [this](http::Request& r) { return sign_out(r); });
}

Task<http::Response> SessionsApi::sign_in(http::Request& request) {
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  std::vector<FieldIssue> issues;
  add_unknown_fields(**object, {"api_key"}, issues);
  const json::value* key = (*object)->if_contains("api_key");
  if (key == nullptr || key->is_null()) {
    issues.push_back({"api_key", "required"});
  } else if (!key->is_string()) {
    issues.push_back({"api_key", "invalid_type"});
  }
  if (!issues.empty()) {
    co_return error_response(make_error("validation_failed", "the sign-in is not valid", std::move(issues)));
  }
  auto started = co_await sessions_.start(std::string_view(key->as_string()));
  if (!started.ok()) co_return error_response(started.error());
  json::object out;
  out["csrf_token"] = started->csrf_token;
  out["role"] = store::to_string(started->role);
  out["expires_at"] = domain::format_rfc3339(started->expires_at);
  auto response = json_response(201, out);
  response.headers.emplace_back("Set-Cookie", sessions_.cookie(*started));
  response.headers.emplace_back("Cache-Control", "no-store");
  co_return response;
}

Task<http::Response> SessionsApi::current(http::Request& request) {
  const Principal& principal = principal_of(request);
  if (!principal.session) {
    co_return error_response(make_error("not_found", "this request was not made with a session"));
  }
  json::object out;
  out["csrf_token"] = principal.session->csrf_token;
  out["role"] = store::to_string(principal.role);
  out["name"] = principal.name;
  out["merchant_id"] = principal.merchant_id ? json::value(*principal.merchant_id) : json::value(nullptr);
  out["expires_at"] = domain::format_rfc3339(principal.session->expires_at);
  auto response = json_response(200, out);
  response.headers.emplace_back("Cache-Control", "no-store");
  co_return response;
}

Task<http::Response> SessionsApi::sign_out(http::Request& request) {
  const Principal& principal = principal_of(request);
  if (!principal.session) {
    co_return error_response(make_error("not_found", "this request was not made with a session"));
  }
  if (auto s = co_await sessions_.end(*principal.session); !s.ok()) co_return error_response(s.error());
  http::Response response;
  response.status = 204;
  response.headers.emplace_back("Set-Cookie", sessions_.expired_cookie());
  co_return response;
}

}  // namespace txv::api

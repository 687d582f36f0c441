#include "api/responses.h"

#include <unordered_map>

#include "api/mapping/error_json.h"

namespace txv::api {

int status_for(const std::string& code) {
  static const std::unordered_map<std::string, int> kStatus = {
      {"malformed_json", 400},
      {"malformed_request", 400},
      {"unauthorized", 401},
      {"forbidden", 403},
      {"not_found", 404},
      {"method_not_allowed", 405},
      {"idempotency_conflict", 409},
      {"not_reviewable", 409},
      {"conflict", 409},
      {"payload_too_large", 413},
      {"unsupported_media_type", 415},
      {"validation_failed", 422},
      {"invalid_expression", 422},
      {"rate_limited", 429},
      {"unavailable", 503},
      {"internal", 500},
  };
  auto it = kStatus.find(code);
  return it == kStatus.end() ? 500 : it->second;
}

http::Response json_response(int status, const boost::json::value& body) {
  http::Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

http::Response error_response(int status, const Error& error) {
  http::Response r;
  r.status = status;
  r.body = render_error(error);
  return r;
}

http::Response error_response(const Error& error) { return error_response(status_for(error.code), error); }

Result<boost::json::value> parse_json_body(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return make_error("malformed_json", "the request body is not valid JSON");
  return v;
}

}  // namespace txv::api

#include "api/responses.h"

#include <algorithm>

#include "api/mapping/error_json.h"
#include "api/mapping/json_body.h"
#include "common/text.h"

namespace txv::api {

int status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformedJson:
    case ErrorCode::kMalformedRequest:
      return 400;
    case ErrorCode::kUnauthorized:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kIdempotencyConflict:
    case ErrorCode::kNotReviewable:
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kVersionMismatch:
      return 412;
    case ErrorCode::kPayloadTooLarge:
      return 413;
    case ErrorCode::kUnsupportedMediaType:
      return 415;
    case ErrorCode::kValidationFailed:
    case ErrorCode::kInvalidExpression:
      return 422;
    case ErrorCode::kPreconditionRequired:
      return 428;
    case ErrorCode::kRateLimited:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
    // Start-up and command-line codes never reach a response; if one did, it is our bug.
    case ErrorCode::kInvalidConfiguration:
    case ErrorCode::kUsage:
      return 500;
  }
  return 500;
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

Result<boost::json::value> parse_json_body(const std::string& body) { return parse_json_strict(body); }

Result<const boost::json::object*> json_object_body(const boost::json::value& body) {
  const boost::json::object* obj = body.if_object();
  if (obj == nullptr) {
    return make_error("validation_failed", "the body must be a JSON object", {{"body", "invalid_type"}});
  }
  return obj;
}

void add_unknown_fields(const boost::json::object& obj, std::initializer_list<std::string_view> known,
                        std::vector<FieldIssue>& issues) {
  for (const auto& kv : obj) {
    if (std::find(known.begin(), known.end(), std::string_view(kv.key())) == known.end()) {
      issues.push_back({mask_long_digit_runs(kv.key()), "unknown_field"});
    }
  }
}

}  // namespace txv::api

// Building HTTP responses in the contract's shapes: JSON bodies, the one error
// shape, and the status of each error code.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "common/result.h"
#include "http/message.h"

namespace txv::api {

// The one mapping of error codes to HTTP status: validation_failed 422,
// unauthorized 401, forbidden 403, not_found 404, idempotency_conflict /
// not_reviewable / conflict 409, rate_limited 429, malformed_json 400,
// unavailable 503, ... (an exhaustive switch: a new code without a status
// does not compile).
int status_for(ErrorCode code);

http::Response json_response(int status, const boost::json::value& body);
http::Response error_response(const Error& error);              // status from the code
http::Response error_response(int status, const Error& error);  // explicit status

// Parses a request body as JSON (mapping/json_body.h: one pass, an object with
// a repeated key is malformed). Errors: malformed_json (400) for text that is
// not JSON, is empty or repeats a key; the message never echoes the body.
Result<boost::json::value> parse_json_body(const std::string& body);

}  // namespace txv::api

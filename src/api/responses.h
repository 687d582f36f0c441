// Building HTTP responses in the contract's shapes: JSON bodies, the one error
// shape, and the status of each error code.
#pragma once

#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

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

// A body that must be a JSON object: the object, or validation_failed with
// {"body", "invalid_type"}. The returned pointer refers into `body`.
Result<const boost::json::object*> json_object_body(const boost::json::value& body);

// Appends an {key, "unknown_field"} issue for each key of `obj` not in `known`,
// the key masked as card numbers are (common/text.h), so a card number sent as
// a key is never echoed.
void add_unknown_fields(const boost::json::object& obj, std::initializer_list<std::string_view> known,
                        std::vector<FieldIssue>& issues);

}  // namespace txv::api

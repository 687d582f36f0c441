// Parsing a request body as JSON, strictly: one pass that builds the value and
// refuses an object with the same key twice (contract section 2: two
// components must never read two different values of one field).
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "common/result.h"

namespace txv::api {

// Errors: malformed_json for text that is not one JSON value, is empty, nests
// deeper than 64 levels, or has an object with a repeated key (the message
// names the key only as "a repeated key": it may be anything a client sent).
Result<boost::json::value> parse_json_strict(std::string_view text);

}  // namespace txv::api

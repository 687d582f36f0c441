// The rule body of POST/PUT /v1/rules (contract section 5), also the items of
// a backtest's proposed set (section 11): one parser, one set of checks.
#pragma once

#include <boost/json.hpp>

#include "common/result.h"
#include "store/records.h"

namespace txv::api {

// Parses and validates a rule object. On success fills `rule` (its id is left
// as it was unless the body gives one and `id_allowed`; a different id with
// !id_allowed is refused). Errors: validation_failed with every field issue
// in details, or invalid_expression (details: {"expression", message}) when
// only the expression is wrong.
Status parse_rule_body(const boost::json::value& body, store::RuleRecord& rule, bool id_allowed);

}  // namespace txv::api

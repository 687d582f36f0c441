// The stored form of a decision trace (contract section 10), and its expansion
// into the contract's shape.
//
// Stored (compact, written once per decision by the rule engine):
//   {"f":1,"r":[[RULE_ID,RULE_VERSION,MODE,RESULT,[X,…]],…],"x":[[EXPR,VALUE],…]}
// MODE "e" (enforce) or "s" (shadow); RESULT "m" (match), "n" (no_match) or
// "a" (absent); each X indexes "x", the decision's distinct traced values
// (one expression has one value within a decision, so rules reading the same
// field or velocity share one entry). This keeps a 20-rule trace near 1 KB
// instead of the ~2.8 KB of the expanded form.
//
// Expanded (GET …?include=trace):
//   [{"rule_id","rule_version","mode","result","values":[{"expr","value"},…]},…]
#pragma once

#include <boost/json/array.hpp>
#include <string_view>

#include "common/result.h"

namespace txv::decide {

// The contract's trace array for a stored trace; "internal" when it does not
// decode. An empty `stored` is an empty array.
Result<boost::json::array> expand_decision_trace(std::string_view stored);

}  // namespace txv::decide

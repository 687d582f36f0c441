// The stored forms of a decision trace (contract section 10), and their
// expansion into the contract's shape.
//
// A compiled rule set's traces share a layout, stored once (in
// store::TraceLayoutStore, under trace_layout_id(layout)) rather than with
// every decision:
//   {"r":[[RULE_ID,RULE_VERSION,MODE,[X,…]],…],"x":[EXPR,…]}
// MODE "e" (enforce) or "s" (shadow); "r" lists the rules in evaluation order,
// each with the traced expressions it reads (indexes in "x", the set's distinct
// traced expressions, as normalised source text).
//
// Stored with each decision that refers to a layout ("f":2), about a quarter
// of the self-contained form:
//   {"f":2,"l":LAYOUT_ID,"r":"mna…","u":[[RULE,[P,…]],…],"v":[[X,VALUE],…]}
// "r": one result per rule of the layout, "m" (match), "n" (no_match) or "a"
// (absent); "v": each distinct value the decision read, by its index in the
// layout's "x" (null = absent); "u" (only when needed): for a rule that did
// not read every expression of its list (a short-circuit), the positions in
// that list it did read.
//
// Self-contained ("f":1), written when no layout could be stored:
//   {"f":1,"r":[[RULE_ID,RULE_VERSION,MODE,RESULT,[X,…]],…],"x":[[EXPR,VALUE],…]}
//
// Expanded (GET …?include=trace):
//   [{"rule_id","rule_version","mode","result","values":[{"expr","value"},…]},…]
#pragma once

#include <boost/json/array.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace txv::decide {

// A layout's id: the first 16 hex digits of its SHA-256.
std::string trace_layout_id(std::string_view layout);

// The layout id a stored trace refers to; nullopt for a self-contained (or empty) one.
std::optional<std::string> stored_trace_layout(std::string_view stored);

// The contract's trace array for a stored trace; `layout` is the text of the
// layout it refers to (ignored for a self-contained one). "internal" when it
// does not decode, or does not fit the layout. An empty `stored` is an empty array.
Result<boost::json::array> expand_decision_trace(std::string_view stored, std::string_view layout = {});

}  // namespace txv::decide

// Checker: annotates a parsed AST with types, resolves every name at compile
// time (fields to Field, metadata keys / list names / velocity references to
// local slots) and rejects everything that could fail at evaluation time for a
// reason other than absent data or arithmetic (overflow, division by zero).
// Internal to txv_rules.
//
// Typing rules (see docs/rules-language.md for the full table):
//  - scalars are int, string and bool; the whole expression must be bool;
//  - == and != need two scalars of the same type; < <= > >= two ints or two strings;
//  - + - * / % and unary - need ints; ! && || need bools;
//  - `x in [..]` needs a list literal whose elements have x's type (or []);
//    `x in list('NAME')` needs a string x;
//  - list literals appear only on the right of `in` or as the argument of size();
//    list('NAME') only on the right of `in`; velocity(..) only before .count / .amount.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ast.h"
#include "rules/error.h"
#include "rules/fields.h"

namespace txv::rules::internal {

// Everything an expression reads besides literals, each distinct reference
// once; the position in a vector is the reference's local slot.
struct References {
  std::vector<std::string> list_names;
  std::vector<VelocitySpec> velocities;
  std::vector<std::string> metadata_keys;
  std::uint32_t field_mask = 0;  // bit i set: Field(i) is read
};

struct CheckResult {
  References refs;
  std::optional<CompileError> error;  // the first type error
};

CheckResult check(Node& root, std::string_view src);

}  // namespace txv::rules::internal

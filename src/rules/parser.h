// Parser: expression text -> untyped AST, by precedence climbing with CEL's
// precedence (lowest first):
//
//   ||            left, flattened into one n-ary node
//   &&            left, flattened into one n-ary node
//   == != < <= > >= in   left
//   + -           left
//   * / %         left
//   ! - (unary)   right
//   .name  .name(args)  [index]   postfix
//
// A unary minus directly applied to an integer literal is folded into the
// literal (so -9223372036854775808 is valid). Internal to txv_rules.
#pragma once

#include <optional>
#include <string_view>

#include "rules/ast.h"
#include "rules/error.h"

namespace txv::rules::internal {

struct ParseResult {
  NodePtr root;                       // set when error is empty
  std::optional<CompileError> error;  // the first syntax error
};

// `src` must be valid UTF-8. Never throws on bad input (only std::bad_alloc).
ParseResult parse(std::string_view src);

}  // namespace txv::rules::internal

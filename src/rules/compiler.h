// Compiler: checked AST -> Program (bytecode). Internal to txv_rules.
//
// Code shape:
//  - operands are evaluated left to right, each leaving one value on the stack;
//  - a && b && c: [a] jump_if_false END [b] and jump_if_false END [c] and END:
//    (|| likewise with jump_if_true / or), so a present false (true) left
//    operand short-circuits, and an absent one still lets a later false (true)
//    decide, as in CEL;
//  - `x in [constants]` becomes one set look-up; `x in [other]` a
//    dyn_in_start / dyn_in_step... / dyn_in_end sequence; `x in list('N')` in_list.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "rules/ast.h"
#include "rules/checker.h"
#include "rules/error.h"
#include "rules/program.h"

namespace txv::rules::internal {

struct CompileOutput {
  std::shared_ptr<const Program> program;  // set when error is empty
  std::optional<CompileError> error;       // only "too complex" (stack bound)
};

CompileOutput compile_program(const Node& root, References refs, std::string_view src);

}  // namespace txv::rules::internal

// The rule expression language (API contract section 5; full reference in
// docs/rules-language.md): compile one expression, evaluate it.
//
//   auto r = txv::rules::compile("amount > 10000 && card.bin in list('risky_bins')");
//   if (!r.ok()) return reject(r.error().column, r.error().message);
//   bool hit = r.value().matches(activation);
//
// Pipeline: lexer -> parser (AST) -> checker (types, names resolved to ids and
// slots) -> compiler (flat bytecode) -> evaluator (a small stack machine).
//
// Errors. compile() never throws for any input (only std::bad_alloc): a
// mistake in the expression is returned as a CompileError with a 1-based
// column and a message a person can act on. Everything that can be wrong with
// an expression is found here; evaluation cannot raise a type error.
//
// Absent values and arithmetic errors. Evaluation works in three-valued logic
// (as CEL does with errors). Any subexpression may be ABSENT:
//  - reading a field, metadata key or velocity the Activation reports as
//    absent (nullopt) gives ABSENT;
//  - int arithmetic is 64-bit and checked: an overflow (including -INT64_MIN
//    and INT64_MIN / -1), or a division or modulo by zero, gives ABSENT
//    (never undefined behaviour). x % -1 is 0. Division truncates toward
//    zero; the sign of x % y is the sign of x;
//  - an operator, comparison, method, size() or `in` with an ABSENT operand
//    gives ABSENT (for `x in [e1, e2]`: true if a present element equals a
//    present x, otherwise ABSENT if x or any element is ABSENT);
//  - `!ABSENT` is ABSENT (so negating cannot turn "absent" into a match);
//  - && and || absorb it where the other side decides: false && ABSENT is
//    false, true || ABSENT is true (in either order); true && ABSENT and
//    false || ABSENT are ABSENT;
//  - at the top, ABSENT means "no match" (Outcome::kAbsent).
// Consequence: a rule never matches because of an absent value; if it
// matches, it would match whatever the absent values were.
//
// Thread-safety and lifetime. A CompiledExpression is an immutable value
// (cheap to copy: it shares its compiled program); evaluate() is const,
// allocation-free and safe to call from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "rules/activation.h"
#include "rules/error.h"
#include "rules/fields.h"
#include "rules/trace.h"

namespace txv::rules {

namespace internal {
struct Program;
}

// Longest accepted expression text, in bytes.
inline constexpr std::size_t kMaxExpressionBytes = std::size_t{64} * 1024;

class CompileResult;
CompileResult compile(std::string_view source);

class CompiledExpression {
 public:
  // An empty expression that never matches; compile() produces real ones.
  CompiledExpression() = default;

  // Evaluates with this expression's own slot numbering (list_names(),
  // velocities(), metadata_keys() give slot i at index i).
  Outcome evaluate(const Activation& activation) const;
  bool matches(const Activation& activation) const { return evaluate(activation) == Outcome::kTrue; }
  // Evaluates and records what the expression saw (see RuleSet::evaluate_traced);
  // `trace` must have trace_exprs().size() elements.
  Outcome evaluate_traced(const Activation& activation, std::span<TraceValue> trace) const;
  // The distinct traced sub-expressions, in source order (empty for an empty expression).
  const std::vector<std::string>& trace_exprs() const;

  const std::string& source() const;
  const std::vector<std::string>& list_names() const;
  const std::vector<VelocitySpec>& velocities() const;
  const std::vector<std::string>& metadata_keys() const;
  bool reads_field(Field field) const;
  // The bytecode, one instruction per line (debugging aid).
  std::string disassemble() const;

 private:
  friend class RuleSet;
  friend CompileResult compile(std::string_view source);
  explicit CompiledExpression(std::shared_ptr<const internal::Program> p) : program_(std::move(p)) {}

  std::shared_ptr<const internal::Program> program_;
};

// Either a CompiledExpression or a CompileError. Accessing the wrong
// alternative is a programming error (std::get semantics).
class [[nodiscard]] CompileResult {
 public:
  CompileResult(CompiledExpression e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  CompileResult(CompileError e) : v_(std::move(e)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const CompiledExpression& value() const& { return std::get<0>(v_); }
  CompiledExpression&& value() && { return std::get<0>(std::move(v_)); }
  const CompileError& error() const { return std::get<1>(v_); }

 private:
  std::variant<CompiledExpression, CompileError> v_;
};

// Compiles one expression. Thread-safe (no shared state).
CompileResult compile(std::string_view source);

}  // namespace txv::rules

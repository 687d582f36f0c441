#include "rules/expression.h"

#include <algorithm>

#include "rules/checker.h"
#include "rules/compiler.h"
#include "rules/diagnostics.h"
#include "rules/parser.h"
#include "rules/program.h"

namespace txv::rules {
namespace {

const std::string kEmptyString;
const std::vector<std::string> kNoStrings;
const std::vector<VelocitySpec> kNoVelocities;

}  // namespace

CompileResult compile(std::string_view source) {
  if (source.size() > kMaxExpressionBytes) {
    return internal::make_error(source, kMaxExpressionBytes,
                                "expression is too long (" + std::to_string(source.size()) + " bytes, at most " +
                                    std::to_string(kMaxExpressionBytes) + ")",
                                "(split it into several rules, or use a named list)");
  }
  if (auto bad = internal::find_invalid_utf8(source)) {
    return internal::make_error(source, *bad, "invalid UTF-8");
  }
  internal::ParseResult parsed = internal::parse(source);
  if (parsed.error) {
    return std::move(*parsed.error);
  }
  internal::CheckResult checked = internal::check(*parsed.root, source);
  if (checked.error) {
    return std::move(*checked.error);
  }
  internal::CompileOutput out = internal::compile_program(*parsed.root, std::move(checked.refs), source);
  if (out.error) {
    return std::move(*out.error);
  }
  return CompiledExpression(std::move(out.program));
}

Outcome CompiledExpression::evaluate(const Activation& activation) const {
  if (!program_) {
    return Outcome::kFalse;
  }
  const std::uint32_t* id = program_->identity.data();
  return internal::run(*program_, activation, internal::SlotMap{id, id, id});
}

Outcome CompiledExpression::evaluate_traced(const Activation& activation, std::span<TraceValue> trace) const {
  std::fill(trace.begin(), trace.end(), TraceValue{});
  if (!program_) {
    return Outcome::kFalse;
  }
  const std::uint32_t* id = program_->identity.data();
  return internal::run_traced(*program_, activation, internal::SlotMap{id, id, id}, trace.data());
}

const std::vector<std::string>& CompiledExpression::trace_exprs() const {
  return program_ ? program_->trace_exprs : kNoStrings;
}

const std::string& CompiledExpression::source() const { return program_ ? program_->source : kEmptyString; }

const std::vector<std::string>& CompiledExpression::list_names() const {
  return program_ ? program_->refs.list_names : kNoStrings;
}

const std::vector<VelocitySpec>& CompiledExpression::velocities() const {
  return program_ ? program_->refs.velocities : kNoVelocities;
}

const std::vector<std::string>& CompiledExpression::metadata_keys() const {
  return program_ ? program_->refs.metadata_keys : kNoStrings;
}

bool CompiledExpression::reads_field(Field field) const {
  return program_ && (program_->refs.field_mask & (1U << static_cast<unsigned>(field))) != 0;
}

std::string CompiledExpression::disassemble() const { return program_ ? internal::disassemble(*program_) : ""; }

}  // namespace txv::rules

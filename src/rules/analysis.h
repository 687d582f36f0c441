// Static analysis of rules (API contract section 12): warnings that a rule
// can never match, always matches, is shadowed by a rule of higher precedence
// with the same action, is overridden by an enforced approve rule, or names a
// list that does not exist. Standard library only.
//
// Soundness. Every warning about what a rule matches is a universal claim
// ("no transaction ...", "every transaction ..."). The analysis decides it by
// enumerating a SUPERSET of the situations a real transaction can be in, so a
// warning is never false; when the superset is too coarse or too large the
// analysis stays silent. How:
//  - The expression is parsed and checked (the real front end). Its logical
//    skeleton (&&, ||, !, true, false) is kept; every other boolean
//    sub-expression is an atom.
//  - Understood atoms are comparisons of ONE field with constants:
//    `F op c` / `c op F` (== != < <= > >=), `F in [c, ...]`,
//    `F.startsWith(c)`, `F.endsWith(c)`, `F.contains(c)`, and
//    `size(F) op k` / `F.size() op k` for string fields; integer constants
//    may be constant expressions (`10 * 100`). Every other atom (metadata,
//    velocity, named lists, arithmetic on a field, two fields compared, ...)
//    is opaque: it may be true, false or absent, independently of everything
//    else (atoms with the same text are the same value).
//  - Each field has a domain that contains every value a stored transaction
//    can hold (docs/validation.md; e.g. card.bin 6-8 ASCII digits, merchant.mcc
//    4 digits, currencies 3 upper-case letters, countries 2), and optional
//    fields may be absent (the atoms reading them are then absent).
//  - Per field, the combinations of truth values of its atoms are either
//    enumerated exactly (amount: every region between the constants; small
//    finite domains, type and the countries: every value)
//    or over-approximated (other string fields: every combination not PROVEN
//    impossible: exactly when an equality or `in` fixes the value, otherwise
//    by sound necessary conditions on length, alphabet, prefixes, suffixes,
//    substrings and order).
//  - The expression is evaluated in the evaluator's three-valued logic over
//    every combination (a cross product, bounded; past the bound: no warning).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rules/error.h"

namespace txv::rules {

enum class WarningCode : std::uint8_t {
  kNeverMatches,
  kAlwaysMatches,
  kShadowedBy,
  kUnknownList,
  kOverriddenByApprove,
};
// "never_matches", "always_matches", "shadowed_by", "unknown_list", "overridden_by_approve".
std::string_view warning_code_name(WarningCode code);

struct Warning {
  WarningCode code = WarningCode::kNeverMatches;
  std::string message;
  std::optional<int> column;  // 1-based, in code points: the sub-expression to blame
  std::string rule_id;        // shadowed_by / overridden_by_approve: the covering rule
  bool operator==(const Warning&) const = default;
};

enum class AnalysisAction : std::uint8_t { kDecline, kReview, kApprove };
enum class AnalysisMode : std::uint8_t { kEnforce, kShadow, kDisabled };

// What the analysis needs to know about one rule.
struct AnalysisRule {
  std::string id;
  std::string expression;
  AnalysisAction action = AnalysisAction::kDecline;
  std::int64_t priority = 0;
  AnalysisMode mode = AnalysisMode::kEnforce;
};

// True when a named list exists now.
using ListExists = std::function<bool(std::string_view name)>;

// Warnings of one expression alone (never_matches, always_matches,
// unknown_list). `error` is set (and warnings empty) when it does not compile.
struct ExpressionCheck {
  std::optional<CompileError> error;
  std::vector<Warning> warnings;
};
ExpressionCheck check_expression(std::string_view expression, const ListExists& list_exists);

// Warnings of `rule` within `others` (the other rules of the set; an entry
// with rule.id is ignored): its own expression warnings, then
//  - shadowed_by: an ENFORCED rule with the same action that precedes it
//    (lower priority number; equal priority and smaller id) matches every
//    transaction it matches (the first such rule in precedence order);
//  - overridden_by_approve: `rule` declines or reviews and an ENFORCED approve
//    rule (any priority: approve wins, see decide/pipeline.cc combine())
//    matches every transaction it matches.
// A disabled rule gets only its expression warnings (it is not evaluated); a
// shadow-mode rule is analysed as if it were enforced (what would happen if it
// went live). Rules whose expression does not compile are ignored.
std::vector<Warning> analyze_rule(const AnalysisRule& rule, std::span<const AnalysisRule> others,
                                  const ListExists& list_exists);

struct RuleWarning {
  std::string rule_id;  // the rule warned about
  Warning warning;
};
// analyze_rule() for every rule of the set, in the order given.
std::vector<RuleWarning> analyze_rule_set(std::span<const AnalysisRule> rules, const ListExists& list_exists);

}  // namespace txv::rules

#include "domain/transaction.h"

#include "common/enum_names.h"

namespace txv::domain {
namespace {
constexpr const char* kTypeNames[] = {"purchase", "authorization", "refund", "payout", "verification"};
constexpr const char* kDecisionNames[] = {"approve", "decline", "review"};
constexpr const char* kActionNames[] = {"decline", "review", "approve"};
}  // namespace

const char* to_string(TransactionType t) { return kTypeNames[static_cast<int>(t)]; }
std::optional<TransactionType> parse_transaction_type(std::string_view s) {
  return parse_enum_name<TransactionType>(s, kTypeNames);
}
const char* to_string(Decision d) { return kDecisionNames[static_cast<int>(d)]; }
std::optional<Decision> parse_decision(std::string_view s) { return parse_enum_name<Decision>(s, kDecisionNames); }
const char* to_string(RuleAction a) { return kActionNames[static_cast<int>(a)]; }
std::optional<RuleAction> parse_rule_action(std::string_view s) { return parse_enum_name<RuleAction>(s, kActionNames); }

}  // namespace txv::domain

#include "domain/transaction.h"

namespace txv::domain {
namespace {
template <typename E, std::size_t N>
std::optional<E> parse_enum(std::string_view s, const char* const (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}
constexpr const char* kTypeNames[] = {"purchase", "authorization", "refund", "payout", "verification"};
constexpr const char* kDecisionNames[] = {"approve", "decline", "review"};
constexpr const char* kActionNames[] = {"decline", "review", "approve"};
}  // namespace

const char* to_string(TransactionType t) { return kTypeNames[static_cast<int>(t)]; }
std::optional<TransactionType> parse_transaction_type(std::string_view s) {
  return parse_enum<TransactionType>(s, kTypeNames);
}
const char* to_string(Decision d) { return kDecisionNames[static_cast<int>(d)]; }
std::optional<Decision> parse_decision(std::string_view s) { return parse_enum<Decision>(s, kDecisionNames); }
const char* to_string(RuleAction a) { return kActionNames[static_cast<int>(a)]; }
std::optional<RuleAction> parse_rule_action(std::string_view s) { return parse_enum<RuleAction>(s, kActionNames); }

}  // namespace txv::domain

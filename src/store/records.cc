#include "store/records.h"

#include "common/enum_names.h"

namespace txv::store {
namespace {
constexpr const char* kRoleNames[] = {"admin", "analyst", "validator"};
constexpr const char* kModeNames[] = {"enforce", "shadow", "disabled"};
constexpr const char* kLabelNames[] = {"fraud", "not_fraud"};
constexpr const char* kLabelSourceNames[] = {"chargeback", "issuer_alert", "manual", "customer_report"};
}  // namespace

const char* to_string(Role r) { return kRoleNames[static_cast<int>(r)]; }
std::optional<Role> parse_role(std::string_view s) { return parse_enum_name<Role>(s, kRoleNames); }
const char* to_string(RuleMode m) { return kModeNames[static_cast<int>(m)]; }
std::optional<RuleMode> parse_rule_mode(std::string_view s) { return parse_enum_name<RuleMode>(s, kModeNames); }

const char* to_string(LabelValue v) { return kLabelNames[static_cast<int>(v)]; }
std::optional<LabelValue> parse_label_value(std::string_view s) { return parse_enum_name<LabelValue>(s, kLabelNames); }
const char* to_string(LabelSource s) { return kLabelSourceNames[static_cast<int>(s)]; }
std::optional<LabelSource> parse_label_source(std::string_view s) {
  return parse_enum_name<LabelSource>(s, kLabelSourceNames);
}

}  // namespace txv::store

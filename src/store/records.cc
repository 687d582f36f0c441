#include "store/records.h"

#include "common/enum_names.h"

namespace txv::store {
namespace {
constexpr const char* kRoleNames[] = {"admin", "analyst", "validator"};
constexpr const char* kModeNames[] = {"enforce", "shadow", "disabled"};
}  // namespace

const char* to_string(Role r) { return kRoleNames[static_cast<int>(r)]; }
std::optional<Role> parse_role(std::string_view s) { return parse_enum_name<Role>(s, kRoleNames); }
const char* to_string(RuleMode m) { return kModeNames[static_cast<int>(m)]; }
std::optional<RuleMode> parse_rule_mode(std::string_view s) { return parse_enum_name<RuleMode>(s, kModeNames); }

}  // namespace txv::store

#include "store/records.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/enum_names.h"

namespace txv::store {
namespace {
constexpr const char* kRoleNames[] = {"admin", "analyst", "validator"};
constexpr const char* kModeNames[] = {"enforce", "shadow", "disabled"};
constexpr const char* kLabelNames[] = {"fraud", "not_fraud"};
constexpr const char* kLabelSourceNames[] = {"chargeback", "issuer_alert", "manual", "customer_report"};
constexpr const char* kBacktestStatusNames[] = {"running", "done", "failed", "cancelled"};
}  // namespace

const char* to_string(BacktestStatus s) { return kBacktestStatusNames[static_cast<int>(s)]; }
std::optional<BacktestStatus> parse_backtest_status(std::string_view s) {
  return parse_enum_name<BacktestStatus>(s, kBacktestStatusNames);
}

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

namespace {
bool same_content(const RuleRecord& a, const RuleRecord& b) {
  return a.name == b.name && a.expression == b.expression && a.action == b.action && a.code == b.code &&
         a.priority == b.priority && a.mode == b.mode;
}
bool by_id(const RuleRecord& a, const RuleRecord& b) { return a.id < b.id; }
}  // namespace

Result<RuleSetPlan> plan_rule_set(const std::vector<RuleRecord>& live, std::vector<RuleRecord> wanted, TimePoint now) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const std::string field = "rules[" + std::to_string(i) + "].id";
    if (wanted[i].id.empty()) return make_error("validation_failed", "a rule has no id", {{field, "required"}});
    if (!seen.insert(wanted[i].id).second) {
      return make_error("validation_failed", "rule id " + wanted[i].id + " is given twice", {{field, "duplicate"}});
    }
  }
  std::map<std::string, const RuleRecord*> current;
  for (const auto& r : live) current.emplace(r.id, &r);
  RuleSetPlan plan;
  for (auto& w : wanted) {
    auto it = current.find(w.id);
    if (it == current.end()) {
      w.version = 1;
      w.created_at = w.updated_at = now;
      plan.create.push_back(w);
      plan.after.push_back(std::move(w));
      continue;
    }
    const RuleRecord& old = *it->second;
    if (same_content(old, w)) {
      plan.after.push_back(old);
    } else {
      w.version = old.version + 1;
      w.created_at = old.created_at;
      w.updated_at = now;
      plan.update.emplace_back(old, w);
      plan.after.push_back(std::move(w));
    }
  }
  for (const auto& r : live) {
    if (!seen.contains(r.id)) plan.remove.push_back(r);
  }
  std::sort(plan.create.begin(), plan.create.end(), by_id);
  std::sort(plan.update.begin(), plan.update.end(),
            [](const auto& a, const auto& b) { return a.first.id < b.first.id; });
  std::sort(plan.remove.begin(), plan.remove.end(), by_id);
  std::sort(plan.after.begin(), plan.after.end(), [](const RuleRecord& a, const RuleRecord& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  return plan;
}

RuleSetChange RuleSetPlan::change(std::int64_t rules_version) const {
  RuleSetChange out;
  out.rules = after;
  out.rules_version = rules_version;
  for (const auto& r : create) out.created.push_back(r.id);
  for (const auto& u : update) out.updated.push_back(u.second.id);
  for (const auto& r : remove) out.deleted.push_back(r.id);
  return out;
}

}  // namespace txv::store

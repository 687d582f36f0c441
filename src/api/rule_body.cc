#include "api/rule_body.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "api/responses.h"
#include "domain/card_text.h"
#include "domain/identifiers.h"
#include "rules/expression.h"

namespace txv::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxNameLength = 200;
constexpr std::size_t kMaxCodeLength = 64;

bool snake_case(std::string_view s) {
  if (s.empty() || s.size() > kMaxCodeLength || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

Status parse_rule_body(const json::value& body, store::RuleRecord& rule, bool id_allowed) {
  auto object = json_object_body(body);
  if (!object.ok()) return object.error();
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  auto string_field = [&](const char* name, std::string& out, std::size_t max, bool required) {
    const json::value* v = obj->if_contains(name);
    if (v == nullptr) {
      if (required) issues.push_back({name, "required"});
      return false;
    }
    if (!v->is_string()) {
      issues.push_back({name, "invalid_type"});
      return false;
    }
    if (v->as_string().empty()) {
      issues.push_back({name, "required"});
      return false;
    }
    if (v->as_string().size() > max) {
      issues.push_back({name, "too_long"});
      return false;
    }
    out = std::string(v->as_string());
    return true;
  };
  add_unknown_fields(
      *obj, {"id", "name", "expression", "action", "code", "priority", "mode", "version", "created_at", "updated_at"},
      issues);
  std::string id;
  if (string_field("id", id, 64, false)) {
    if (!domain::is_valid_id(id)) {
      issues.push_back({"id", "invalid_format"});
    } else if (!id_allowed && id != rule.id) {
      issues.push_back({"id", "invalid_value"});
    } else {
      rule.id = id;
    }
  }
  if (string_field("name", rule.name, kMaxNameLength, true) && domain::looks_like_card_number(rule.name)) {
    issues.push_back({"name", "looks_like_card_number"});
  }
  bool has_expression = string_field("expression", rule.expression, rules::kMaxExpressionBytes, true);
  std::string action;
  if (string_field("action", action, 16, true)) {
    auto a = domain::parse_rule_action(action);
    if (!a) {
      issues.push_back({"action", "invalid_value"});
    } else {
      rule.action = *a;
    }
  }
  std::string code;
  if (string_field("code", code, kMaxCodeLength, true)) {
    if (!snake_case(code)) {
      issues.push_back({"code", "invalid_format"});
    } else {
      rule.code = code;
    }
  }
  if (const json::value* p = obj->if_contains("priority")) {
    if (!p->is_int64() && !p->is_uint64()) {
      issues.push_back({"priority", "invalid_type"});
    } else if (p->is_uint64() || p->as_int64() < -1'000'000'000 || p->as_int64() > 1'000'000'000) {
      issues.push_back({"priority", "out_of_range"});
    } else {
      rule.priority = p->as_int64();
    }
  }
  std::string mode;
  if (string_field("mode", mode, 16, false)) {
    auto m = store::parse_rule_mode(mode);
    if (!m) {
      issues.push_back({"mode", "invalid_value"});
    } else {
      rule.mode = *m;
    }
  }
  if (!issues.empty()) return make_error("validation_failed", "the rule is not valid", std::move(issues));
  if (has_expression) {
    auto compiled = rules::compile(rule.expression);
    if (!compiled.ok()) {
      return make_error("invalid_expression", compiled.error().message, {{"expression", compiled.error().message}});
    }
  }
  return Ok{};
}

}  // namespace txv::api

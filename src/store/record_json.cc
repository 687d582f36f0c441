#include "store/record_json.h"

#include "domain/time.h"

namespace txv::store {
namespace json = boost::json;

namespace {

std::optional<json::value> parse(std::string_view text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

const json::string* string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

}  // namespace

json::object rule_to_json(const RuleRecord& rule) {
  json::object o;
  o["id"] = rule.id;
  o["name"] = rule.name;
  o["expression"] = rule.expression;
  o["action"] = domain::to_string(rule.action);
  o["code"] = rule.code;
  o["priority"] = rule.priority;
  o["mode"] = to_string(rule.mode);
  o["version"] = rule.version;
  o["created_at"] = domain::format_rfc3339(rule.created_at);
  o["updated_at"] = domain::format_rfc3339(rule.updated_at);
  return o;
}

json::value resolution_to_json(const std::optional<domain::Resolution>& resolution) {
  if (!resolution) return nullptr;
  json::object o;
  o["decision"] = domain::to_string(resolution->decision);
  o["note"] = resolution->note;
  o["by"] = resolution->by;
  o["at"] = domain::format_rfc3339(resolution->at);
  return o;
}

json::object label_to_json(const Label& label, bool ids) {
  json::object o;
  if (ids) {
    o["merchant_id"] = label.merchant_id;
    o["transaction_id"] = label.transaction_id;
  }
  o["label"] = to_string(label.value);
  o["source"] = to_string(label.source);
  if (label.reason) o["reason"] = *label.reason;
  o["at"] = domain::format_rfc3339(label.at);
  o["by"] = label.by;
  return o;
}

json::array reasons_to_json(const std::vector<domain::Reason>& reasons) {
  json::array a;
  a.reserve(reasons.size());
  for (const auto& r : reasons) {
    json::object o;
    o["code"] = r.code;
    o["source"] = r.source;
    if (!r.rule_id.empty()) o["rule_id"] = r.rule_id;
    o["action"] = domain::to_string(r.action);
    a.push_back(std::move(o));
  }
  return a;
}

std::string reasons_to_text(const std::vector<domain::Reason>& reasons) {
  return json::serialize(reasons_to_json(reasons));
}

std::optional<std::vector<domain::Reason>> reasons_from_text(std::string_view text) {
  auto v = parse(text);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<domain::Reason> out;
  for (const auto& item : v->get_array()) {
    const auto* o = item.if_object();
    if (o == nullptr) return std::nullopt;
    const auto* code = string_field(*o, "code");
    const auto* source = string_field(*o, "source");
    const auto* action = string_field(*o, "action");
    const auto* rule_id = string_field(*o, "rule_id");
    if (code == nullptr || source == nullptr || action == nullptr) return std::nullopt;
    auto parsed_action = domain::parse_rule_action(*action);
    if (!parsed_action) return std::nullopt;
    domain::Reason r;
    r.code = std::string(*code);
    r.source = std::string(*source);
    if (rule_id != nullptr) r.rule_id = std::string(*rule_id);
    r.action = *parsed_action;
    out.push_back(std::move(r));
  }
  return out;
}

json::array shadow_matches_to_json(const std::vector<domain::ShadowMatch>& matches) {
  json::array a;
  a.reserve(matches.size());
  for (const auto& m : matches) {
    json::object o;
    o["rule_id"] = m.rule_id;
    o["action"] = domain::to_string(m.action);
    o["code"] = m.code;
    a.push_back(std::move(o));
  }
  return a;
}

std::string shadow_matches_to_text(const std::vector<domain::ShadowMatch>& matches) {
  return json::serialize(shadow_matches_to_json(matches));
}

std::optional<std::vector<domain::ShadowMatch>> shadow_matches_from_text(std::string_view text) {
  auto v = parse(text);
  if (!v || !v->is_array()) return std::nullopt;
  std::vector<domain::ShadowMatch> out;
  for (const auto& item : v->get_array()) {
    const auto* o = item.if_object();
    if (o == nullptr) return std::nullopt;
    const auto* rule_id = string_field(*o, "rule_id");
    const auto* action = string_field(*o, "action");
    const auto* code = string_field(*o, "code");
    if (rule_id == nullptr || action == nullptr || code == nullptr) return std::nullopt;
    auto parsed_action = domain::parse_rule_action(*action);
    if (!parsed_action) return std::nullopt;
    out.push_back(domain::ShadowMatch{std::string(*rule_id), *parsed_action, std::string(*code)});
  }
  return out;
}

std::string metadata_to_text(const domain::Metadata& metadata) {
  json::object o;
  o.reserve(metadata.size());
  for (const auto& [k, v] : metadata) o[k] = v;
  return json::serialize(o);
}

std::optional<domain::Metadata> metadata_from_text(std::string_view text) {
  auto v = parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  domain::Metadata out;
  for (const auto& [k, val] : v->get_object()) {
    const auto* s = val.if_string();
    if (s == nullptr) return std::nullopt;
    out.emplace(std::string(k), std::string(*s));
  }
  return out;
}

}  // namespace txv::store

#include "api/rules_api.h"

#include <openssl/rand.h>

#include "api/responses.h"
#include "api/transactions_api.h"
#include "domain/identifiers.h"
#include "domain/time.h"
#include "rules/expression.h"
#include "store/record_json.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

namespace {

constexpr std::size_t kMaxNameLength = 200;
constexpr std::size_t kMaxCodeLength = 64;
constexpr std::size_t kMaxListEntries = 1'000'000;
constexpr std::size_t kMaxEntryLength = 256;

bool snake_case(std::string_view s) {
  if (s.empty() || s.size() > kMaxCodeLength || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string new_rule_id() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "rule_";
  for (unsigned char b : raw) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0xF]);
  }
  return id;
}

// Parses a rule body. On success fills `rule` (id untouched unless given).
// `compile_error` receives an invalid_expression error when only the
// expression is wrong.
Status parse_rule_body(const json::value& body, store::RuleRecord& rule, bool id_allowed) {
  const json::object* obj = body.if_object();
  if (obj == nullptr) {
    return make_error("validation_failed", "the body must be a JSON object", {{"body", "invalid_type"}});
  }
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
  for (const auto& kv : *obj) {
    static const char* kKnown[] = {"id",       "name", "expression", "action",     "code",
                                   "priority", "mode", "version",    "created_at", "updated_at"};
    if (std::find_if(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return kv.key() == k; }) ==
        std::end(kKnown)) {
      issues.push_back({std::string(kv.key()), "unknown_field"});
    }
  }
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
  string_field("name", rule.name, kMaxNameLength, true);
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

// Parses {"entries": [string, ...]}.
Result<std::vector<std::string>> parse_entries_body(const std::string& text) {
  auto body = parse_json_body(text);
  if (!body.ok()) return Error(body.error());
  const json::object* obj = body->if_object();
  if (obj == nullptr)
    return make_error("validation_failed", "the body must be a JSON object", {{"body", "invalid_type"}});
  std::vector<FieldIssue> issues;
  for (const auto& kv : *obj) {
    if (kv.key() != "entries") issues.push_back({std::string(kv.key()), "unknown_field"});
  }
  const json::value* entries = obj->if_contains("entries");
  std::vector<std::string> out;
  if (entries == nullptr) {
    issues.push_back({"entries", "required"});
  } else if (!entries->is_array()) {
    issues.push_back({"entries", "invalid_type"});
  } else if (entries->as_array().size() > kMaxListEntries) {
    issues.push_back({"entries", "too_many"});
  } else {
    const auto& array = entries->as_array();
    out.reserve(array.size());
    for (std::size_t i = 0; i < array.size() && issues.size() < 100; ++i) {
      const auto& e = array[i];
      std::string field = "entries[" + std::to_string(i) + "]";
      if (!e.is_string()) {
        issues.push_back({field, "invalid_type"});
      } else if (e.as_string().empty()) {
        issues.push_back({field, "required"});
      } else if (e.as_string().size() > kMaxEntryLength) {
        issues.push_back({field, "too_long"});
      } else {
        out.emplace_back(e.as_string());
      }
    }
  }
  if (!issues.empty()) return make_error("validation_failed", "the list is not valid", std::move(issues));
  return out;
}

json::object list_summary_json(const store::ListSummary& s) {
  return json::object{
      {"name", s.name}, {"entry_count", s.entry_count}, {"updated_at", domain::format_rfc3339(s.updated_at)}};
}

json::value parse_or_null(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

Status check_list_name(const std::string& name) {
  if (!domain::is_valid_id(name)) {
    return make_error("validation_failed", "list names are 1-64 characters of A-Z a-z 0-9 . _ : -",
                      {{"name", "invalid_format"}});
  }
  return Ok{};
}

}  // namespace

RulesApi::RulesApi(AccessControl& access, store::RuleStore& rules, store::ListStore& lists, store::AuditLog& audit,
                   decide::RuleEngine& engine)
    : access_(access), rules_(rules), lists_(lists), audit_(audit), engine_(engine) {}

void RulesApi::register_routes(http::Router& router) {
  router.add("POST", "/v1/rules", [this](http::Request& r) { return create_rule(r); });
  router.add("GET", "/v1/rules", [this](http::Request& r) { return list_rules(r); });
  router.add("GET", "/v1/rules/{id}", [this](http::Request& r) { return get_rule(r); });
  router.add("PUT", "/v1/rules/{id}", [this](http::Request& r) { return replace_rule(r); });
  router.add("DELETE", "/v1/rules/{id}", [this](http::Request& r) { return delete_rule(r); });
  router.add("GET", "/v1/lists", [this](http::Request& r) { return list_lists(r); });
  router.add("GET", "/v1/lists/{name}", [this](http::Request& r) { return get_list(r); });
  router.add("PUT", "/v1/lists/{name}", [this](http::Request& r) { return replace_list(r); });
  router.add("POST", "/v1/lists/{name}/entries", [this](http::Request& r) { return add_list_entries(r); });
  router.add("DELETE", "/v1/lists/{name}/entries/{value}", [this](http::Request& r) { return remove_list_entry(r); });
  router.add("GET", "/v1/audit", [this](http::Request& r) { return list_audit(r); });
}

Status RulesApi::reload_rules_locked() {
  auto all = rules_.list_rules();
  if (!all.ok()) return Error(all.error());
  auto version = rules_.rules_version();
  if (!version.ok()) return Error(version.error());
  engine_.replace_rules(*all, *version);
  return Ok{};
}

Status RulesApi::load_all() {
  std::lock_guard lock(change_mu_);
  auto lists = lists_.list_lists();
  if (!lists.ok()) return Error(lists.error());
  for (const auto& summary : *lists) {
    auto entries = lists_.list_entries(summary.name);
    if (!entries.ok()) return Error(entries.error());
    if (!entries->has_value()) continue;
    engine_.set_list(summary.name, std::make_shared<const decide::ListEntries>((*entries)->begin(), (*entries)->end()));
  }
  return reload_rules_locked();
}

http::Response RulesApi::create_rule(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  auto body = parse_json_body(request.body);
  if (!body.ok()) return error_response(body.error());
  store::RuleRecord rule;
  if (auto s = parse_rule_body(*body, rule, true); !s.ok()) return error_response(s.error());
  if (rule.id.empty()) rule.id = new_rule_id();
  rule.version = 1;
  rule.created_at = rule.updated_at = domain::now_millis();
  std::lock_guard lock(change_mu_);
  auto created = rules_.create_rule(rule, principal.name);
  if (!created.ok()) return error_response(created.error());
  if (auto s = reload_rules_locked(); !s.ok()) return error_response(s.error());
  return json_response(201, store::rule_to_json(*created));
}

http::Response RulesApi::replace_rule(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  auto body = parse_json_body(request.body);
  if (!body.ok()) return error_response(body.error());
  store::RuleRecord rule;
  rule.id = request.path_params["id"];
  if (auto s = parse_rule_body(*body, rule, false); !s.ok()) return error_response(s.error());
  rule.updated_at = domain::now_millis();
  std::lock_guard lock(change_mu_);
  auto replaced = rules_.replace_rule(rule, principal.name);
  if (!replaced.ok()) return error_response(replaced.error());
  if (auto s = reload_rules_locked(); !s.ok()) return error_response(s.error());
  return json_response(200, store::rule_to_json(*replaced));
}

http::Response RulesApi::delete_rule(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  std::lock_guard lock(change_mu_);
  if (auto s = rules_.delete_rule(request.path_params["id"], principal.name); !s.ok()) {
    return error_response(s.error());
  }
  if (auto s = reload_rules_locked(); !s.ok()) return error_response(s.error());
  http::Response r;
  r.status = 204;
  return r;
}

http::Response RulesApi::get_rule(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin, Role::kAnalyst);
  auto found = rules_.find_rule(request.path_params["id"]);
  if (!found.ok()) return error_response(found.error());
  if (!found->has_value()) return error_response(make_error("not_found", "no such rule"));
  return json_response(200, store::rule_to_json(**found));
}

http::Response RulesApi::list_rules(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin, Role::kAnalyst);
  auto all = rules_.list_rules();
  if (!all.ok()) return error_response(all.error());
  auto version = rules_.rules_version();
  if (!version.ok()) return error_response(version.error());
  json::array items;
  for (const auto& r : *all) items.emplace_back(store::rule_to_json(r));
  return json_response(200, json::object{{"items", std::move(items)}, {"rules_version", *version}});
}

http::Response RulesApi::replace_list(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  const std::string& name = request.path_params["name"];
  if (auto s = check_list_name(name); !s.ok()) return error_response(s.error());
  auto entries = parse_entries_body(request.body);
  if (!entries.ok()) return error_response(entries.error());
  auto fresh = std::make_shared<const decide::ListEntries>(entries->begin(), entries->end());
  std::lock_guard lock(change_mu_);
  auto summary = lists_.replace_list(name, *entries, principal.name);
  if (!summary.ok()) return error_response(summary.error());
  engine_.set_list(name, std::move(fresh));
  return json_response(200, list_summary_json(*summary));
}

http::Response RulesApi::add_list_entries(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  const std::string& name = request.path_params["name"];
  if (auto s = check_list_name(name); !s.ok()) return error_response(s.error());
  auto entries = parse_entries_body(request.body);
  if (!entries.ok()) return error_response(entries.error());
  std::lock_guard lock(change_mu_);
  auto current = engine_.list(name);
  decide::ListEntries added;
  for (const auto& e : *entries) {
    if (!current || !current->contains(e)) added.insert(e);
  }
  if ((current ? current->size() : 0) + added.size() > kMaxListEntries) {
    return error_response(
        make_error("validation_failed", "a list holds at most 1,000,000 entries", {{"entries", "too_many"}}));
  }
  auto summary = lists_.add_list_entries(name, *entries, principal.name);
  if (!summary.ok()) return error_response(summary.error());
  auto next = current ? std::make_shared<decide::ListEntries>(*current) : std::make_shared<decide::ListEntries>();
  next->insert(entries->begin(), entries->end());
  engine_.set_list(name, std::move(next));
  return json_response(200, list_summary_json(*summary));
}

http::Response RulesApi::remove_list_entry(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin);
  const std::string& name = request.path_params["name"];
  const std::string& value = request.path_params["value"];
  std::lock_guard lock(change_mu_);
  auto summary = lists_.remove_list_entry(name, value, principal.name);
  if (!summary.ok()) return error_response(summary.error());
  if (auto current = engine_.list(name)) {
    auto next = std::make_shared<decide::ListEntries>(*current);
    next->erase(value);
    engine_.set_list(name, std::move(next));
  }
  return json_response(200, list_summary_json(*summary));
}

http::Response RulesApi::get_list(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin, Role::kAnalyst);
  const std::string& name = request.path_params["name"];
  auto entries = lists_.list_entries(name);
  if (!entries.ok()) return error_response(entries.error());
  if (!entries->has_value()) return error_response(make_error("not_found", "no such list"));
  auto lists = lists_.list_lists();
  if (!lists.ok()) return error_response(lists.error());
  json::object out{{"name", name}};
  for (const auto& s : *lists) {
    if (s.name == name) out = list_summary_json(s);
  }
  json::array items;
  items.reserve((*entries)->size());
  for (const auto& e : **entries) items.emplace_back(e);
  out["entries"] = std::move(items);
  return json_response(200, out);
}

http::Response RulesApi::list_lists(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin, Role::kAnalyst);
  auto lists = lists_.list_lists();
  if (!lists.ok()) return error_response(lists.error());
  json::array items;
  for (const auto& s : *lists) items.emplace_back(list_summary_json(s));
  return json_response(200, json::object{{"items", std::move(items)}});
}

http::Response RulesApi::list_audit(http::Request& request) {
  TXV_REQUIRE(Role::kAdmin, Role::kAnalyst);
  store::AuditQuery q;
  std::vector<FieldIssue> issues;
  for (const auto& [key, value] : parse_query(request.query)) {
    if (key == "object_type") {
      q.object_type = value;
    } else if (key == "object_id") {
      q.object_id = value;
    } else if (key == "since") {
      q.since = domain::parse_rfc3339(value);
      if (!q.since) issues.push_back({key, "invalid_format"});
    } else if (key == "limit") {
      auto limit = parse_page_limit(value);
      if (!limit) issues.push_back({key, "out_of_range"});
      q.limit = limit.value_or(q.limit);
    } else if (key == "cursor") {
      q.before_id = decode_cursor(value);
      if (!q.before_id) issues.push_back({key, "invalid_format"});
    } else {
      issues.push_back({key, "unknown_field"});
    }
  }
  if (!issues.empty()) {
    return error_response(make_error("validation_failed", "invalid query parameters", std::move(issues)));
  }
  auto page = audit_.list_audit(q);
  if (!page.ok()) return error_response(page.error());
  json::array items;
  for (const auto& e : page->items) {
    items.emplace_back(json::object{{"id", e.id},
                                    {"at", domain::format_rfc3339(e.at)},
                                    {"actor", e.actor},
                                    {"action", e.action},
                                    {"object_type", e.object_type},
                                    {"object_id", e.object_id},
                                    {"before", parse_or_null(e.before_json)},
                                    {"after", parse_or_null(e.after_json)}});
  }
  json::object out{{"items", std::move(items)}};
  out["next_cursor"] = page->next_before_id ? json::value(encode_cursor(*page->next_before_id)) : json::value(nullptr);
  return json_response(200, out);
}

}  // namespace txv::api

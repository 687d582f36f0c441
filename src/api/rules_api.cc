#include "api/rules_api.h"

#include <openssl/rand.h>

#include <set>

#include "api/responses.h"
#include "api/rule_body.h"
#include "api/transactions_api.h"
#include "common/hex.h"
#include "domain/card_text.h"
#include "domain/identifiers.h"
#include "domain/time.h"
#include "rules/analysis.h"
#include "rules/expression.h"
#include "store/list_change.h"
#include "store/record_json.h"

namespace txv::api {

namespace json = boost::json;
using store::Role;

namespace {

constexpr std::size_t kMaxListEntries = 1'000'000;
constexpr std::size_t kMaxEntryLength = 256;
// An audit page stops growing past this many bytes of before/after JSON (at
// least one entry is always returned), whatever `limit` asked for.
constexpr std::size_t kMaxAuditPageBytes = 1024 * 1024;

std::string new_rule_id() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  return "rule_" + hex_encode(raw, sizeof raw);
}

// Parses {"entries": [string, ...]}.
Result<std::vector<std::string>> parse_entries_body(const std::string& text) {
  auto body = parse_json_body(text);
  if (!body.ok()) return Error(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) return object.error();
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"entries"}, issues);
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

rules::AnalysisRule to_analysis(const store::RuleRecord& r) {
  rules::AnalysisRule a;
  a.id = r.id;
  a.expression = r.expression;
  a.action = r.action == domain::RuleAction::kApprove  ? rules::AnalysisAction::kApprove
             : r.action == domain::RuleAction::kReview ? rules::AnalysisAction::kReview
                                                       : rules::AnalysisAction::kDecline;
  a.priority = r.priority;
  a.mode = r.mode == store::RuleMode::kShadow     ? rules::AnalysisMode::kShadow
           : r.mode == store::RuleMode::kDisabled ? rules::AnalysisMode::kDisabled
                                                  : rules::AnalysisMode::kEnforce;
  return a;
}

// {"code", "message", "column"?, "rule_id"?}; rule_id names the covering rule.
json::object warning_json(const rules::Warning& w) {
  json::object o{{"code", std::string(rules::warning_code_name(w.code))}, {"message", w.message}};
  if (w.column) o["column"] = *w.column;
  if (!w.rule_id.empty()) o["rule_id"] = w.rule_id;
  return o;
}

// Ids that would be taken for the fixed routes under /v1/rules/.
bool reserved_rule_id(const std::string& id) { return id == "check" || id == "analysis"; }

// The rule set's entity tag: the quoted rules_version.
std::string rules_etag(std::int64_t version) { return "\"" + std::to_string(version) + "\""; }

// If-Match of PUT /v1/rules: one rules_version, quoted as an entity tag
// ("12") or bare (12). Absent: 428; anything else (`*`, a list, a weak tag,
// not a number): 422 naming If-Match.
Result<std::int64_t> parse_if_match(const std::string* header) {
  if (header == nullptr) {
    return make_error("precondition_required", "PUT /v1/rules needs If-Match: \"<rules_version>\" (see GET /v1/rules)");
  }
  std::string_view v = *header;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  const Error invalid = make_error("validation_failed", "If-Match must be one rules_version, e.g. \"12\"",
                                   {{"If-Match", "invalid_format"}});
  if (v.empty() || v.size() > 18) return invalid;
  std::int64_t out = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return invalid;
    out = out * 10 + (c - '0');
  }
  return out;
}

// Prefixes every detail's field with "rules[i].".
Error in_rule(Error e, std::size_t i) {
  for (auto& d : e.details) d.field = "rules[" + std::to_string(i) + "]." + d.field;
  return e;
}

// {"rules": [rule body, ...]}: every rule with an id (a new one when the body gives none).
Result<std::vector<store::RuleRecord>> parse_rule_set_body(const std::string& text) {
  auto body = parse_json_body(text);
  if (!body.ok()) return Error(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) return object.error();
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"rules"}, issues);
  const json::value* rules = obj->if_contains("rules");
  if (rules == nullptr) {
    issues.push_back({"rules", "required"});
  } else if (!rules->is_array()) {
    issues.push_back({"rules", "invalid_type"});
  } else if (rules->as_array().size() > RulesApi::kMaxRuleSet) {
    issues.push_back({"rules", "too_many"});
  }
  if (!issues.empty()) return make_error("validation_failed", "invalid body", std::move(issues));
  const json::array& items = rules->as_array();
  std::vector<store::RuleRecord> out;
  out.reserve(items.size());
  std::set<std::string, std::less<>> named;
  for (std::size_t i = 0; i < items.size(); ++i) {
    store::RuleRecord rule;
    if (auto s = parse_rule_body(items[i], rule, true); !s.ok()) return in_rule(s.error(), i);
    const std::string field = "rules[" + std::to_string(i) + "].id";
    if (rule.id.empty()) {
      rule.id = new_rule_id();
    } else if (reserved_rule_id(rule.id)) {
      return make_error("validation_failed", "the rule ids 'check' and 'analysis' are reserved",
                        {{field, "invalid_value"}});
    } else if (!named.insert(rule.id).second) {
      return make_error("validation_failed", "rule id " + rule.id + " is given twice", {{field, "duplicate"}});
    }
    out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace

RulesApi::RulesApi(store::RuleStore& rules, store::ListStore& lists, store::AuditLog& audit, decide::RuleEngine& engine,
                   decide::RuleCatalog& catalog, Executor admin)
    : rules_(rules), lists_(lists), audit_(audit), engine_(engine), catalog_(catalog), admin_(std::move(admin)) {}

void RulesApi::register_routes(http::Router& router) {
  const auto admins = allow({Role::kAdmin});
  const auto readers = allow({Role::kAdmin, Role::kAnalyst});
  const http::RouteOptions upload{admins, kMaxListUploadBody};
  router.add("POST", "/v1/rules", {admins}, [this](http::Request& r) { return create_rule(r); });
  // Before /v1/rules/{id}: the router takes the first template that fits.
  router.add("POST", "/v1/rules/check", {readers}, [this](http::Request& r) { return check_rule(r); });
  router.add("GET", "/v1/rules/analysis", {readers}, [this](http::Request& r) { return rules_analysis(r); });
  router.add("GET", "/v1/rules", {readers}, [this](http::Request& r) { return list_rules(r); });
  router.add("PUT", "/v1/rules", http::RouteOptions{admins, kMaxRuleSetBody},
             [this](http::Request& r) { return replace_rule_set(r); });
  router.add("GET", "/v1/rules/{id}", {readers}, [this](http::Request& r) { return get_rule(r); });
  router.add("PUT", "/v1/rules/{id}", {admins}, [this](http::Request& r) { return replace_rule(r); });
  router.add("DELETE", "/v1/rules/{id}", {admins}, [this](http::Request& r) { return delete_rule(r); });
  router.add("GET", "/v1/lists", {readers}, [this](http::Request& r) { return list_lists(r); });
  router.add("GET", "/v1/lists/{name}", {readers}, [this](http::Request& r) { return get_list(r); });
  router.add("GET", "/v1/lists/{name}/entries", {readers}, [this](http::Request& r) { return list_entries(r); });
  router.add("PUT", "/v1/lists/{name}", upload, [this](http::Request& r) { return replace_list(r); });
  router.add("POST", "/v1/lists/{name}/entries", upload, [this](http::Request& r) { return add_list_entries(r); });
  router.add("DELETE", "/v1/lists/{name}/entries/{value}", {admins},
             [this](http::Request& r) { return remove_list_entry(r); });
  router.add("GET", "/v1/audit", {readers}, [this](http::Request& r) { return list_audit(r); });
}

Task<http::Response> RulesApi::create_rule(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  store::RuleRecord rule;
  if (auto s = parse_rule_body(*body, rule, true); !s.ok()) co_return error_response(s.error());
  if (rule.id.empty()) rule.id = new_rule_id();
  if (reserved_rule_id(rule.id)) {
    co_return error_response(
        make_error("validation_failed", "the rule ids 'check' and 'analysis' are reserved", {{"id", "invalid_value"}}));
  }
  rule.version = 1;
  rule.created_at = rule.updated_at = domain::now_millis();
  auto guard = co_await catalog_.lock_changes();
  auto created = co_await rules_.create_rule(rule, principal.name);
  if (!created.ok()) co_return error_response(created.error());
  if (auto s = co_await catalog_.rules_changed_locked(); !s.ok()) co_return error_response(s.error());
  json::object out = store::rule_to_json(*created);
  out["warnings"] = co_await warnings_for(*created);
  co_return json_response(201, out);
}

Task<http::Response> RulesApi::replace_rule(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  store::RuleRecord rule;
  rule.id = request.path_params["id"];
  if (auto s = parse_rule_body(*body, rule, false); !s.ok()) co_return error_response(s.error());
  rule.updated_at = domain::now_millis();
  auto guard = co_await catalog_.lock_changes();
  auto replaced = co_await rules_.replace_rule(rule, principal.name);
  if (!replaced.ok()) co_return error_response(replaced.error());
  if (auto s = co_await catalog_.rules_changed_locked(); !s.ok()) co_return error_response(s.error());
  json::object out = store::rule_to_json(*replaced);
  out["warnings"] = co_await warnings_for(*replaced);
  co_return json_response(200, out);
}

Task<http::Response> RulesApi::delete_rule(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto guard = co_await catalog_.lock_changes();
  if (auto s = co_await rules_.delete_rule(request.path_params["id"], principal.name); !s.ok()) {
    co_return error_response(s.error());
  }
  if (auto s = co_await catalog_.rules_changed_locked(); !s.ok()) co_return error_response(s.error());
  http::Response r;
  r.status = 204;
  co_return r;
}

Task<http::Response> RulesApi::get_rule(http::Request& request) {
  auto found = co_await rules_.find_rule(request.path_params["id"]);
  if (!found.ok()) co_return error_response(found.error());
  if (!found->has_value()) co_return error_response(make_error("not_found", "no such rule"));
  co_return json_response(200, store::rule_to_json(**found));
}

Task<http::Response> RulesApi::list_rules(http::Request&) {
  auto all = co_await rules_.list_rules();
  if (!all.ok()) co_return error_response(all.error());
  auto version = co_await rules_.rules_version();
  if (!version.ok()) co_return error_response(version.error());
  json::array items;
  for (const auto& r : *all) items.emplace_back(store::rule_to_json(r));
  auto response = json_response(200, json::object{{"items", std::move(items)}, {"rules_version", *version}});
  response.headers.emplace_back("ETag", rules_etag(*version));
  co_return response;
}

Task<http::Response> RulesApi::replace_rule_set(http::Request& request) {
  const Principal& principal = principal_of(request);
  auto expected = parse_if_match(request.header("if-match"));
  if (!expected.ok()) co_return error_response(expected.error());
  // Up to 1,000 rules, each parsed and type-checked: on the admin executor.
  auto rules = co_await run_on(admin_, [&request] { return parse_rule_set_body(request.body); });
  if (!rules.ok()) co_return error_response(rules.error());
  auto guard = co_await catalog_.lock_changes();
  auto change =
      co_await rules_.replace_rule_set(std::move(rules).value(), *expected, principal.name, domain::now_millis());
  if (!change.ok()) co_return error_response(change.error());
  const bool changed = !change->created.empty() || !change->updated.empty() || !change->deleted.empty();
  if (changed) {
    if (auto s = co_await catalog_.rules_changed_locked(); !s.ok()) co_return error_response(s.error());
  }
  json::array items;
  for (const auto& r : change->rules) items.emplace_back(store::rule_to_json(r));
  auto ids = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& id : v) a.emplace_back(id);
    return a;
  };
  auto response = json_response(200, json::object{{"items", std::move(items)},
                                                  {"rules_version", change->rules_version},
                                                  {"created", ids(change->created)},
                                                  {"updated", ids(change->updated)},
                                                  {"deleted", ids(change->deleted)}});
  response.headers.emplace_back("ETag", rules_etag(change->rules_version));
  co_return response;
}

Task<json::array> RulesApi::warnings_for(const store::RuleRecord& rule) {
  // The rule is saved whatever the analysis finds: a failed read only drops the warnings.
  json::array out;
  auto all = co_await rules_.list_rules();
  auto lists = co_await lists_.list_lists();
  if (!all.ok() || !lists.ok()) co_return out;
  std::vector<rules::AnalysisRule> others;
  for (const auto& r : *all) others.push_back(to_analysis(r));
  std::set<std::string, std::less<>> names;
  for (const auto& l : *lists) names.insert(l.name);
  const rules::AnalysisRule me = to_analysis(rule);
  auto warnings = co_await run_on(admin_, [&] {
    return rules::analyze_rule(me, others, [&names](std::string_view n) { return names.contains(n); });
  });
  for (const auto& w : warnings) out.emplace_back(warning_json(w));
  co_return out;
}

Task<http::Response> RulesApi::check_rule(http::Request& request) {
  auto body = parse_json_body(request.body);
  if (!body.ok()) co_return error_response(body.error());
  auto object = json_object_body(*body);
  if (!object.ok()) co_return error_response(object.error());
  const json::object* obj = *object;
  std::vector<FieldIssue> issues;
  add_unknown_fields(*obj, {"expression"}, issues);
  const json::value* expr = obj->if_contains("expression");
  if (expr == nullptr) {
    issues.push_back({"expression", "required"});
  } else if (!expr->is_string()) {
    issues.push_back({"expression", "invalid_type"});
  }
  if (!issues.empty()) co_return error_response(make_error("validation_failed", "invalid body", std::move(issues)));
  auto lists = co_await lists_.list_lists();
  if (!lists.ok()) co_return error_response(lists.error());
  std::set<std::string, std::less<>> names;
  for (const auto& l : *lists) names.insert(l.name);
  const std::string source(expr->as_string());
  auto checked = co_await run_on(admin_, [&] {
    return rules::check_expression(source, [&names](std::string_view n) { return names.contains(n); });
  });
  json::array errors, warnings;
  if (checked.error) {
    errors.emplace_back(json::object{{"message", checked.error->message}, {"column", checked.error->column}});
  }
  for (const auto& w : checked.warnings) warnings.emplace_back(warning_json(w));
  co_return json_response(200, json::object{{"valid", !checked.error.has_value()},
                                            {"errors", std::move(errors)},
                                            {"warnings", std::move(warnings)}});
}

Task<http::Response> RulesApi::rules_analysis(http::Request&) {
  auto all = co_await rules_.list_rules();
  if (!all.ok()) co_return error_response(all.error());
  auto lists = co_await lists_.list_lists();
  if (!lists.ok()) co_return error_response(lists.error());
  std::vector<rules::AnalysisRule> set;
  for (const auto& r : *all) set.push_back(to_analysis(r));
  std::set<std::string, std::less<>> names;
  for (const auto& l : *lists) names.insert(l.name);
  auto found = co_await run_on(
      admin_, [&] { return rules::analyze_rule_set(set, [&names](std::string_view n) { return names.contains(n); }); });
  json::array items;
  for (const auto& rw : found) {
    json::object o{{"rule_id", rw.rule_id},
                   {"code", std::string(rules::warning_code_name(rw.warning.code))},
                   {"message", rw.warning.message}};
    if (rw.warning.column) o["column"] = *rw.warning.column;
    if (!rw.warning.rule_id.empty()) o["by_rule_id"] = rw.warning.rule_id;
    items.emplace_back(std::move(o));
  }
  co_return json_response(200, json::object{{"warnings", std::move(items)}});
}

namespace {

// A parsed list upload with its look-up set, both built on the admin executor.
struct ParsedEntries {
  std::vector<std::string> entries;  // distinct, in the order first sent
  std::shared_ptr<const decide::ListEntries> set;
};

Result<ParsedEntries> parse_and_index(const std::string& body) {
  auto entries = parse_entries_body(body);
  if (!entries.ok()) return Error(entries.error());
  auto set = std::make_shared<decide::ListEntries>();
  set->reserve(entries->size());
  ParsedEntries out;
  out.entries.reserve(entries->size());
  for (auto& e : *entries) {
    if (set->insert(e).second) out.entries.push_back(std::move(e));
  }
  out.set = std::move(set);
  return out;
}

}  // namespace

Task<http::Response> RulesApi::replace_list(http::Request& request) {
  const Principal& principal = principal_of(request);
  const std::string& name = request.path_params["name"];
  if (auto s = check_list_name(name); !s.ok()) co_return error_response(s.error());
  auto parsed = co_await run_on(admin_, [&request] { return parse_and_index(request.body); });
  if (!parsed.ok()) co_return error_response(parsed.error());
  auto guard = co_await catalog_.lock_changes();
  auto summary = co_await lists_.replace_list(name, parsed->entries, principal.name);
  if (!summary.ok()) co_return error_response(summary.error());
  co_await catalog_.list_changed_locked(*summary, std::move(parsed->set));
  co_return json_response(200, list_summary_json(*summary));
}

Task<http::Response> RulesApi::add_list_entries(http::Request& request) {
  const Principal& principal = principal_of(request);
  const std::string& name = request.path_params["name"];
  if (auto s = check_list_name(name); !s.ok()) co_return error_response(s.error());
  auto parsed = co_await run_on(admin_, [&request] { return parse_and_index(request.body); });
  if (!parsed.ok()) co_return error_response(parsed.error());
  auto guard = co_await catalog_.lock_changes();
  auto current = engine_.list(name);
  // The union is built off the I/O threads too: a copy of up to 1,000,000 entries.
  auto next = co_await run_on(admin_, [&]() -> Result<std::shared_ptr<const decide::ListEntries>> {
    auto merged = current ? std::make_shared<decide::ListEntries>(*current) : std::make_shared<decide::ListEntries>();
    merged->insert(parsed->entries.begin(), parsed->entries.end());
    if (merged->size() > kMaxListEntries) {
      return make_error("validation_failed", "a list holds at most 1,000,000 entries", {{"entries", "too_many"}});
    }
    return std::shared_ptr<const decide::ListEntries>(std::move(merged));
  });
  if (!next.ok()) co_return error_response(next.error());
  auto summary = co_await lists_.add_list_entries(name, parsed->entries, principal.name);
  if (!summary.ok()) co_return error_response(summary.error());
  co_await catalog_.list_changed_locked(*summary, std::move(next).value());
  co_return json_response(200, list_summary_json(*summary));
}

Task<http::Response> RulesApi::remove_list_entry(http::Request& request) {
  const Principal& principal = principal_of(request);
  const std::string& name = request.path_params["name"];
  const std::string& value = request.path_params["value"];
  auto guard = co_await catalog_.lock_changes();
  auto summary = co_await lists_.remove_list_entry(name, value, principal.name);
  if (!summary.ok()) co_return error_response(summary.error());
  auto current = engine_.list(name);
  auto next = co_await run_on(admin_, [&current, &value] {
    auto copy = current ? std::make_shared<decide::ListEntries>(*current) : std::make_shared<decide::ListEntries>();
    copy->erase(value);
    return std::shared_ptr<const decide::ListEntries>(std::move(copy));
  });
  co_await catalog_.list_changed_locked(*summary, std::move(next));
  co_return json_response(200, list_summary_json(*summary));
}

Task<http::Response> RulesApi::get_list(http::Request& request) {
  const std::string& name = request.path_params["name"];
  auto summary = co_await lists_.find_list(name);
  if (!summary.ok()) co_return error_response(summary.error());
  if (!summary->has_value()) co_return error_response(make_error("not_found", "no such list"));
  auto entries = co_await lists_.list_entries(name);
  if (!entries.ok()) co_return error_response(entries.error());
  if (!entries->has_value()) co_return error_response(make_error("not_found", "no such list"));
  // Up to 1,000,000 entries: rendered on the admin executor.
  co_return co_await run_on(admin_, [&] {
    json::object out = list_summary_json(**summary);
    json::array items;
    items.reserve((*entries)->size());
    for (const auto& e : **entries) items.emplace_back(e);
    out["entries"] = std::move(items);
    return json_response(200, out);
  });
}

namespace {

// The opaque cursor of a list page: "v" + hex of the last entry sent.
std::string encode_entry_cursor(const std::string& value) { return "v" + hex_encode(std::string_view(value)); }

// The entry a cursor names; nullopt unless this server could have issued it.
std::optional<std::string> decode_entry_cursor(std::string_view cursor) {
  if (cursor.size() < 3 || cursor.size() > 1 + 2 * kMaxEntryLength || cursor[0] != 'v' || cursor.size() % 2 == 0) {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 1; i < cursor.size(); i += 2) {
    auto nibble = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
    const int hi = nibble(cursor[i]), lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  if (!store::is_valid_utf8(out)) return std::nullopt;
  return out;
}

// The query of GET /v1/lists/{name}/entries, or the 422 naming each bad parameter.
Result<store::ListEntriesQuery> parse_list_entries_query(const std::string& name, const std::string& query) {
  store::ListEntriesQuery q{name, "", std::nullopt, 50};
  std::vector<FieldIssue> issues;
  for (const auto& [key, value] : parse_query(query)) {
    if (key == "q") {
      if (value.size() > kMaxEntryLength) {
        issues.push_back({key, "too_long"});
      } else if (!store::is_valid_utf8(value)) {
        issues.push_back({key, "invalid_value"});
      } else {
        q.prefix = value;
      }
    } else if (key == "limit") {
      auto limit = parse_page_limit(value);
      if (!limit) issues.push_back({key, "out_of_range"});
      q.limit = limit.value_or(q.limit);
    } else if (key == "cursor") {
      q.after = decode_entry_cursor(value);
      if (!q.after) issues.push_back({key, "invalid_format"});
    } else {
      issues.push_back({key, "unknown_field"});
    }
  }
  if (!issues.empty()) return make_error("validation_failed", "invalid query parameters", std::move(issues));
  return q;
}

}  // namespace

Task<http::Response> RulesApi::list_entries(http::Request& request) {
  auto q = parse_list_entries_query(request.path_params["name"], request.query);
  if (!q.ok()) co_return error_response(q.error());
  auto page = co_await lists_.list_entries_page(*q);
  if (!page.ok()) co_return error_response(page.error());
  if (!page->has_value()) co_return error_response(make_error("not_found", "no such list"));
  const store::ListEntriesPage& p = **page;
  json::array items;
  items.reserve(p.items.size());
  for (const auto& e : p.items) items.emplace_back(e);
  json::object out{{"items", std::move(items)}};
  out["next_cursor"] =
      p.more && !p.items.empty() ? json::value(encode_entry_cursor(p.items.back())) : json::value(nullptr);
  out["total"] = p.total;
  co_return json_response(200, out);
}

Task<http::Response> RulesApi::list_lists(http::Request&) {
  auto lists = co_await lists_.list_lists();
  if (!lists.ok()) co_return error_response(lists.error());
  json::array items;
  for (const auto& s : *lists) items.emplace_back(list_summary_json(s));
  co_return json_response(200, json::object{{"items", std::move(items)}});
}

Task<http::Response> RulesApi::list_audit(http::Request& request) {
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
    co_return error_response(make_error("validation_failed", "invalid query parameters", std::move(issues)));
  }
  q.max_bytes = kMaxAuditPageBytes;
  auto page = co_await audit_.list_audit(q);
  if (!page.ok()) co_return error_response(page.error());
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
  co_return json_response(200, out);
}

}  // namespace txv::api

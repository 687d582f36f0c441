#include "cli/rules_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <tuple>

namespace txv::cli {
namespace {

namespace json = boost::json;

constexpr const char* kRuleKeys[] = {"id", "name", "expression", "action", "code", "priority", "mode"};
// Server-managed fields: accepted (a rule pasted from the API) and ignored.
constexpr const char* kIgnoredKeys[] = {"version", "created_at", "updated_at"};

std::string at(const YAML::Mark& m) {
  if (m.is_null()) return "";
  return "line " + std::to_string(m.line + 1) + ", column " + std::to_string(m.column + 1) + ": ";
}

Error file_error(const YAML::Mark& m, const std::string& what) { return make_error("validation_failed", at(m) + what); }

bool known(const std::string& key) {
  return std::find(std::begin(kRuleKeys), std::end(kRuleKeys), key) != std::end(kRuleKeys) ||
         std::find(std::begin(kIgnoredKeys), std::end(kIgnoredKeys), key) != std::end(kIgnoredKeys);
}

Result<std::string> scalar_string(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) return file_error(node.Mark(), what + ": expected a string");
  return node.Scalar();
}

Result<std::int64_t> scalar_int(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) return file_error(node.Mark(), what + ": expected an integer");
  std::int64_t v = 0;
  if (!YAML::convert<std::int64_t>::decode(node, v)) {
    return file_error(node.Mark(), what + ": expected an integer, got '" + node.Scalar() + "'");
  }
  return v;
}

Result<RuleSpec> read_rule(const YAML::Node& node, std::size_t index) {
  const std::string where = "rule " + std::to_string(index + 1);
  if (!node.IsMap()) return file_error(node.Mark(), where + ": expected a mapping (id, name, expression, ...)");
  RuleSpec rule;
  std::set<std::string> seen;
  for (const auto& kv : node) {
    auto key = scalar_string(kv.first, where + ": key");
    if (!key.ok()) return Error(key.error());
    if (!known(*key)) return file_error(kv.first.Mark(), where + ": unknown key '" + *key + "'");
    if (!seen.insert(*key).second) return file_error(kv.first.Mark(), where + ": key '" + *key + "' given twice");
    const std::string what = where + ": " + *key;
    if (*key == "priority") {
      auto p = scalar_int(kv.second, what);
      if (!p.ok()) return Error(p.error());
      rule.priority = *p;
      continue;
    }
    if (std::find(std::begin(kIgnoredKeys), std::end(kIgnoredKeys), *key) != std::end(kIgnoredKeys)) continue;
    auto v = scalar_string(kv.second, what);
    if (!v.ok()) return Error(v.error());
    if (*key == "id") rule.id = *v;
    if (*key == "name") rule.name = *v;
    if (*key == "expression") rule.expression = *v;
    if (*key == "action") rule.action = *v;
    if (*key == "code") rule.code = *v;
    if (*key == "mode") rule.mode = *v;
  }
  for (const char* required : {"name", "expression", "action", "code", "priority"}) {
    if (!seen.contains(required)) {
      return file_error(node.Mark(), where + ": missing key '" + std::string(required) + "'");
    }
  }
  return rule;
}

void emit_rule(YAML::Emitter& out, const RuleSpec& r) {
  out << YAML::BeginMap;
  if (!r.id.empty()) out << YAML::Key << "id" << YAML::Value << r.id;
  out << YAML::Key << "name" << YAML::Value << r.name;
  out << YAML::Key << "expression" << YAML::Value << r.expression;
  out << YAML::Key << "action" << YAML::Value << r.action;
  out << YAML::Key << "code" << YAML::Value << r.code;
  out << YAML::Key << "priority" << YAML::Value << r.priority;
  out << YAML::Key << "mode" << YAML::Value << r.mode;
  out << YAML::EndMap;
}

std::string quoted(const std::string& s) { return json::serialize(json::value(s)); }

std::string field_value(const RuleSpec& r, const std::string& field) {
  if (field == "name") return quoted(r.name);
  if (field == "expression") return quoted(r.expression);
  if (field == "action") return r.action;
  if (field == "code") return r.code;
  if (field == "priority") return std::to_string(r.priority);
  return r.mode;
}

std::string label(const RuleSpec& r) {
  std::string s = r.id.empty() ? std::string() : r.id + " ";
  return s + quoted(r.name) + " (" + r.action + " " + r.code + ", priority " + std::to_string(r.priority) + ", " +
         r.mode + ")";
}

}  // namespace

void sort_rules(std::vector<RuleSpec>& rules) {
  std::stable_sort(rules.begin(), rules.end(), [](const RuleSpec& a, const RuleSpec& b) {
    return std::forward_as_tuple(a.priority, a.id.empty(), a.id, a.name) <
           std::forward_as_tuple(b.priority, b.id.empty(), b.id, b.name);
  });
}

std::string write_rules_yaml(const RuleSet& set) {
  std::vector<RuleSpec> rules = set.rules;
  sort_rules(rules);
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  if (set.rules_version) out << YAML::Key << "rules_version" << YAML::Value << *set.rules_version;
  out << YAML::Key << "rules" << YAML::Value;
  if (rules.empty()) {
    out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
  } else {
    out << YAML::BeginSeq;
    for (const auto& r : rules) emit_rule(out, r);
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  std::string text = out.c_str();
  text += "\n";
  return text;
}

Result<RuleSet> read_rules_yaml(const std::string& text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return file_error(e.mark, "not valid YAML: " + e.msg);
  }
  if (!doc.IsMap()) return file_error(doc.Mark(), "expected a mapping with the keys rules_version and rules");
  RuleSet set;
  bool has_rules = false;
  try {
    for (const auto& kv : doc) {
      auto key = scalar_string(kv.first, "key");
      if (!key.ok()) return Error(key.error());
      if (*key == "rules_version") {
        auto v = scalar_int(kv.second, "rules_version");
        if (!v.ok()) return Error(v.error());
        set.rules_version = *v;
      } else if (*key == "rules") {
        has_rules = true;
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsSequence()) return file_error(kv.second.Mark(), "rules: expected a list of rules");
        std::set<std::string> ids;
        std::size_t i = 0;
        for (const auto& item : kv.second) {
          auto rule = read_rule(item, i++);
          if (!rule.ok()) return Error(rule.error());
          if (!rule->id.empty() && !ids.insert(rule->id).second) {
            return file_error(item.Mark(), "rule " + std::to_string(i) + ": id '" + rule->id + "' given twice");
          }
          set.rules.push_back(std::move(rule).value());
        }
      } else {
        return file_error(kv.first.Mark(), "unknown key '" + *key + "' (expected rules_version and rules)");
      }
    }
  } catch (const YAML::Exception& e) {
    return file_error(e.mark, e.msg);
  }
  if (!has_rules) return file_error(doc.Mark(), "missing key 'rules'");
  return set;
}

Result<RuleSet> rules_from_json(const std::string& body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) return make_error("internal", "the server's rule list is not a JSON object");
  const auto& obj = doc.as_object();
  const json::value* items = obj.if_contains("items");
  if (items == nullptr || !items->is_array()) return make_error("internal", "the server's rule list has no items");
  RuleSet set;
  if (const json::value* v = obj.if_contains("rules_version"); v != nullptr && v->is_int64()) {
    set.rules_version = v->as_int64();
  }
  auto str = [](const json::object& o, const char* k) {
    const json::value* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  for (const auto& item : items->as_array()) {
    if (!item.is_object()) return make_error("internal", "the server's rule list holds a non-object");
    const auto& o = item.as_object();
    RuleSpec r;
    r.id = str(o, "id");
    r.name = str(o, "name");
    r.expression = str(o, "expression");
    r.action = str(o, "action");
    r.code = str(o, "code");
    r.mode = str(o, "mode");
    if (const json::value* p = o.if_contains("priority"); p != nullptr && p->is_int64()) r.priority = p->as_int64();
    set.rules.push_back(std::move(r));
  }
  sort_rules(set.rules);
  return set;
}

std::string rules_to_json_array(const std::vector<RuleSpec>& rules, const std::vector<std::string>* only_ids) {
  json::array out;
  for (const auto& r : rules) {
    json::object o;
    if (!r.id.empty() &&
        (only_ids == nullptr || std::find(only_ids->begin(), only_ids->end(), r.id) != only_ids->end())) {
      o["id"] = r.id;
    }
    o["name"] = r.name;
    o["expression"] = r.expression;
    o["action"] = r.action;
    o["code"] = r.code;
    o["priority"] = r.priority;
    o["mode"] = r.mode;
    out.push_back(std::move(o));
  }
  return json::serialize(out);
}

RulesDiff diff_rules(const std::vector<RuleSpec>& live, const std::vector<RuleSpec>& proposed) {
  RulesDiff diff;
  std::vector<RuleChange> creates, updates, deletes;
  std::set<std::string> named;
  for (const auto& p : proposed) {
    auto it = p.id.empty() ? live.end()
                           : std::find_if(live.begin(), live.end(), [&](const RuleSpec& l) { return l.id == p.id; });
    if (it == live.end()) {
      creates.push_back({RuleChange::Kind::kCreate, p, {}, {}});
      continue;
    }
    named.insert(p.id);
    RuleChange c{RuleChange::Kind::kUpdate, p, {}, *it};
    if (p.name != it->name) c.fields.push_back("name");
    if (p.expression != it->expression) c.fields.push_back("expression");
    if (p.action != it->action) c.fields.push_back("action");
    if (p.code != it->code) c.fields.push_back("code");
    if (p.priority != it->priority) c.fields.push_back("priority");
    if (p.mode != it->mode) c.fields.push_back("mode");
    if (c.fields.empty()) {
      ++diff.unchanged;
    } else {
      updates.push_back(std::move(c));
    }
  }
  for (const auto& l : live) {
    if (!named.contains(l.id)) deletes.push_back({RuleChange::Kind::kDelete, l, {}, {}});
  }
  for (auto* group : {&creates, &updates, &deletes}) {
    for (auto& c : *group) diff.changes.push_back(std::move(c));
  }
  return diff;
}

std::vector<RuleSpec> adopt_live_ids(const std::vector<RuleSpec>& live, std::vector<RuleSpec> proposed) {
  std::set<std::string> taken;
  for (const auto& p : proposed) {
    if (!p.id.empty()) taken.insert(p.id);
  }
  for (auto& p : proposed) {
    if (!p.id.empty()) continue;
    for (const auto& l : live) {
      if (taken.contains(l.id)) continue;
      RuleSpec candidate = p;
      candidate.id = l.id;
      if (candidate == l) {
        p.id = l.id;
        taken.insert(l.id);
        break;
      }
    }
  }
  return proposed;
}

std::string format_diff(const RulesDiff& diff) {
  std::string out;
  for (const auto& c : diff.changes) {
    switch (c.kind) {
      case RuleChange::Kind::kCreate:
        out += "+ create " + label(c.rule) + "\n";
        out += "    expression: " + quoted(c.rule.expression) + "\n";
        break;
      case RuleChange::Kind::kUpdate:
        out += "~ update " + c.rule.id + " " + quoted(c.rule.name) + "\n";
        for (const auto& f : c.fields) {
          out += "    " + f + ": " + field_value(c.before, f) + " -> " + field_value(c.rule, f) + "\n";
        }
        break;
      case RuleChange::Kind::kDelete:
        out += "- delete " + label(c.rule) + "\n";
        break;
    }
  }
  std::size_t creates = 0, updates = 0, deletes = 0;
  for (const auto& c : diff.changes) {
    creates += c.kind == RuleChange::Kind::kCreate;
    updates += c.kind == RuleChange::Kind::kUpdate;
    deletes += c.kind == RuleChange::Kind::kDelete;
  }
  if (diff.empty()) {
    out += "nothing to change (" + std::to_string(diff.unchanged) + " unchanged)\n";
  } else {
    out += std::to_string(creates) + " to create, " + std::to_string(updates) + " to update, " +
           std::to_string(deletes) + " to delete, " + std::to_string(diff.unchanged) + " unchanged\n";
  }
  return out;
}

}  // namespace txv::cli

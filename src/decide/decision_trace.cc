#include "decide/decision_trace.h"

#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <vector>

#include "common/hex.h"

namespace txv::decide {

namespace json = boost::json;

namespace {

Error undecodable() { return make_error("internal", "a stored decision trace does not decode"); }

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  return std::move(doc.as_object());
}

const char* mode_name(std::string_view mode) { return mode == "e" ? "enforce" : "shadow"; }

const char* result_name(char result) { return result == 'm' ? "match" : result == 'n' ? "no_match" : "absent"; }

bool valid_index(const json::value& v, std::size_t size) {
  return v.is_int64() && v.as_int64() >= 0 && static_cast<std::size_t>(v.as_int64()) < size;
}

Result<json::array> expand_self_contained(const json::object& o) {
  const json::value* r = o.if_contains("r");
  const json::value* x = o.if_contains("x");
  if (r == nullptr || !r->is_array() || x == nullptr || !x->is_array()) return undecodable();
  const json::array& values = x->as_array();
  for (const json::value& v : values) {
    if (!v.is_array() || v.as_array().size() != 2 || !v.as_array()[0].is_string()) return undecodable();
  }
  json::array out;
  for (const json::value& rule : r->as_array()) {
    if (!rule.is_array()) return undecodable();
    const json::array& a = rule.as_array();
    if (a.size() != 5 || !a[0].is_string() || !a[1].is_int64() || !a[2].is_string() || !a[3].is_string() ||
        !a[4].is_array()) {
      return undecodable();
    }
    const std::string_view mode = a[2].as_string();
    const std::string_view result = a[3].as_string();
    if ((mode != "e" && mode != "s") || (result != "m" && result != "n" && result != "a")) return undecodable();
    json::array rule_values;
    for (const json::value& i : a[4].as_array()) {
      if (!valid_index(i, values.size())) return undecodable();
      const json::array& pair = values[static_cast<std::size_t>(i.as_int64())].as_array();
      rule_values.emplace_back(json::object{{"expr", pair[0]}, {"value", pair[1]}});
    }
    out.emplace_back(json::object{{"rule_id", a[0]},
                                  {"rule_version", a[1]},
                                  {"mode", mode_name(mode)},
                                  {"result", result_name(result[0])},
                                  {"values", std::move(rule_values)}});
  }
  return out;
}

Result<json::array> expand_with_layout(const json::object& o, std::string_view layout_text) {
  auto layout = parse_object(layout_text);
  if (!layout) return undecodable();
  const json::value* lr = layout->if_contains("r");
  const json::value* lx = layout->if_contains("x");
  const json::value* r = o.if_contains("r");
  const json::value* v = o.if_contains("v");
  const json::value* u = o.if_contains("u");
  if (lr == nullptr || !lr->is_array() || lx == nullptr || !lx->is_array() || r == nullptr || !r->is_string() ||
      v == nullptr || !v->is_array() || (u != nullptr && !u->is_array())) {
    return undecodable();
  }
  const json::array& rules = lr->as_array();
  const json::array& exprs = lx->as_array();
  const std::string_view results = r->as_string();
  if (results.size() != rules.size()) return undecodable();
  std::map<std::int64_t, const json::value*> values;  // by expression index
  for (const json::value& pair : v->as_array()) {
    if (!pair.is_array() || pair.as_array().size() != 2 || !valid_index(pair.as_array()[0], exprs.size())) {
      return undecodable();
    }
    values[pair.as_array()[0].as_int64()] = &pair.as_array()[1];
  }
  std::map<std::int64_t, const json::array*> partial;  // rule index -> the positions it read
  if (u != nullptr) {
    for (const json::value& entry : u->as_array()) {
      if (!entry.is_array() || entry.as_array().size() != 2 || !valid_index(entry.as_array()[0], rules.size()) ||
          !entry.as_array()[1].is_array()) {
        return undecodable();
      }
      partial[entry.as_array()[0].as_int64()] = &entry.as_array()[1].as_array();
    }
  }
  json::array out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (!rules[i].is_array()) return undecodable();
    const json::array& a = rules[i].as_array();
    if (a.size() != 4 || !a[0].is_string() || !a[1].is_int64() || !a[2].is_string() || !a[3].is_array()) {
      return undecodable();
    }
    const std::string_view mode = a[2].as_string();
    const char result = results[i];
    if ((mode != "e" && mode != "s") || (result != 'm' && result != 'n' && result != 'a')) return undecodable();
    const json::array& reads = a[3].as_array();
    std::vector<std::size_t> positions;
    if (auto p = partial.find(static_cast<std::int64_t>(i)); p != partial.end()) {
      for (const json::value& position : *p->second) {
        if (!valid_index(position, reads.size())) return undecodable();
        positions.push_back(static_cast<std::size_t>(position.as_int64()));
      }
    } else {
      for (std::size_t p = 0; p < reads.size(); ++p) positions.push_back(p);
    }
    json::array rule_values;
    for (std::size_t p : positions) {
      if (!valid_index(reads[p], exprs.size())) return undecodable();
      auto value = values.find(reads[p].as_int64());
      if (value == values.end()) return undecodable();
      rule_values.emplace_back(
          json::object{{"expr", exprs[static_cast<std::size_t>(reads[p].as_int64())]}, {"value", *value->second}});
    }
    out.emplace_back(json::object{{"rule_id", a[0]},
                                  {"rule_version", a[1]},
                                  {"mode", mode_name(mode)},
                                  {"result", result_name(result)},
                                  {"values", std::move(rule_values)}});
  }
  return out;
}

}  // namespace

std::string trace_layout_id(std::string_view layout) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(layout.data(), layout.size(), md, &len, EVP_sha256(), nullptr);
  return hex_encode(md, 8);
}

std::optional<std::string> stored_trace_layout(std::string_view stored) {
  if (stored.empty()) return std::nullopt;
  auto o = parse_object(stored);
  if (!o) return std::nullopt;
  const json::value* f = o->if_contains("f");
  const json::value* l = o->if_contains("l");
  if (f == nullptr || !f->is_int64() || f->as_int64() != 2 || l == nullptr || !l->is_string()) return std::nullopt;
  return std::string(l->as_string());
}

Result<json::array> expand_decision_trace(std::string_view stored, std::string_view layout) {
  if (stored.empty()) return json::array{};
  auto o = parse_object(stored);
  if (!o) return undecodable();
  const json::value* f = o->if_contains("f");
  if (f == nullptr || !f->is_int64()) return undecodable();
  if (f->as_int64() == 1) return expand_self_contained(*o);
  if (f->as_int64() == 2) return expand_with_layout(*o, layout);
  return undecodable();
}

}  // namespace txv::decide

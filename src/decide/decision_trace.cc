#include "decide/decision_trace.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace txv::decide {

namespace json = boost::json;

Result<json::array> expand_decision_trace(std::string_view stored) {
  json::array out;
  if (stored.empty()) return out;
  const auto bad = [] { return make_error("internal", "a stored decision trace does not decode"); };
  boost::system::error_code ec;
  json::value doc = json::parse(stored, ec);
  if (ec || !doc.is_object()) return bad();
  const json::object& o = doc.as_object();
  const json::value* f = o.if_contains("f");
  const json::value* r = o.if_contains("r");
  const json::value* x = o.if_contains("x");
  if (f == nullptr || !f->is_int64() || f->as_int64() != 1 || r == nullptr || !r->is_array() || x == nullptr ||
      !x->is_array()) {
    return bad();
  }
  const json::array& values = x->as_array();
  for (const json::value& v : values) {
    if (!v.is_array() || v.as_array().size() != 2 || !v.as_array()[0].is_string()) return bad();
  }
  for (const json::value& rule : r->as_array()) {
    if (!rule.is_array()) return bad();
    const json::array& a = rule.as_array();
    if (a.size() != 5 || !a[0].is_string() || !a[1].is_int64() || !a[2].is_string() || !a[3].is_string() ||
        !a[4].is_array()) {
      return bad();
    }
    const std::string_view mode = a[2].as_string();
    const std::string_view result = a[3].as_string();
    if ((mode != "e" && mode != "s") || (result != "m" && result != "n" && result != "a")) return bad();
    json::array rule_values;
    for (const json::value& i : a[4].as_array()) {
      if (!i.is_int64() || i.as_int64() < 0 || static_cast<std::size_t>(i.as_int64()) >= values.size()) return bad();
      const json::array& pair = values[static_cast<std::size_t>(i.as_int64())].as_array();
      rule_values.emplace_back(json::object{{"expr", pair[0]}, {"value", pair[1]}});
    }
    out.emplace_back(json::object{{"rule_id", a[0]},
                                  {"rule_version", a[1]},
                                  {"mode", mode == "e" ? "enforce" : "shadow"},
                                  {"result", result == "m"   ? "match"
                                             : result == "n" ? "no_match"
                                                             : "absent"},
                                  {"values", std::move(rule_values)}});
  }
  return out;
}

}  // namespace txv::decide

// Test helper: reads one list of Debian's iso-codes JSON files
// (/usr/share/iso-codes/json, package iso-codes).
#pragma once

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace txv::domain::test_util {

// The values of `field` of every entry in `file`'s list `list`, e.g.
// ("iso_4217.json", "4217", "alpha_3"). Empty when the file is missing or
// malformed; callers assert non-empty so a missing package fails loudly.
inline std::set<std::string> iso_codes_field(const std::string& file, const char* list, const char* field) {
  std::ifstream in(std::string(TXV_ISO_CODES_DIR) + "/" + file);
  std::stringstream buf;
  buf << in.rdbuf();
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(buf.str(), ec);
  std::set<std::string> out;
  if (ec || !doc.is_object()) return out;
  const auto* entries = doc.as_object().if_contains(list);
  if (entries == nullptr || !entries->is_array()) return out;
  for (const auto& e : entries->as_array()) {
    if (!e.is_object()) continue;
    if (const auto* v = e.as_object().if_contains(field); v != nullptr && v->is_string()) {
      out.emplace(v->as_string().c_str());
    }
  }
  return out;
}

}  // namespace txv::domain::test_util

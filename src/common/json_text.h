// JSON text helpers for the few places that write JSON by hand on a hot path
// (log lines, decision traces) instead of building a Boost.JSON value.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace txv {

// Appends `s` as a JSON string literal (quotes included): '"' and '\\' escaped,
// \b \f \n \r \t as such, other control characters as \u00XX (lower-case
// hex); every other byte copied as it is (callers pass valid UTF-8). Request
// hashes are computed over this form (api/mapping/canonical_json.cc): keep it.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// Appends `v` as a JSON number, without a temporary string.
inline void append_json_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace txv

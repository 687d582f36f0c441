// JSON text helpers for the few places that write JSON by hand on a hot path
// (log lines, decision traces) instead of building a Boost.JSON value.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace txv {

// Appends `s` as a JSON string literal (quotes included). Escapes '"', '\\' and
// every control character; other bytes are copied as they are (callers pass
// valid UTF-8).
inline void append_json_string(std::string& out, std::string_view s) {
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
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace txv

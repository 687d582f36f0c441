#include "api/mapping/canonical_json.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <string_view>
#include <vector>

#include "common/json_text.h"

namespace txv::api {
namespace {

namespace json = boost::json;

// The one JSON string escaping (common/json_text.h): part of what request hashes are computed over, so it must
// not change.
void write_string(std::string& out, std::string_view s) { append_json_string(out, s); }

template <typename Int>
void write_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Finite values as ECMAScript Number::toString(10) writes them; see the header for the rest.
void write_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "null";
    return;
  }
  if (std::isinf(d)) {
    out += d > 0 ? "1e999" : "-1e999";
    return;
  }
  if (d == 0) {  // both zeros
    out += '0';
    return;
  }
  if (d < 0) {
    out += '-';
    d = -d;
  }
  // Shortest round-trip digits in scientific form: "d[.ddd]e±XX".
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  const std::size_t e = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // the value is 0.DIGITS × 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    write_integer(out, n - 1 >= 0 ? n - 1 : 1 - n);
  }
}

void write_value(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      write_integer(out, v.get_int64());
      break;
    case json::kind::uint64:
      write_integer(out, v.get_uint64());
      break;
    case json::kind::double_:
      write_double(out, v.get_double());
      break;
    case json::kind::string:
      write_string(out, v.get_string());
      break;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_value(out, e);
      }
      out += ']';
      break;
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      std::vector<const json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& kv : o) members.push_back(&kv);
      // std::string_view compares through char_traits<char>, i.e. as unsigned bytes.
      std::sort(members.begin(), members.end(),
                [](const json::key_value_pair* a, const json::key_value_pair* b) { return a->key() < b->key(); });
      out += '{';
      bool first = true;
      for (const auto* kv : members) {
        if (!first) out += ',';
        first = false;
        write_string(out, kv->key());
        out += ':';
        write_value(out, kv->value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string canonical_json(const boost::json::value& v) {
  std::string out;
  write_value(out, v);
  return out;
}

}  // namespace txv::api

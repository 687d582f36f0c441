// Syntax checks for identifiers and contact fields of a transaction request
// (API contract section 3). Each answers yes/no; the request mapper decides
// which issue to report.
#pragma once

#include <cstddef>
#include <string_view>

namespace txv::domain {

inline constexpr std::size_t kMaxIdLength = 64;
inline constexpr std::size_t kMaxEmailLength = 254;

// The id charset: A-Z a-z 0-9 . _ : -
bool is_id_char(char c);

// transaction_id / merchant_id: 1–64 characters, all from the id charset.
bool is_valid_id(std::string_view s);

// An IPv4 dotted-quad (no leading zeros, as glibc's inet_pton) or an IPv6
// literal (RFC 4291 text forms, including embedded IPv4). No brackets, zone
// ids, ports or prefix lengths.
bool is_ip_literal(std::string_view s);

// At most 254 characters (code points), exactly one '@' with a non-empty part
// on each side, and no whitespace or control characters (ASCII controls,
// space, DEL and the C1 controls U+0080–U+009F). Deliberately no deeper RFC
// 5322 parsing: the point is to catch garbage, not to judge deliverability.
bool is_valid_email(std::string_view s);

// Merchant category code: exactly 4 ASCII digits.
bool is_valid_mcc(std::string_view s);

// True when every character is an ASCII digit (true for "").
bool all_ascii_digits(std::string_view s);

// Number of Unicode code points in valid UTF-8 text (bytes that are not
// continuation bytes). Length limits stated in "chars" count these.
std::size_t utf8_length(std::string_view s);

}  // namespace txv::domain

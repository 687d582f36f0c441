#include "domain/identifiers.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

namespace txv::domain {

bool is_id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == ':' || c == '-';
}

bool is_valid_id(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIdLength && std::all_of(s.begin(), s.end(), is_id_char);
}

bool is_ip_literal(std::string_view s) {
  // The longest IPv6 text form is 45 characters ("ffff:...:ffff:255.255.255.255").
  // inet_pton wants a NUL-terminated string, so an embedded NUL must be refused
  // here or "1.2.3.4\0junk" would pass.
  constexpr std::size_t kMaxText = 45;
  if (s.empty() || s.size() > kMaxText || s.find('\0') != std::string_view::npos) return false;
  std::array<char, kMaxText + 1> text{};
  std::copy(s.begin(), s.end(), text.begin());
  unsigned char addr[16];
  const int family = s.find(':') != std::string_view::npos ? AF_INET6 : AF_INET;
  return inet_pton(family, text.data(), addr) == 1;
}

bool is_valid_email(std::string_view s) {
  if (s.empty() || utf8_length(s) > kMaxEmailLength) return false;
  const std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size()) return false;
  if (s.find('@', at + 1) != std::string_view::npos) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= 0x20 || c == 0x7f) return false;
    // C1 controls are U+0080–U+009F, encoded as C2 80 … C2 9F.
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(s[i + 1]) >= 0x80) {
      return false;
    }
  }
  return true;
}

bool all_ascii_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_valid_mcc(std::string_view s) { return s.size() == 4 && all_ascii_digits(s); }

std::size_t utf8_length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

}  // namespace txv::domain

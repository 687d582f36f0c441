#include "domain/card.h"

#include <date/date.h>

#include <array>
#include <cstdint>

namespace txv::domain {
namespace {

constexpr const char* kBrandNames[] = {"visa", "mastercard", "amex",     "discover",
                                       "jcb",  "diners",     "unionpay", "maestro"};

struct IinRange {
  std::uint32_t low;
  std::uint32_t high;
  std::size_t digits;  // prefix length that low/high are written in
  CardBrand brand;
};

// See card.h for the table this encodes and the longest-prefix rule.
constexpr std::array kIinRanges = {
    IinRange{4, 4, 1, CardBrand::kVisa},
    IinRange{51, 55, 2, CardBrand::kMastercard},
    IinRange{2221, 2720, 4, CardBrand::kMastercard},
    IinRange{34, 34, 2, CardBrand::kAmex},
    IinRange{37, 37, 2, CardBrand::kAmex},
    IinRange{6011, 6011, 4, CardBrand::kDiscover},
    IinRange{644, 649, 3, CardBrand::kDiscover},
    IinRange{65, 65, 2, CardBrand::kDiscover},
    IinRange{622126, 622925, 6, CardBrand::kDiscover},
    IinRange{3528, 3589, 4, CardBrand::kJcb},
    IinRange{300, 305, 3, CardBrand::kDiners},
    IinRange{36, 36, 2, CardBrand::kDiners},
    IinRange{38, 39, 2, CardBrand::kDiners},
    IinRange{62, 62, 2, CardBrand::kUnionpay},
    IinRange{50, 50, 2, CardBrand::kMaestro},
    IinRange{56, 58, 2, CardBrand::kMaestro},
    IinRange{6304, 6304, 4, CardBrand::kMaestro},
    IinRange{6759, 6759, 4, CardBrand::kMaestro},
    IinRange{6761, 6763, 4, CardBrand::kMaestro},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The number formed by the first n characters, or nullopt when there are fewer
// than n or one of them is not a digit.
std::optional<std::uint32_t> prefix_value(std::string_view digits, std::size_t n) {
  if (digits.size() < n) return std::nullopt;
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(digits[i])) return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(digits[i] - '0');
  }
  return v;
}

}  // namespace

const char* to_string(CardBrand b) { return kBrandNames[static_cast<int>(b)]; }

bool luhn_valid(std::string_view digits) {
  if (digits.empty()) return false;
  unsigned sum = 0;
  bool double_it = false;  // every second digit from the right, check digit excluded
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) return false;
    unsigned d = static_cast<unsigned>(*it - '0');
    if (double_it) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double_it = !double_it;
  }
  return sum % 10 == 0;
}

std::optional<CardBrand> detect_brand(std::string_view digits) {
  std::optional<CardBrand> best;
  std::size_t best_digits = 0;
  for (const IinRange& r : kIinRanges) {
    if (r.digits <= best_digits) continue;
    auto p = prefix_value(digits, r.digits);
    if (p && *p >= r.low && *p <= r.high) {
      best = r.brand;
      best_digits = r.digits;
    }
  }
  return best;
}

bool brand_accepts_length(CardBrand brand, std::size_t length) {
  switch (brand) {
    case CardBrand::kVisa:
      return length == 13 || length == 16 || length == 19;
    case CardBrand::kMastercard:
      return length == 16;
    case CardBrand::kAmex:
      return length == 15;
    case CardBrand::kDiscover:
    case CardBrand::kJcb:
    case CardBrand::kUnionpay:
      return length >= 16 && length <= 19;
    case CardBrand::kDiners:
      return length >= 14 && length <= 19;
    case CardBrand::kMaestro:
      return length >= 12 && length <= 19;
  }
  return false;
}

CardNumberCheck card_number_check(std::string_view number) {
  CardNumberCheck out;
  out.brand = detect_brand(number);
  out.valid = number.size() >= 12 && number.size() <= 19 && luhn_valid(number) && out.brand &&
              brand_accepts_length(*out.brand, number.size());
  return out;
}

std::string_view card_bin(std::string_view number) { return number.size() >= 6 ? number.substr(0, 6) : ""; }

std::string_view card_last4(std::string_view number) {
  return number.size() >= 4 ? number.substr(number.size() - 4) : "";
}

bool card_expired(int expiry_month, int expiry_year, TimePoint occurred_at) {
  if (expiry_month < 1 || expiry_month > 12) return true;
  // First instant after the expiry month: the 1st of the following month, 00:00 UTC.
  const date::year_month first_after =
      date::year{expiry_year} / date::month{static_cast<unsigned>(expiry_month)} + date::months{1};
  const date::sys_days end{first_after / date::day{1}};
  return occurred_at >= end;
}

}  // namespace txv::domain

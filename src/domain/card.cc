#include "domain/card.h"

#include <date/date.h>

#include <array>
#include <cstdint>
#include <iterator>

namespace txv::domain {
namespace {

constexpr const char* kBrandNames[] = {
#define TXV_CARD_BRAND(enumerator, name) name,
#include "domain/card_brands.inc"
#undef TXV_CARD_BRAND
};
static_assert(std::size(kBrandNames) == kCardBrandCount);

// Valid PAN lengths as a bit set: bit n set means n digits are valid.
using LengthSet = std::uint32_t;
constexpr LengthSet length_bit(unsigned n) { return LengthSet{1} << n; }
constexpr LengthSet length_bits(unsigned min, unsigned max) {
  LengthSet s = 0;
  for (unsigned n = min; n <= max; ++n) s |= length_bit(n);
  return s;
}
constexpr LengthSet kPanLengths = length_bits(12, 19);  // what card_number_check() accepts at all

struct IinRange {
  std::uint32_t low;
  std::uint32_t high;
  std::size_t digits;  // prefix length that low/high are written in
  CardBrand brand;
  LengthSet lengths;
};

constexpr std::size_t decimal_digits(std::uint32_t v) {
  std::size_t n = 1;
  while (v >= 10) {
    v /= 10;
    ++n;
  }
  return n;
}

constexpr IinRange range(std::uint32_t low, std::uint32_t high, CardBrand brand, LengthSet lengths) {
  return IinRange{low, high, decimal_digits(low), brand, lengths};
}

constexpr std::array kIinRanges = {
#define TXV_LEN(n) length_bit(n)
#define TXV_LEN_RANGE(min, max) length_bits(min, max)
#define TXV_IIN_RANGE(low, high, brand, lengths) range(low, high, CardBrand::brand, lengths),
#include "domain/card_brands.inc"
#undef TXV_IIN_RANGE
#undef TXV_LEN_RANGE
#undef TXV_LEN
};

constexpr std::size_t kMaxPrefixDigits = 6;

// The rules card_brands.inc promises, checked when this file compiles.
constexpr bool table_is_well_formed() {
  for (std::size_t i = 0; i < kIinRanges.size(); ++i) {
    const IinRange& a = kIinRanges[i];
    if (a.low > a.high || decimal_digits(a.high) != a.digits || a.digits > kMaxPrefixDigits) return false;
    if (a.lengths == 0 || (a.lengths & ~kPanLengths) != 0) return false;
    if (static_cast<std::size_t>(a.brand) >= kCardBrandCount) return false;
    for (std::size_t j = i + 1; j < kIinRanges.size(); ++j) {
      const IinRange& b = kIinRanges[j];
      if (a.digits == b.digits && a.low <= b.high && b.low <= a.high) return false;
    }
  }
  return true;
}
static_assert(table_is_well_formed(), "card_brands.inc: a range is malformed or overlaps another of its prefix length");

// Every brand has at least one range.
constexpr bool every_brand_has_a_range() {
  for (std::size_t b = 0; b < kCardBrandCount; ++b) {
    bool found = false;
    for (const IinRange& r : kIinRanges) found = found || static_cast<std::size_t>(r.brand) == b;
    if (!found) return false;
  }
  return true;
}
static_assert(every_brand_has_a_range(), "card_brands.inc: a brand has no IIN range");

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The range with the longest prefix that `digits` starts with, or nullptr.
// Reads at most the first 6 characters and stops at the first non-digit.
const IinRange* match_range(std::string_view digits) {
  std::uint32_t prefix[kMaxPrefixDigits + 1] = {};  // prefix[n]: value of the first n digits
  std::size_t available = 0;
  while (available < kMaxPrefixDigits && available < digits.size() && is_digit(digits[available])) {
    prefix[available + 1] = prefix[available] * 10 + static_cast<std::uint32_t>(digits[available] - '0');
    ++available;
  }
  const IinRange* best = nullptr;
  for (const IinRange& r : kIinRanges) {
    if (r.digits > available || (best != nullptr && r.digits <= best->digits)) continue;
    const std::uint32_t p = prefix[r.digits];
    if (p >= r.low && p <= r.high) best = &r;
  }
  return best;
}

bool accepts(LengthSet set, std::size_t length) {
  return length < 32 && (set & length_bit(static_cast<unsigned>(length))) != 0;
}

}  // namespace

const char* to_string(CardBrand b) {
  const auto i = static_cast<std::size_t>(b);
  return i < kCardBrandCount ? kBrandNames[i] : "";
}

std::optional<CardBrand> card_brand_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kCardBrandCount; ++i) {
    if (name == kBrandNames[i]) return static_cast<CardBrand>(i);
  }
  return std::nullopt;
}

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
  const IinRange* r = match_range(digits);
  return r ? std::optional<CardBrand>(r->brand) : std::nullopt;
}

bool brand_accepts_length(CardBrand brand, std::size_t length) {
  for (const IinRange& r : kIinRanges) {
    if (r.brand == brand && accepts(r.lengths, length)) return true;
  }
  return false;
}

CardNumberCheck card_number_check(std::string_view number) {
  CardNumberCheck out;
  const IinRange* r = match_range(number);
  if (r != nullptr) out.brand = r->brand;
  out.valid = r != nullptr && accepts(r->lengths, number.size()) && luhn_valid(number);
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

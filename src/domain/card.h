// Card number checks behind the decision checks `invalid_card_number` and
// `card_expired` (API contract section 3). Pure functions: no I/O, and nothing
// here logs, stores or formats a card number.
//
// Brands are recognised by IIN (issuer identification number) prefix, from the
// one reviewed table in card_brands.inc (its header gives the sources, the
// review date and how overlapping publications were decided). Where ranges
// overlap the longest matching prefix wins (493698 is maestro although visa
// owns all of 4), and the valid lengths are those of the range that matched.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "domain/transaction.h"

namespace txv::domain {

enum class CardBrand {
#define TXV_CARD_BRAND(enumerator, name) enumerator,
#include "domain/card_brands.inc"
#undef TXV_CARD_BRAND
};

inline constexpr std::size_t kCardBrandCount = 0
#define TXV_CARD_BRAND(enumerator, name) +1
#include "domain/card_brands.inc"
#undef TXV_CARD_BRAND
    ;

// Contract spelling: "visa", "mastercard", "amex", "discover", "jcb", "diners",
// "unionpay", "maestro", "mir", "elo", "rupay", "verve", "troy".
const char* to_string(CardBrand b);

// The brand spelled `name` exactly as to_string() writes it, or nullopt.
std::optional<CardBrand> card_brand_from_string(std::string_view name);

// True when `digits` is non-empty, all ASCII digits and passes the Luhn (mod 10) check.
bool luhn_valid(std::string_view digits);

// The brand whose IIN range `digits` starts with (longest match), whatever the
// length or check digit; nullopt when no range matches or a non-digit occurs
// within the first 6 characters.
std::optional<CardBrand> detect_brand(std::string_view digits);

// Whether `brand` issues PANs of `length` digits in at least one of its ranges.
// card_number_check() is stricter: it checks the lengths of the matched range.
bool brand_accepts_length(CardBrand brand, std::size_t length);

struct CardNumberCheck {
  // False means the decision check `invalid_card_number` fails: not 12–19 ASCII
  // digits, Luhn fails, no known brand range, or a length the matched range
  // never issues.
  bool valid = false;
  // The IIN's brand when one matched, set even when `valid` is false (e.g. a
  // visa prefix with a bad check digit), so a decline can still report it.
  std::optional<CardBrand> brand;
};

CardNumberCheck card_number_check(std::string_view number);

// First 6 digits and last 4 digits of a number; "" when the number is shorter
// than 6 (resp. 4) characters. Callers pass a number that passed the request's
// shape check (12–19 digits), so both are always set in practice.
std::string_view card_bin(std::string_view number);
std::string_view card_last4(std::string_view number);

// True when the card's expiry month ended before `occurred_at`: a card is
// valid through the last millisecond of its expiry month, in UTC. A month
// outside 1–12 is treated as expired (fail closed); the request mapper never
// lets one through.
bool card_expired(int expiry_month, int expiry_year, TimePoint occurred_at);

}  // namespace txv::domain

// Card number checks behind the decision checks `invalid_card_number` and
// `card_expired` (API contract section 3). Pure functions: no I/O, and nothing
// here logs, stores or formats a card number.
//
// Brands are recognised by IIN (issuer identification number) prefix. Where
// ranges overlap, the longest matching prefix wins; that is how
// 622126–622925 resolves to discover although unionpay owns all of 62.
//
//   brand       IIN prefixes                                   valid lengths
//   visa        4                                              13, 16, 19
//   mastercard  51–55, 2221–2720                               16
//   amex        34, 37                                         15
//   discover    6011, 644–649, 65, 622126–622925               16–19
//   jcb         3528–3589                                      16–19
//   diners      300–305, 36, 38–39                             14–19
//   unionpay    62 (except discover's 622126–622925)           16–19
//   maestro     50, 56–58, 6304, 6759, 6761–6763               12–19
//
// No two ranges of the same prefix length overlap, so the result never
// depends on table order.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "domain/transaction.h"

namespace txv::domain {

enum class CardBrand { kVisa, kMastercard, kAmex, kDiscover, kJcb, kDiners, kUnionpay, kMaestro };

// Contract spelling: "visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay", "maestro".
const char* to_string(CardBrand b);

// True when `digits` is non-empty, all ASCII digits and passes the Luhn (mod 10) check.
bool luhn_valid(std::string_view digits);

// The brand whose IIN range `digits` starts with (longest match), whatever the
// length or check digit; nullopt when no range matches or a non-digit occurs
// within the first 6 characters.
std::optional<CardBrand> detect_brand(std::string_view digits);

// Whether `length` is a valid PAN length for `brand` (table above).
bool brand_accepts_length(CardBrand brand, std::size_t length);

struct CardNumberCheck {
  // False means the decision check `invalid_card_number` fails: not 12–19 ASCII
  // digits, Luhn fails, no known brand range, or a length that brand never issues.
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

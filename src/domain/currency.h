// ISO 4217 currencies a transaction may be in, with their minor units.
//
// The table is ISO 4217 Table A.1 (current currencies and funds) minus the
// entries without minor units ("N.A.": precious metals XAU XAG XPD XPT, bond
// market units XBA–XBD, XDR, XSU, XUA, the testing code XTS and "no currency"
// XXX), because an amount in minor units means nothing for them. Codes
// withdrawn since Debian's iso-codes 4.15 list (HRK 2023, SLL 2024, ZWL 2024,
// ANG 2025, BGN 2026) are left out, and the codes introduced since (ZWG, XCG)
// are in; currency_test.cc pins both differences against that file.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace txv::domain {

struct CurrencyInfo {
  std::string_view code;  // upper case, e.g. "USD"
  int minor_units;        // decimal places of the minor unit: USD 2, JPY 0, KWD 3, CLF 4
};

// Look-up ignoring ASCII case ("usd", "Usd" and "USD" find USD); nullopt for
// anything that is not a code in the table.
std::optional<CurrencyInfo> find_currency(std::string_view code);

// The whole table, sorted by code.
std::span<const CurrencyInfo> all_currencies();

}  // namespace txv::domain

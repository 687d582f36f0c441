// ISO 3166-1 alpha-2 country codes (the 249 officially assigned ones).
//
// Matching is exact and upper case only: the contract asks for alpha-2 codes,
// which ISO writes in upper case, and "us" is far more often a bug upstream
// (a language tag, a lower-cased field) than a country. User-assigned codes
// such as XK are not accepted.
#pragma once

#include <span>
#include <string_view>

namespace txv::domain {

bool is_country_code(std::string_view code);

// The whole set, sorted.
std::span<const std::string_view> all_country_codes();

}  // namespace txv::domain

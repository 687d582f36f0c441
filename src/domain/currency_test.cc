#include "domain/currency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "domain/iso_codes_test_util.h"

namespace txv::domain {
namespace {

// Codes in our table that iso-codes 4.15 (Debian bookworm) predates.
const std::set<std::string> kNewerThanIsoCodes = {
    "XCG",  // Caribbean guilder, replaces ANG from 2025-03-31
    "ZWG",  // Zimbabwe Gold, replaces ZWL from 2024-06-25
};

// Codes in iso-codes 4.15 that we leave out on purpose (see currency.h).
const std::set<std::string> kLeftOut = {
    // withdrawn
    "ANG", "BGN", "HRK", "SLL", "ZWL",
    // no minor unit ("N.A." in ISO 4217)
    "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"};

TEST(Currency, TableIsSortedUniqueUpperCase) {
  const auto table = all_currencies();
  ASSERT_FALSE(table.empty());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto code = table[i].code;
    ASSERT_EQ(code.size(), 3u);
    EXPECT_TRUE(std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) << code;
    EXPECT_TRUE(table[i].minor_units == 0 || table[i].minor_units == 2 || table[i].minor_units == 3 ||
                table[i].minor_units == 4)
        << code;
    if (i > 0) {
      EXPECT_LT(table[i - 1].code, code);
    }
  }
}

TEST(Currency, AgreesWithDebianIsoCodes) {
  const std::set<std::string> debian = test_util::iso_codes_field("iso_4217.json", "4217", "alpha_3");
  ASSERT_GT(debian.size(), 150u) << "cannot read " TXV_ISO_CODES_DIR "/iso_4217.json (package iso-codes)";
  std::set<std::string> ours;
  for (const auto& c : all_currencies()) ours.emplace(c.code);
  for (const auto& code : ours) {
    EXPECT_TRUE(debian.count(code) == 1 || kNewerThanIsoCodes.count(code) == 1)
        << code << " is neither in iso-codes nor a documented newer code";
    EXPECT_FALSE(debian.count(code) == 1 && kNewerThanIsoCodes.count(code) == 1)
        << code << " is in iso-codes now: drop it from kNewerThanIsoCodes";
  }
  // Every iso-codes entry is either ours or left out on purpose.
  for (const auto& code : debian) {
    EXPECT_TRUE(ours.count(code) == 1 || kLeftOut.count(code) == 1) << code << " from iso-codes is missing";
    EXPECT_FALSE(ours.count(code) == 1 && kLeftOut.count(code) == 1) << code;
  }
}

TEST(Currency, MinorUnits) {
  const std::pair<const char*, int> cases[] = {
      {"USD", 2}, {"EUR", 2}, {"GBP", 2}, {"JPY", 0}, {"KRW", 0}, {"ISK", 0}, {"CLP", 0}, {"VND", 0},
      {"XAF", 0}, {"XOF", 0}, {"XPF", 0}, {"UYI", 0}, {"KWD", 3}, {"BHD", 3}, {"JOD", 3}, {"OMR", 3},
      {"TND", 3}, {"IQD", 3}, {"LYD", 3}, {"CLF", 4}, {"UYW", 4}, {"HUF", 2}, {"IDR", 2}, {"MGA", 2},
  };
  for (const auto& [code, units] : cases) {
    const auto c = find_currency(code);
    ASSERT_TRUE(c.has_value()) << code;
    EXPECT_EQ(c->code, code);
    EXPECT_EQ(c->minor_units, units) << code;
  }
}

TEST(Currency, CaseInsensitiveLookUp) {
  for (const char* s : {"usd", "Usd", "uSD", "USD"}) {
    const auto c = find_currency(s);
    ASSERT_TRUE(c.has_value()) << s;
    EXPECT_EQ(c->code, "USD");
  }
  EXPECT_EQ(find_currency("jpy")->minor_units, 0);
}

TEST(Currency, Unknown) {
  for (const char* s : {"", "US", "USDD", "XXX", "XTS", "XAU", "HRK", "ABC", "U$D", "usd ", " usd", "123"}) {
    EXPECT_FALSE(find_currency(s).has_value()) << s;
  }
  EXPECT_FALSE(find_currency(std::string_view("US\0", 3)).has_value());
}

}  // namespace
}  // namespace txv::domain

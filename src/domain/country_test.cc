#include "domain/country.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "domain/iso_codes_test_util.h"

namespace txv::domain {
namespace {

TEST(Country, SameSetAsDebianIsoCodes) {
  const std::set<std::string> debian = test_util::iso_codes_field("iso_3166-1.json", "3166-1", "alpha_2");
  ASSERT_GT(debian.size(), 200u) << "cannot read " TXV_ISO_CODES_DIR "/iso_3166-1.json (package iso-codes)";
  std::set<std::string> ours;
  for (const auto& c : all_country_codes()) ours.emplace(c);
  EXPECT_EQ(ours.size(), all_country_codes().size()) << "duplicates in the table";
  EXPECT_EQ(ours, debian);
}

TEST(Country, TableIsSorted) {
  const auto table = all_country_codes();
  for (std::size_t i = 1; i < table.size(); ++i) EXPECT_LT(table[i - 1], table[i]);
}

TEST(Country, ExactUpperCaseOnly) {
  for (const char* s : {"US", "DE", "GB", "JP", "AX", "CW", "SS", "ZW"}) EXPECT_TRUE(is_country_code(s)) << s;
  for (const char* s : {"us", "Us", "uS", "", "U", "USA", "XK", "UK", "EU", "ZZ", "U1", " US"}) {
    EXPECT_FALSE(is_country_code(s)) << s;
  }
}

}  // namespace
}  // namespace txv::domain

#include "domain/card_text.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "domain/card.h"

namespace txv::domain {
namespace {

struct TextCase {
  std::string text;
  bool want;
};

void PrintTo(const TextCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class LooksLikeCardNumberTest : public ::testing::TestWithParam<TextCase> {};

TEST_P(LooksLikeCardNumberTest, Table) { EXPECT_EQ(looks_like_card_number(GetParam().text), GetParam().want); }

INSTANTIATE_TEST_SUITE_P(
    Found, LooksLikeCardNumberTest,
    ::testing::Values(TextCase{"4242424242424242", true}, TextCase{"card 4242 4242 4242 4242 exp 12/30", true},
                      TextCase{"4242-4242-4242-4242", true}, TextCase{"4242 4242-4242 4242", true},
                      TextCase{"abc4242424242424242xyz", true},  // embedded in a word
                      TextCase{"card:4242424242424242.", true}, TextCase{"ord-4242424242424242", true},
                      TextCase{"-4242424242424242-", true},  // separators outside the run do not matter
                      TextCase{"\xE2\x82\xAC"
                               "4242424242424242\xE2\x82\xAC",
                               true},
                      TextCase{"3782 822463 10005", true},             // amex, 15 digits
                      TextCase{"4222222222222", true},                 // visa, 13 digits
                      TextCase{"4000 0000 0000 0000 006", true},       // visa, 19 digits
                      TextCase{"6759 6498 2643 8453", true},           // maestro
                      TextCase{"2200 0000 0000 0004", true},           // mir
                      TextCase{"5066 9900 0000 0002", true},           // elo
                      TextCase{"9792 0000 0000 0003", true},           // troy
                      TextCase{"qty 2 4242 4242 4242 4242", true},     // a span after the run's first group
                      TextCase{"4242424242424242 12", true},           // a span before the run's last group
                      TextCase{"12 34 4242-4242-4242-4242 56", true},  // groups on both sides
                      TextCase{"1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 4 2 4 2 4 2 4 2 4 2 4 2 4 2 4 2", true},
                      TextCase{"9994242424242424242999 then 5555555555554444", true},  // the second run
                      TextCase{"first 12 then 4111-1111-1111-1111", true}));

INSTANTIATE_TEST_SUITE_P(
    NotFound, LooksLikeCardNumberTest,
    ::testing::Values(TextCase{"", false}, TextCase{"no digits at all", false},
                      TextCase{"500000000009", false},               // 12 digits (a valid maestro number) never count
                      TextCase{"4242 4242 4242", false},             // 12 digits
                      TextCase{"4242424242424241", false},           // Luhn fails
                      TextCase{"4242-4242-4242-4241", false},        // Luhn fails
                      TextCase{"9000000000000001", false},           // Luhn passes, no brand range
                      TextCase{"1000 0000 0000 0008", false},        // Luhn passes, no brand range
                      TextCase{"510000000000003", false},            // mastercard prefix, 15 digits: never issued
                      TextCase{"42424242424242424242", false},       // 20 unbroken digits
                      TextCase{"9994242424242424242999", false},     // a PAN glued inside 22 digits
                      TextCase{"1234242424242424242567890", false},  // 25 digits
                      TextCase{"4242  4242 4242 4242", false},       // two spaces split the run: 4 + 12 digits
                      TextCase{"4242--4242-4242-4242", false},       // two dashes
                      TextCase{"4242 - 4242 - 4242 - 4242", false},
                      TextCase{"4242-\x20"
                               "4242-4242-4242",
                               false},
                      TextCase{"4242.4242.4242.4242", false},  // dots are not separators
                      TextCase{"4242/4242/4242/4242", false}, TextCase{"4242\t4242\t4242\t4242", false},
                      TextCase{"4242\xC2\xA0"
                               "4242\xC2\xA0"
                               "4242\xC2\xA0"
                               "4242",
                               false},  // no-break spaces
                      TextCase{"4242x4242x4242x4242", false}, TextCase{"order 2026-11-27 2026-11-28", false}));

// Runs of more than 64 groups are read in batches: a card number across a
// batch boundary is still found, wherever it sits.
std::string after_sevens(int sevens, const std::string& digits) {
  std::string text;
  for (int i = 0; i < sevens; ++i) text += "7 ";
  for (std::size_t k = 0; k < digits.size(); ++k) {
    if (k > 0) text += ' ';
    text += digits[k];
  }
  return text + "x";
}

TEST(LooksLikeCardNumber, LongRunsOfShortGroups) {
  for (int before = 0; before < 90; ++before) {
    EXPECT_TRUE(looks_like_card_number(after_sevens(before, "4242424242424242"))) << before;
    // No span starting at a 7, a 9 or a 0 is in a brand's range.
    EXPECT_FALSE(looks_like_card_number(after_sevens(before, "9000000000000001"))) << before;
  }
}

// The scanner agrees with a brute-force reading of the header's rules on
// random text: a substring counts when it is digits with single ' ' or '-'
// between them, has no digit right before or after it, holds 13-19 digits
// and card_number_check() accepts them.
bool brute_force(const std::string& s) {
  static const std::regex kShape("[0-9]+([ -][0-9]+)*");
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && std::isdigit(static_cast<unsigned char>(s[i - 1]))) continue;
    for (std::size_t j = i + 1; j <= s.size(); ++j) {
      if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) continue;
      const std::string sub = s.substr(i, j - i);
      if (!std::regex_match(sub, kShape)) continue;
      std::string digits;
      for (char c : sub) {
        if (c != ' ' && c != '-') digits += c;
      }
      if (digits.size() >= 13 && digits.size() <= 19 && card_number_check(digits).valid) return true;
    }
  }
  return false;
}

TEST(LooksLikeCardNumber, AgreesWithBruteForce) {
  std::mt19937 rng(20261127);
  const std::string alphabet = "0123456789012345678901234567890123456789  --a";
  const std::vector<std::string> pans = {"4242424242424242", "378282246310005", "6011111111111117", "2200000000000004"};
  int found = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const std::size_t len = rng() % 48;
    for (std::size_t i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    if (round % 3 == 0) {
      // Plant a card number, sometimes with separators, somewhere in the text.
      std::string pan = pans[rng() % pans.size()];
      if (rng() % 2 == 0) {
        for (std::size_t k = 4; k < pan.size(); k += 5) pan.insert(k, rng() % 2 == 0 ? " " : "-");
      }
      // Half of them with a non-digit on both sides, so that they are not glued to other digits.
      if (rng() % 2 == 0) pan = "a" + pan + "a";
      s.insert(rng() % (s.size() + 1), pan);
    }
    const bool want = brute_force(s);
    found += want ? 1 : 0;
    ASSERT_EQ(looks_like_card_number(s), want) << '"' << s << '"';
  }
  // Both answers occur often enough for the comparison to mean something.
  EXPECT_GT(found, 300);
  EXPECT_LT(found, 2700);
}

}  // namespace
}  // namespace txv::domain

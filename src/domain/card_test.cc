#include "domain/card.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "domain/time.h"

namespace txv::domain {
namespace {

struct PanCase {
  const char* number;
  std::optional<CardBrand> brand;  // detected IIN brand
  bool valid;                      // card_number_check().valid
};

void PrintTo(const PanCase& c, std::ostream* os) { *os << c.number; }

class CardNumberTest : public ::testing::TestWithParam<PanCase> {};

TEST_P(CardNumberTest, BrandAndValidity) {
  const PanCase& c = GetParam();
  const CardNumberCheck r = card_number_check(c.number);
  EXPECT_EQ(r.valid, c.valid);
  EXPECT_EQ(r.brand, c.brand);
  EXPECT_EQ(detect_brand(c.number), c.brand);
}

constexpr auto kVisa = CardBrand::kVisa;
constexpr auto kMc = CardBrand::kMastercard;
constexpr auto kAmex = CardBrand::kAmex;
constexpr auto kDiscover = CardBrand::kDiscover;
constexpr auto kJcb = CardBrand::kJcb;
constexpr auto kDiners = CardBrand::kDiners;
constexpr auto kUnionpay = CardBrand::kUnionpay;
constexpr auto kMaestro = CardBrand::kMaestro;

// Published test PANs of the card networks and PSP sandboxes.
INSTANTIATE_TEST_SUITE_P(
    TestPans, CardNumberTest,
    ::testing::Values(PanCase{"4242424242424242", kVisa, true}, PanCase{"4111111111111111", kVisa, true},
                      PanCase{"4012888888881881", kVisa, true}, PanCase{"4000056655665556", kVisa, true},
                      PanCase{"4222222222222", kVisa, true},        // 13 digits
                      PanCase{"4000000000000000006", kVisa, true},  // 19 digits
                      PanCase{"5555555555554444", kMc, true}, PanCase{"5105105105105100", kMc, true},
                      PanCase{"5200828282828210", kMc, true}, PanCase{"2223003122003222", kMc, true},
                      PanCase{"2222405343248877", kMc, true}, PanCase{"378282246310005", kAmex, true},
                      PanCase{"371449635398431", kAmex, true}, PanCase{"340000000000009", kAmex, true},
                      PanCase{"6011111111111117", kDiscover, true}, PanCase{"6011000990139424", kDiscover, true},
                      PanCase{"6011981111111113", kDiscover, true}, PanCase{"6445644564456445", kDiscover, true},
                      PanCase{"6555900000604105", kDiscover, true}, PanCase{"3530111333300000", kJcb, true},
                      PanCase{"3566002020360505", kJcb, true}, PanCase{"30569309025904", kDiners, true},
                      PanCase{"38520000023237", kDiners, true}, PanCase{"36227206271667", kDiners, true},
                      PanCase{"36259600000004", kDiners, true}, PanCase{"3056930009020004", kDiners, true},
                      PanCase{"6200000000000005", kUnionpay, true}, PanCase{"6205500000000000004", kUnionpay, true},
                      PanCase{"6759649826438453", kMaestro, true}, PanCase{"6304000000000000", kMaestro, true}));

// IIN range edges (all Luhn-valid), overlaps and lengths per brand.
INSTANTIATE_TEST_SUITE_P(
    Boundaries, CardNumberTest,
    ::testing::Values(
        // mastercard 2221–2720 and 51–55, with the neighbours outside
        PanCase{"2220000000000000", std::nullopt, false}, PanCase{"2221000000000009", kMc, true},
        PanCase{"2720000000000005", kMc, true}, PanCase{"2721000000000004", std::nullopt, false},
        PanCase{"5100000000000008", kMc, true}, PanCase{"5500000000000004", kMc, true},
        // maestro 50, 56–58, 6304, 6759, 6761–6763; 12 and 19 digits
        PanCase{"500000000009", kMaestro, true}, PanCase{"570000000002", kMaestro, true},
        PanCase{"5600000000000003", kMaestro, true}, PanCase{"5800000000000000008", kMaestro, true},
        PanCase{"5018000000000000007", kMaestro, true}, PanCase{"6761000000000006", kMaestro, true},
        PanCase{"6763000000000004", kMaestro, true}, PanCase{"6764000000000003", std::nullopt, false},
        // discover 6011, 644–649, 65; 643 is nobody's
        PanCase{"6011000000000004", kDiscover, true}, PanCase{"6440000000000005", kDiscover, true},
        PanCase{"6490000000000004", kDiscover, true}, PanCase{"6430000000000007", std::nullopt, false},
        PanCase{"6500000000000000003", kDiscover, true},
        // 622126–622925 is discover (longest prefix), the rest of 62 unionpay
        PanCase{"6221250000000001", kUnionpay, true}, PanCase{"6221260000000000", kDiscover, true},
        PanCase{"6229250000000003", kDiscover, true}, PanCase{"6229260000000002", kUnionpay, true},
        PanCase{"6221261111117766", kDiscover, true}, PanCase{"6200000000000000000", kUnionpay, true},
        // jcb 3528–3589
        PanCase{"3527000000000008", std::nullopt, false}, PanCase{"3528000000000007", kJcb, true},
        PanCase{"3589000000000000009", kJcb, true}, PanCase{"3590000000000000", std::nullopt, false},
        // diners 300–305, 36, 38–39; 306 is nobody's
        PanCase{"30000000000004", kDiners, true}, PanCase{"30500000000003", kDiners, true},
        PanCase{"30600000000001", std::nullopt, false}, PanCase{"36000000000008", kDiners, true},
        PanCase{"3800000000000006", kDiners, true}, PanCase{"3900000000000000008", kDiners, true},
        // amex 34, 37; 35 with 15 digits is jcb's prefix but 3500 is outside 3528–3589
        PanCase{"370000000000002", kAmex, true}, PanCase{"350000000000006", std::nullopt, false},
        // unknown major industry identifiers
        PanCase{"1000000000000008", std::nullopt, false}, PanCase{"9000000000000001", std::nullopt, false},
        PanCase{"6000000000000007", std::nullopt, false}));

// Luhn-valid numbers with a brand's prefix but a length that brand never
// issues or outside 12–19, and numbers with a bad check digit or non-digits.
INSTANTIATE_TEST_SUITE_P(Invalid, CardNumberTest,
                         ::testing::Values(PanCase{"4242424242424241", kVisa, false},         // check digit off by one
                                           PanCase{"5555555555554440", kMc, false},           // Luhn fails
                                           PanCase{"500000000000", kMaestro, false},          // 12 digits, Luhn fails
                                           PanCase{"4000000000000002", kVisa, true},          // control: 16 digits
                                           PanCase{"400000000000006", kVisa, false},          // visa, 15 digits
                                           PanCase{"37000000000007", kAmex, false},           // amex, 14 digits
                                           PanCase{"55000000000004", kMc, false},             // mastercard, 14 digits
                                           PanCase{"50000000005", kMaestro, false},           // 11 digits
                                           PanCase{"50000000000000000009", kMaestro, false},  // 20 digits
                                           PanCase{"", std::nullopt, false},
                                           PanCase{"4242 4242 4242 4242", kVisa, false},  // not all digits
                                           PanCase{"42424242424242a2", kVisa, false}));

TEST(Luhn, Basics) {
  EXPECT_TRUE(luhn_valid("0"));
  EXPECT_TRUE(luhn_valid("18"));
  EXPECT_TRUE(luhn_valid("79927398713"));
  EXPECT_FALSE(luhn_valid("79927398710"));
  EXPECT_FALSE(luhn_valid(""));
  EXPECT_FALSE(luhn_valid("4242-4242"));
}

TEST(Card, BrandNames) {
  EXPECT_STREQ(to_string(CardBrand::kVisa), "visa");
  EXPECT_STREQ(to_string(CardBrand::kMastercard), "mastercard");
  EXPECT_STREQ(to_string(CardBrand::kAmex), "amex");
  EXPECT_STREQ(to_string(CardBrand::kDiscover), "discover");
  EXPECT_STREQ(to_string(CardBrand::kJcb), "jcb");
  EXPECT_STREQ(to_string(CardBrand::kDiners), "diners");
  EXPECT_STREQ(to_string(CardBrand::kUnionpay), "unionpay");
  EXPECT_STREQ(to_string(CardBrand::kMaestro), "maestro");
}

TEST(Card, BinAndLast4) {
  EXPECT_EQ(card_bin("4242424242424242"), "424242");
  EXPECT_EQ(card_last4("4242424242424242"), "4242");
  EXPECT_EQ(card_bin("378282246310005"), "378282");
  EXPECT_EQ(card_last4("378282246310005"), "0005");
  EXPECT_EQ(card_bin("12345"), "");
  EXPECT_EQ(card_last4("123"), "");
}

TimePoint at(const char* rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(TimePoint{});
}

TEST(CardExpired, MonthEdges) {
  // Expiry 11/2026: valid through 2026-11-30T23:59:59.999Z.
  EXPECT_FALSE(card_expired(11, 2026, at("2026-11-01T00:00:00Z")));
  EXPECT_FALSE(card_expired(11, 2026, at("2026-11-30T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(11, 2026, at("2026-12-01T00:00:00Z")));
  EXPECT_TRUE(card_expired(11, 2026, at("2026-12-01T00:00:00.001Z")));
  EXPECT_FALSE(card_expired(11, 2026, at("2025-01-01T00:00:00Z")));
  EXPECT_TRUE(card_expired(11, 2026, at("2030-01-01T00:00:00Z")));
  // 30-day month
  EXPECT_FALSE(card_expired(4, 2027, at("2027-04-30T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(4, 2027, at("2027-05-01T00:00:00Z")));
}

TEST(CardExpired, DecemberRollsIntoJanuary) {
  EXPECT_FALSE(card_expired(12, 2026, at("2026-12-31T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(12, 2026, at("2027-01-01T00:00:00Z")));
  EXPECT_FALSE(card_expired(1, 2027, at("2027-01-31T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(1, 2027, at("2027-02-01T00:00:00Z")));
}

TEST(CardExpired, LeapYears) {
  EXPECT_FALSE(card_expired(2, 2028, at("2028-02-29T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(2, 2028, at("2028-03-01T00:00:00Z")));
  EXPECT_FALSE(card_expired(2, 2027, at("2027-02-28T23:59:59.999Z")));
  EXPECT_TRUE(card_expired(2, 2027, at("2027-03-01T00:00:00Z")));
  // 2100 is not a leap year, 2000 was.
  EXPECT_TRUE(card_expired(2, 2100, at("2100-03-01T00:00:00Z")));
  EXPECT_FALSE(card_expired(2, 2000, at("2000-02-29T12:00:00Z")));
}

TEST(CardExpired, OffsetsAreConvertedToUtc) {
  // 2026-12-01T00:30:00+01:00 is 2026-11-30T23:30:00Z: still November in UTC.
  EXPECT_FALSE(card_expired(11, 2026, at("2026-12-01T00:30:00+01:00")));
  // 2026-11-30T19:00:00-05:00 is 2026-12-01T00:00:00Z: December in UTC.
  EXPECT_TRUE(card_expired(11, 2026, at("2026-11-30T19:00:00-05:00")));
  EXPECT_FALSE(card_expired(11, 2026, at("2026-11-30T18:59:59.999-05:00")));
  // Across the year boundary.
  EXPECT_TRUE(card_expired(12, 2026, at("2026-12-31T20:00:00-04:00")));
  EXPECT_FALSE(card_expired(12, 2026, at("2027-01-01T05:29:59+05:30")));
}

TEST(CardExpired, MonthOutOfRangeFailsClosed) {
  EXPECT_TRUE(card_expired(0, 2030, at("2026-01-01T00:00:00Z")));
  EXPECT_TRUE(card_expired(13, 2030, at("2026-01-01T00:00:00Z")));
}

}  // namespace
}  // namespace txv::domain

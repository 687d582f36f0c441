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
constexpr auto kMir = CardBrand::kMir;
constexpr auto kElo = CardBrand::kElo;
constexpr auto kRupay = CardBrand::kRupay;
constexpr auto kVerve = CardBrand::kVerve;
constexpr auto kTroy = CardBrand::kTroy;

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
                      PanCase{"6221261111117766", kUnionpay, true},  // UnionPay-Discover co-branded
                      PanCase{"6759649826438453", kMaestro, true}, PanCase{"6304000000000000", kMaestro, true}));

// Every range of card_brands.inc at its edges, all Luhn-valid unless marked:
// the first number of the range at its shortest valid length, the last at its
// longest, one digit too short and too long, a length the range skips, and
// the neighbouring prefixes just below and above the range (which belong to
// whatever the longest-prefix rule finds there, or to nobody).
INSTANTIATE_TEST_SUITE_P(RangeEdges, CardNumberTest,
                         ::testing::Values(
                             // visa 4, 13-19 digits
                             PanCase{"4000000000006", kVisa, true},             // first, shortest
                             PanCase{"4999999999999999993", kVisa, true},       // last, longest
                             PanCase{"400000000002", kVisa, false},             // too short
                             PanCase{"49999999999999999990", kVisa, false},     // too long
                             PanCase{"3000000000000004", kDiners, true},        // below first
                             PanCase{"5999999999999993", std::nullopt, false},  // above last
                             // mastercard 51-55, 16 digits
                             PanCase{"5100000000000008", kMc, true},       // first, shortest
                             PanCase{"5599999999999997", kMc, true},       // last, longest
                             PanCase{"510000000000003", kMc, false},       // too short
                             PanCase{"55999999999999998", kMc, false},     // too long
                             PanCase{"5000000000000009", kMaestro, true},  // below first
                             PanCase{"5699999999999996", kMaestro, true},  // above last
                             // mastercard 2221-2720, 16 digits
                             PanCase{"2221000000000009", kMc, true},            // first, shortest
                             PanCase{"2720999999999996", kMc, true},            // last, longest
                             PanCase{"222100000000000", kMc, false},            // too short
                             PanCase{"27209999999999993", kMc, false},          // too long
                             PanCase{"2220000000000000", std::nullopt, false},  // below first
                             PanCase{"2721999999999995", std::nullopt, false},  // above last
                             // amex 34, 15 digits
                             PanCase{"340000000000009", kAmex, true},          // first, shortest
                             PanCase{"349999999999991", kAmex, true},          // last, longest
                             PanCase{"34000000000000", kAmex, false},          // too short
                             PanCase{"3499999999999993", kAmex, false},        // too long
                             PanCase{"330000000000001", std::nullopt, false},  // below first
                             PanCase{"359999999999998", std::nullopt, false},  // above last
                             // amex 37, 15 digits
                             PanCase{"370000000000002", kAmex, true},    // first, shortest
                             PanCase{"379999999999994", kAmex, true},    // last, longest
                             PanCase{"37000000000007", kAmex, false},    // too short
                             PanCase{"3799999999999990", kAmex, false},  // too long
                             PanCase{"360000000000004", kDiners, true},  // below first
                             PanCase{"389999999999992", kDiners, true},  // above last
                             // discover 6011, 16-19 digits
                             PanCase{"6011000000000004", kDiscover, true},       // first, shortest
                             PanCase{"6011999999999999995", kDiscover, true},    // last, longest
                             PanCase{"601100000000001", kDiscover, false},       // too short
                             PanCase{"60119999999999999999", kDiscover, false},  // too long
                             PanCase{"6010000000000005", kRupay, true},          // below first
                             PanCase{"6012999999999994", kRupay, true},          // above last
                             // discover 644-649, 16-19 digits
                             PanCase{"6440000000000005", kDiscover, true},       // first, shortest
                             PanCase{"6499999999999999992", kDiscover, true},    // last, longest
                             PanCase{"644000000000002", kDiscover, false},       // too short
                             PanCase{"64999999999999999990", kDiscover, false},  // too long
                             PanCase{"6430000000000007", std::nullopt, false},   // below first
                             PanCase{"6509999999999994", kDiscover, true},       // above last
                             // discover 65, 16-19 digits
                             PanCase{"6500000000000002", kDiscover, true},       // first, shortest
                             PanCase{"6599999999999999999", kDiscover, true},    // last, longest
                             PanCase{"650000000000003", kDiscover, false},       // too short
                             PanCase{"65999999999999999999", kDiscover, false},  // too long
                             PanCase{"6400000000000003", std::nullopt, false},   // below first
                             PanCase{"6699999999999994", std::nullopt, false},   // above last
                             // jcb 3528-3589, 16-19 digits
                             PanCase{"3528000000000007", kJcb, true},           // first, shortest
                             PanCase{"3589999999999999993", kJcb, true},        // last, longest
                             PanCase{"352800000000007", kJcb, false},           // too short
                             PanCase{"35899999999999999998", kJcb, false},      // too long
                             PanCase{"3527000000000008", std::nullopt, false},  // below first
                             PanCase{"3590999999999991", std::nullopt, false},  // above last
                             // jcb 1800, 15 digits
                             PanCase{"180000000000002", kJcb, true},           // first, shortest
                             PanCase{"180099999999992", kJcb, true},           // last, longest
                             PanCase{"18000000000000", kJcb, false},           // too short
                             PanCase{"1800999999999991", kJcb, false},         // too long
                             PanCase{"179900000000006", std::nullopt, false},  // below first
                             PanCase{"180199999999990", std::nullopt, false},  // above last
                             // jcb 2131, 15 digits
                             PanCase{"213100000000001", kJcb, true},           // first, shortest
                             PanCase{"213199999999991", kJcb, true},           // last, longest
                             PanCase{"21310000000008", kJcb, false},           // too short
                             PanCase{"2131999999999999", kJcb, false},         // too long
                             PanCase{"213000000000003", std::nullopt, false},  // below first
                             PanCase{"213299999999999", std::nullopt, false},  // above last
                             // diners 300-305, 14-19 digits
                             PanCase{"30000000000004", kDiners, true},          // first, shortest
                             PanCase{"3059999999999999997", kDiners, true},     // last, longest
                             PanCase{"3000000000007", kDiners, false},          // too short
                             PanCase{"30599999999999999999", kDiners, false},   // too long
                             PanCase{"2990000000000008", std::nullopt, false},  // below first
                             PanCase{"3069999999999993", std::nullopt, false},  // above last
                             // diners 3095, 14-19 digits
                             PanCase{"30950000000000", kDiners, true},          // first, shortest
                             PanCase{"3095999999999999991", kDiners, true},     // last, longest
                             PanCase{"3095000000007", kDiners, false},          // too short
                             PanCase{"30959999999999999995", kDiners, false},   // too long
                             PanCase{"3094000000000001", std::nullopt, false},  // below first
                             PanCase{"3096999999999990", std::nullopt, false},  // above last
                             // diners 36, 14-19 digits
                             PanCase{"36000000000008", kDiners, true},          // first, shortest
                             PanCase{"3699999999999999990", kDiners, true},     // last, longest
                             PanCase{"3600000000004", kDiners, false},          // too short
                             PanCase{"36999999999999999995", kDiners, false},   // too long
                             PanCase{"3500000000000009", std::nullopt, false},  // below first
                             // diners 38-39, 14-19 digits
                             PanCase{"38000000000006", kDiners, true},         // first, shortest
                             PanCase{"3999999999999999994", kDiners, true},    // last, longest
                             PanCase{"3800000000000", kDiners, false},         // too short
                             PanCase{"39999999999999999992", kDiners, false},  // too long
                             PanCase{"3700000000000007", kAmex, false},        // below first
                             PanCase{"4099999999999995", kVisa, true},         // above last
                             // unionpay 62, 14-19 digits
                             PanCase{"62000000000005", kUnionpay, true},         // first, shortest
                             PanCase{"6299999999999999996", kUnionpay, true},    // last, longest
                             PanCase{"6200000000000", kUnionpay, false},         // too short
                             PanCase{"62999999999999999992", kUnionpay, false},  // too long
                             PanCase{"6100000000000006", std::nullopt, false},   // below first
                             PanCase{"6399999999999997", std::nullopt, false},   // above last
                             // unionpay 8100-8171, 14-19 digits
                             PanCase{"81000000000002", kUnionpay, true},         // first, shortest
                             PanCase{"8171999999999999995", kUnionpay, true},    // last, longest
                             PanCase{"8100000000000", kUnionpay, false},         // too short
                             PanCase{"81719999999999999991", kUnionpay, false},  // too long
                             PanCase{"8099000000000005", std::nullopt, false},   // below first
                             PanCase{"8172999999999996", kRupay, true},          // above last
                             // maestro 50, 12-19 digits
                             PanCase{"500000000009", kMaestro, true},  // first, shortest
                             PanCase{"5079999999999999993", kMaestro,
                                     true},  // last maestro of 50 (5080-5099 are rupay and elo)
                             PanCase{"50799999999999999990", kMaestro, false},  // too long
                             PanCase{"4900000000000003", kVisa, true},          // below first
                             PanCase{"5199999999999991", kMc, true},            // above last
                             // maestro 56-58, 12-19 digits
                             PanCase{"560000000003", kMaestro, true},           // first, shortest
                             PanCase{"5899999999999999994", kMaestro, true},    // last, longest
                             PanCase{"58999999999999999998", kMaestro, false},  // too long
                             PanCase{"5500000000000004", kMc, true},            // below first
                             // maestro 6304, 12-19 digits
                             PanCase{"630400000000", kMaestro, true},           // first, shortest
                             PanCase{"6304999999999999994", kMaestro, true},    // last, longest
                             PanCase{"63049999999999999995", kMaestro, false},  // too long
                             PanCase{"6303000000000001", std::nullopt, false},  // below first
                             PanCase{"6305999999999990", std::nullopt, false},  // above last
                             // maestro 6390, 12-19 digits
                             PanCase{"639000000005", kMaestro, true},           // first, shortest
                             PanCase{"6390999999999999993", kMaestro, true},    // last, longest
                             PanCase{"63909999999999999990", kMaestro, false},  // too long
                             PanCase{"6389000000000008", std::nullopt, false},  // below first
                             PanCase{"6391999999999995", std::nullopt, false},  // above last
                             // maestro 67, 12-19 digits
                             PanCase{"670000000000", kMaestro, true},           // first, shortest
                             PanCase{"6799999999999999995", kMaestro, true},    // last, longest
                             PanCase{"67999999999999999997", kMaestro, false},  // too long
                             PanCase{"6600000000000001", std::nullopt, false},  // below first
                             PanCase{"6899999999999992", std::nullopt, false},  // above last
                             // maestro 493698, 12-19 digits
                             PanCase{"493698000004", kMaestro, true},           // first, shortest
                             PanCase{"4936989999999999997", kMaestro, true},    // last, longest
                             PanCase{"49369899999999999997", kMaestro, false},  // too long
                             PanCase{"4936970000000005", kVisa, true},          // below first
                             PanCase{"4936999999999992", kVisa, true},          // above last
                             // mir 2200-2204, 16-19 digits
                             PanCase{"2200000000000004", kMir, true},           // first, shortest
                             PanCase{"2204999999999999990", kMir, true},        // last, longest
                             PanCase{"220000000000004", kMir, false},           // too short
                             PanCase{"22049999999999999995", kMir, false},      // too long
                             PanCase{"2199000000000007", std::nullopt, false},  // below first
                             PanCase{"2205999999999990", std::nullopt, false},  // above last
                             // elo 401178-401179, 16 digits
                             PanCase{"4011780000000006", kElo, true},    // first, shortest
                             PanCase{"4011799999999994", kElo, true},    // last, longest
                             PanCase{"401178000000009", kElo, false},    // too short
                             PanCase{"40117999999999997", kElo, false},  // too long
                             PanCase{"4011770000000007", kVisa, true},   // below first
                             PanCase{"4011809999999991", kVisa, true},   // above last
                             // elo 431274, 16 digits
                             PanCase{"4312740000000006", kElo, true},    // first, shortest
                             PanCase{"4312749999999995", kElo, true},    // last, longest
                             PanCase{"431274000000000", kElo, false},    // too short
                             PanCase{"43127499999999990", kElo, false},  // too long
                             PanCase{"4312730000000007", kVisa, true},   // below first
                             PanCase{"4312759999999994", kVisa, true},   // above last
                             // elo 438935, 16 digits
                             PanCase{"4389350000000002", kElo, true},    // first, shortest
                             PanCase{"4389359999999991", kElo, true},    // last, longest
                             PanCase{"438935000000009", kElo, false},    // too short
                             PanCase{"43893599999999999", kElo, false},  // too long
                             PanCase{"4389340000000003", kVisa, true},   // below first
                             PanCase{"4389369999999990", kVisa, true},   // above last
                             // elo 451416, 16 digits
                             PanCase{"4514160000000003", kElo, true},    // first, shortest
                             PanCase{"4514169999999992", kElo, true},    // last, longest
                             PanCase{"451416000000002", kElo, false},    // too short
                             PanCase{"45141699999999992", kElo, false},  // too long
                             PanCase{"4514150000000004", kVisa, true},   // below first
                             PanCase{"4514179999999991", kVisa, true},   // above last
                             // elo 457393, 16 digits
                             PanCase{"4573930000000007", kElo, true},    // first, shortest
                             PanCase{"4573939999999996", kElo, true},    // last, longest
                             PanCase{"457393000000007", kElo, false},    // too short
                             PanCase{"45739399999999997", kElo, false},  // too long
                             PanCase{"4573920000000008", kVisa, true},   // below first
                             PanCase{"4573949999999995", kVisa, true},   // above last
                             // elo 457631-457632, 16 digits
                             PanCase{"4576310000000009", kElo, true},    // first, shortest
                             PanCase{"4576329999999997", kElo, true},    // last, longest
                             PanCase{"457631000000000", kElo, false},    // too short
                             PanCase{"45763299999999998", kElo, false},  // too long
                             PanCase{"4576300000000000", kVisa, true},   // below first
                             PanCase{"4576339999999996", kVisa, true},   // above last
                             // elo 504175, 16 digits
                             PanCase{"5041750000000000", kElo, true},      // first, shortest
                             PanCase{"5041759999999999", kElo, true},      // last, longest
                             PanCase{"504175000000001", kElo, false},      // too short
                             PanCase{"50417599999999991", kElo, false},    // too long
                             PanCase{"5041740000000001", kMaestro, true},  // below first
                             PanCase{"5041769999999998", kMaestro, true},  // above last
                             // elo 506699-506778, 16 digits
                             PanCase{"5066990000000002", kElo, true},      // first, shortest
                             PanCase{"5067789999999995", kElo, true},      // last, longest
                             PanCase{"506699000000008", kElo, false},      // too short
                             PanCase{"50677899999999990", kElo, false},    // too long
                             PanCase{"5066980000000003", kMaestro, true},  // below first
                             PanCase{"5067799999999994", kMaestro, true},  // above last
                             // elo 509000-509999, 16 digits
                             PanCase{"5090000000000000", kElo, true},    // first, shortest
                             PanCase{"5099999999999992", kElo, true},    // last, longest
                             PanCase{"509000000000006", kElo, false},    // too short
                             PanCase{"50999999999999999", kElo, false},  // too long
                             PanCase{"5089990000000005", kRupay, true},  // below first
                             PanCase{"5100009999999997", kMc, true},     // above last
                             // elo 627780, 16 digits
                             PanCase{"6277800000000006", kElo, true},       // first, shortest
                             PanCase{"6277809999999995", kElo, true},       // last, longest
                             PanCase{"627780000000000", kElo, false},       // too short
                             PanCase{"62778099999999990", kElo, false},     // too long
                             PanCase{"6277790000000009", kUnionpay, true},  // below first
                             PanCase{"6277819999999994", kUnionpay, true},  // above last
                             // elo 636297, 16 digits
                             PanCase{"6362970000000003", kElo, true},           // first, shortest
                             PanCase{"6362979999999992", kElo, true},           // last, longest
                             PanCase{"636297000000004", kElo, false},           // too short
                             PanCase{"63629799999999994", kElo, false},         // too long
                             PanCase{"6362960000000004", std::nullopt, false},  // below first
                             PanCase{"6362989999999991", std::nullopt, false},  // above last
                             // elo 636368, 16 digits
                             PanCase{"6363680000000007", kElo, true},           // first, shortest
                             PanCase{"6363689999999996", kElo, true},           // last, longest
                             PanCase{"636368000000003", kElo, false},           // too short
                             PanCase{"63636899999999993", kElo, false},         // too long
                             PanCase{"6363670000000008", std::nullopt, false},  // below first
                             PanCase{"6363699999999995", std::nullopt, false},  // above last
                             // elo 650031-650033, 16 digits
                             PanCase{"6500310000000005", kElo, true},       // first, shortest
                             PanCase{"6500339999999992", kElo, true},       // last, longest
                             PanCase{"650031000000008", kElo, false},       // too short
                             PanCase{"65003399999999994", kElo, false},     // too long
                             PanCase{"6500300000000006", kDiscover, true},  // below first
                             PanCase{"6500349999999991", kDiscover, true},  // above last
                             // elo 650035-650051, 16 digits
                             PanCase{"6500350000000001", kElo, true},       // first, shortest
                             PanCase{"6500519999999999", kElo, true},       // last, longest
                             PanCase{"650035000000009", kElo, false},       // too short
                             PanCase{"65005199999999996", kElo, false},     // too long
                             PanCase{"6500340000000002", kDiscover, true},  // below first
                             PanCase{"6500529999999998", kDiscover, true},  // above last
                             // elo 650405-650439, 16 digits
                             PanCase{"6504050000000003", kElo, true},       // first, shortest
                             PanCase{"6504399999999992", kElo, true},       // last, longest
                             PanCase{"650405000000004", kElo, false},       // too short
                             PanCase{"65043999999999993", kElo, false},     // too long
                             PanCase{"6504040000000004", kDiscover, true},  // below first
                             PanCase{"6504409999999999", kDiscover, true},  // above last
                             // elo 650485-650538, 16 digits
                             PanCase{"6504850000000006", kElo, true},       // first, shortest
                             PanCase{"6505389999999992", kElo, true},       // last, longest
                             PanCase{"650485000000006", kElo, false},       // too short
                             PanCase{"65053899999999992", kElo, false},     // too long
                             PanCase{"6504840000000007", kDiscover, true},  // below first
                             PanCase{"6505399999999991", kDiscover, true},  // above last
                             // elo 650541-650598, 16 digits
                             PanCase{"6505410000000008", kElo, true},       // first, shortest
                             PanCase{"6505989999999999", kElo, true},       // last, longest
                             PanCase{"650541000000006", kElo, false},       // too short
                             PanCase{"65059899999999996", kElo, false},     // too long
                             PanCase{"6505400000000009", kDiscover, true},  // below first
                             PanCase{"6505999999999998", kDiscover, true},  // above last
                             // elo 650700-650718, 16 digits
                             PanCase{"6507000000000005", kElo, true},       // first, shortest
                             PanCase{"6507189999999994", kElo, true},       // last, longest
                             PanCase{"650700000000008", kElo, false},       // too short
                             PanCase{"65071899999999990", kElo, false},     // too long
                             PanCase{"6506990000000008", kDiscover, true},  // below first
                             PanCase{"6507199999999993", kDiscover, true},  // above last
                             // elo 650720-650727, 16 digits
                             PanCase{"6507200000000001", kElo, true},       // first, shortest
                             PanCase{"6507279999999993", kElo, true},       // last, longest
                             PanCase{"650720000000006", kElo, false},       // too short
                             PanCase{"65072799999999991", kElo, false},     // too long
                             PanCase{"6507190000000004", kDiscover, true},  // below first
                             PanCase{"6507289999999992", kDiscover, true},  // above last
                             // elo 650901-650978, 16 digits
                             PanCase{"6509010000000002", kElo, true},       // first, shortest
                             PanCase{"6509789999999999", kElo, true},       // last, longest
                             PanCase{"650901000000002", kElo, false},       // too short
                             PanCase{"65097899999999990", kElo, false},     // too long
                             PanCase{"6509000000000003", kDiscover, true},  // below first
                             PanCase{"6509799999999998", kDiscover, true},  // above last
                             // elo 651652-651679, 16 digits
                             PanCase{"6516520000000001", kElo, true},       // first, shortest
                             PanCase{"6516799999999999", kElo, true},       // last, longest
                             PanCase{"651652000000000", kElo, false},       // too short
                             PanCase{"65167999999999993", kElo, false},     // too long
                             PanCase{"6516510000000002", kDiscover, true},  // below first
                             PanCase{"6516809999999996", kDiscover, true},  // above last
                             // elo 655000-655019, 16 digits
                             PanCase{"6550000000000001", kElo, true},       // first, shortest
                             PanCase{"6550199999999999", kElo, true},       // last, longest
                             PanCase{"655000000000008", kElo, false},       // too short
                             PanCase{"65501999999999998", kElo, false},     // too long
                             PanCase{"6549990000000007", kDiscover, true},  // below first
                             PanCase{"6550209999999996", kDiscover, true},  // above last
                             // elo 655021-655058, 16 digits
                             PanCase{"6550210000000006", kElo, true},       // first, shortest
                             PanCase{"6550589999999991", kElo, true},       // last, longest
                             PanCase{"655021000000004", kElo, false},       // too short
                             PanCase{"65505899999999996", kElo, false},     // too long
                             PanCase{"6550200000000007", kDiscover, true},  // below first
                             PanCase{"6550599999999990", kDiscover, true},  // above last
                             // rupay 60, 16 digits
                             PanCase{"6000000000000007", kRupay, true},         // first, shortest
                             PanCase{"6099999999999990", kRupay, true},         // last, longest
                             PanCase{"600000000000004", kRupay, false},         // too short
                             PanCase{"60999999999999998", kRupay, false},       // too long
                             PanCase{"5900000000000000", std::nullopt, false},  // below first
                             PanCase{"6199999999999999", std::nullopt, false},  // above last
                             // rupay 508, 16 digits
                             PanCase{"5080000000000002", kRupay, true},    // first, shortest
                             PanCase{"5089999999999994", kRupay, true},    // last, longest
                             PanCase{"508000000000007", kRupay, false},    // too short
                             PanCase{"50899999999999990", kRupay, false},  // too long
                             PanCase{"5070000000000004", kMaestro, true},  // below first
                             // rupay 6521-6522, 16 digits
                             PanCase{"6521000000000007", kRupay, true},     // first, shortest
                             PanCase{"6522999999999997", kRupay, true},     // last, longest
                             PanCase{"652100000000009", kRupay, false},     // too short
                             PanCase{"65229999999999999", kRupay, false},   // too long
                             PanCase{"6520000000000008", kDiscover, true},  // below first
                             PanCase{"6523999999999996", kDiscover, true},  // above last
                             // rupay 81-82, 16 digits
                             PanCase{"8172000000000005", kRupay, true},    // first rupay of 81 (8100-8171 are unionpay)
                             PanCase{"8299999999999994", kRupay, true},    // last, longest
                             PanCase{"817200000000009", kRupay, false},    // too short
                             PanCase{"82999999999999992", kRupay, false},  // too long
                             PanCase{"8000000000000003", std::nullopt, false},  // below first
                             PanCase{"8399999999999993", std::nullopt, false},  // above last
                             // verve 506099-506198, 16, 18, 19 digits
                             PanCase{"5060990000000008", kVerve, true},       // first, shortest
                             PanCase{"5061989999999999993", kVerve, true},    // last, longest
                             PanCase{"506099000000001", kVerve, false},       // too short
                             PanCase{"50619899999999999991", kVerve, false},  // too long
                             PanCase{"50609900000000001", kVerve, false},     // length not issued
                             PanCase{"5060980000000009", kMaestro, true},     // below first
                             PanCase{"5061999999999996", kMaestro, true},     // above last
                             // verve 507865-507964, 16, 18, 19 digits
                             PanCase{"5078650000000008", kVerve, true},       // first, shortest
                             PanCase{"5079649999999999997", kVerve, true},    // last, longest
                             PanCase{"507865000000004", kVerve, false},       // too short
                             PanCase{"50796499999999999991", kVerve, false},  // too long
                             PanCase{"50786500000000004", kVerve, false},     // length not issued
                             PanCase{"5078640000000009", kMaestro, true},     // below first
                             PanCase{"5079659999999996", kMaestro, true},     // above last
                             // verve 650002-650027, 16, 18, 19 digits
                             PanCase{"6500020000000000", kVerve, true},       // first, shortest
                             PanCase{"6500279999999999998", kVerve, true},    // last, longest
                             PanCase{"650002000000009", kVerve, false},       // too short
                             PanCase{"65002799999999999994", kVerve, false},  // too long
                             PanCase{"65000200000000009", kVerve, false},     // length not issued
                             PanCase{"6500010000000001", kDiscover, true},    // below first
                             PanCase{"6500289999999999", kDiscover, true},    // above last
                             // troy 9792, 16 digits
                             PanCase{"9792000000000003", kTroy, true},          // first, shortest
                             PanCase{"9792999999999994", kTroy, true},          // last, longest
                             PanCase{"979200000000003", kTroy, false},          // too short
                             PanCase{"97929999999999995", kTroy, false},        // too long
                             PanCase{"9791000000000004", std::nullopt, false},  // below first
                             PanCase{"9793999999999993", std::nullopt, false}   // above last
                             ));

// Overlaps resolved by the longest prefix, named explicitly.
INSTANTIATE_TEST_SUITE_P(
    LongestPrefix, CardNumberTest,
    ::testing::Values(PanCase{"4936980000000004", kMaestro, true},  // maestro inside visa's 4
                      PanCase{"4936970000000005", kVisa, true},
                      // UnionPay-Discover 622126-622925 is unionpay (card_brands.inc says why)
                      PanCase{"6221250000000001", kUnionpay, true}, PanCase{"6221260000000000", kUnionpay, true},
                      PanCase{"6229259999999999998", kUnionpay, true}, PanCase{"6229260000000002", kUnionpay, true},
                      PanCase{"62212600000000", kUnionpay, true},  // 14 digits: unionpay's shortest
                      // 67 holds maestro's 6759 and 6761-6763
                      PanCase{"6759000000000000", kMaestro, true}, PanCase{"6761000000000006", kMaestro, true},
                      PanCase{"6763999999999999991", kMaestro, true},
                      // RuPay-JCB 353/356 stay jcb, 6011 inside rupay's 60 stays discover
                      PanCase{"3530000000000003", kJcb, true}, PanCase{"3560000000000006", kJcb, true},
                      PanCase{"6011000000000004", kDiscover, true},
                      // the 15-digit JCB ranges reject 16 digits
                      PanCase{"1800000000000000", kJcb, false}));

// Luhn-valid 16-digit numbers in prefixes no brand of card_brands.inc owns.
INSTANTIATE_TEST_SUITE_P(Unassigned, CardNumberTest,
                         ::testing::Values(PanCase{"0000000000000000", std::nullopt, false},
                                           PanCase{"1000000000000008", std::nullopt, false},
                                           PanCase{"2000000000000006", std::nullopt, false},
                                           PanCase{"2205000000000009", std::nullopt, false},
                                           PanCase{"3100000000000003", std::nullopt, false},
                                           PanCase{"3300000000000001", std::nullopt, false},
                                           PanCase{"7000000000000005", std::nullopt, false},
                                           PanCase{"9000000000000001", std::nullopt, false}));

// Luhn-valid numbers with a brand's prefix but a length that brand never
// issues or outside 12–19, and numbers with a bad check digit or non-digits.
INSTANTIATE_TEST_SUITE_P(Invalid, CardNumberTest,
                         ::testing::Values(PanCase{"4242424242424241", kVisa, false},         // check digit off by one
                                           PanCase{"5555555555554440", kMc, false},           // Luhn fails
                                           PanCase{"500000000000", kMaestro, false},          // 12 digits, Luhn fails
                                           PanCase{"4000000000000002", kVisa, true},          // control: 16 digits
                                           PanCase{"400000000000006", kVisa, true},           // visa, 15 digits: valid
                                           PanCase{"400000000002", kVisa, false},             // visa, 12 digits
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
  EXPECT_STREQ(to_string(CardBrand::kMir), "mir");
  EXPECT_STREQ(to_string(CardBrand::kElo), "elo");
  EXPECT_STREQ(to_string(CardBrand::kRupay), "rupay");
  EXPECT_STREQ(to_string(CardBrand::kVerve), "verve");
  EXPECT_STREQ(to_string(CardBrand::kTroy), "troy");
  EXPECT_EQ(kCardBrandCount, 13U);
}

TEST(Card, BrandNamesRoundTrip) {
  for (std::size_t i = 0; i < kCardBrandCount; ++i) {
    const auto b = static_cast<CardBrand>(i);
    EXPECT_EQ(card_brand_from_string(to_string(b)), b) << to_string(b);
  }
  EXPECT_EQ(card_brand_from_string("Visa"), std::nullopt);
  EXPECT_EQ(card_brand_from_string("american-express"), std::nullopt);
  EXPECT_EQ(card_brand_from_string(""), std::nullopt);
}

TEST(Card, BrandAcceptsLengthIsTheUnionOfItsRanges) {
  // jcb: 15 digits (1800, 2131) and 16-19 (3528-3589)
  EXPECT_FALSE(brand_accepts_length(CardBrand::kJcb, 14));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kJcb, 15));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kJcb, 19));
  // verve: 16, 18, 19
  EXPECT_TRUE(brand_accepts_length(CardBrand::kVerve, 16));
  EXPECT_FALSE(brand_accepts_length(CardBrand::kVerve, 17));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kVerve, 18));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kVisa, 13));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kVisa, 17));
  EXPECT_FALSE(brand_accepts_length(CardBrand::kVisa, 12));
  EXPECT_FALSE(brand_accepts_length(CardBrand::kMastercard, 15));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kMaestro, 12));
  EXPECT_FALSE(brand_accepts_length(CardBrand::kMaestro, 20));
  EXPECT_TRUE(brand_accepts_length(CardBrand::kUnionpay, 14));
}

TEST(Card, DetectBrandReadsOnlyTheDigitsItHas) {
  EXPECT_EQ(detect_brand("4"), kVisa);
  EXPECT_EQ(detect_brand("49369"), kVisa);  // too short to reach maestro's 493698
  EXPECT_EQ(detect_brand("493698"), kMaestro);
  EXPECT_EQ(detect_brand("4936x8"), kVisa);  // stops at the first non-digit
  EXPECT_EQ(detect_brand("62212"), kUnionpay);
  EXPECT_EQ(detect_brand("220"), std::nullopt);  // mir needs 4 digits
  EXPECT_EQ(detect_brand("2200"), kMir);
  EXPECT_EQ(detect_brand("x4"), std::nullopt);
  EXPECT_EQ(detect_brand(""), std::nullopt);
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

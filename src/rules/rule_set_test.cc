// RuleSet: slot numbering across rules, a 100-rule set, concurrency, and the
// allocation-free evaluation path.
#include "rules/rule_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "rules/simple_activation.h"

// Defined in alloc_counter_test_support.cc (replaced global operator new).
namespace txv::rules::testing {
extern thread_local bool g_count_allocations;
extern thread_local long g_allocations;
}  // namespace txv::rules::testing

namespace txv::rules {
namespace {

CompiledExpression must_compile(const std::string& src) {
  CompileResult r = compile(src);
  EXPECT_TRUE(r.ok()) << src << ": " << (r.ok() ? "" : r.error().message);
  if (!r.ok()) {
    return {};
  }
  return std::move(r).value();
}

// Answers depend on the slot asked for, and every call is logged, so tests can
// see which slot the evaluator used.
class ProbeActivation final : public Activation {
 public:
  struct Call {
    char kind;  // 'l' list, 'v' velocity, 'm' metadata
    std::uint32_t slot;
    std::string key;
  };
  std::optional<std::int64_t> int_field(Field) const override { return 100; }
  std::optional<std::string_view> string_field(Field f) const override {
    if (f == Field::kCustomerId) {
      return customer_id;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> metadata(MetadataSlot slot, std::string_view key) const override {
    calls.push_back({'m', slot, std::string(key)});
    return key;
  }
  bool list_contains(ListSlot slot, std::string_view value) const override {
    calls.push_back({'l', slot, std::string(value)});
    return value == "c-" + std::to_string(slot);
  }
  std::optional<VelocityValue> velocity(VelocitySlot slot) const override {
    calls.push_back({'v', slot, {}});
    return VelocityValue{static_cast<std::int64_t>(slot) * 10, static_cast<std::int64_t>(slot) * 100};
  }
  std::string customer_id = "c-1";
  mutable std::vector<Call> calls;
};

TEST(RuleSet, NumbersDistinctReferencesAcrossRules) {
  RuleSet::Builder b;
  b.add(must_compile("customer.id in list('L0') && velocity('card', '1h').count >= 0 && metadata.x == 'x'"), 70);
  b.add(must_compile("customer.id in list('L1') && velocity('ip', '10m').count == 10 && metadata.y == 'y' && "
                     "velocity('card', '60m').amount == 0 && metadata.x == 'x'"),
        71);
  b.add(must_compile("customer.id in list('L0') || customer.id in list('L2') || velocity('card', '3600s').count > 5"),
        72);
  EXPECT_EQ(b.size(), 3U);
  auto set = b.build();
  ASSERT_EQ(set->size(), 3U);
  EXPECT_EQ(set->tag(0), 70U);
  EXPECT_EQ(set->tag(2), 72U);

  ASSERT_EQ(set->lists().size(), 3U);
  EXPECT_EQ(set->lists()[0].name, "L0");
  EXPECT_EQ(set->lists()[1].name, "L1");
  EXPECT_EQ(set->lists()[2].name, "L2");
  for (std::size_t i = 0; i < set->lists().size(); ++i) {
    EXPECT_EQ(set->lists()[i].slot, i);
  }

  ASSERT_EQ(set->velocities().size(), 2U);
  EXPECT_EQ(set->velocities()[0].key, VelocityKey::kCard);
  EXPECT_EQ(set->velocities()[0].window_seconds, 3600);
  EXPECT_EQ(set->velocities()[1].key, VelocityKey::kIp);
  EXPECT_EQ(set->velocities()[1].window_seconds, 600);
  EXPECT_EQ(set->velocities()[1].slot, 1U);

  ASSERT_EQ(set->metadata_keys().size(), 2U);
  EXPECT_EQ(set->metadata_keys()[0].key, "x");
  EXPECT_EQ(set->metadata_keys()[1].key, "y");

  EXPECT_TRUE(set->reads_field(Field::kCustomerId));
  EXPECT_FALSE(set->reads_field(Field::kCardBin));

  // Rule 1 refers to L1 first (its local slot 0), which is set slot 1.
  ProbeActivation probe;
  EXPECT_EQ(set->evaluate(1, probe), Outcome::kTrue);
  ASSERT_FALSE(probe.calls.empty());
  EXPECT_EQ(probe.calls[0].kind, 'l');
  EXPECT_EQ(probe.calls[0].slot, 1U);
  for (const auto& c : probe.calls) {
    if (c.kind == 'm') {
      EXPECT_EQ(set->metadata_keys()[c.slot].key, c.key);
    }
    if (c.kind == 'v') {
      EXPECT_LT(c.slot, set->velocities().size());
    }
  }
  // Rule 0: L0 is set slot 0, "c-1" is not in it.
  EXPECT_EQ(set->evaluate(0, probe), Outcome::kFalse);
  // Rule 2: L0 (slot 0) no, L2 (slot 2) no, card/1h count = 0 > 5 no.
  EXPECT_EQ(set->evaluate(2, probe), Outcome::kFalse);
  probe.customer_id = "c-2";
  EXPECT_EQ(set->evaluate(2, probe), Outcome::kTrue);
}

TEST(RuleSet, EmptySetAndEmptyExpressions) {
  auto empty = RuleSet::Builder().build();
  EXPECT_EQ(empty->size(), 0U);
  std::vector<bool> matched(3, true);
  SimpleActivation a;
  empty->evaluate(a, matched);
  EXPECT_TRUE(matched.empty());

  RuleSet::Builder b;
  b.add(CompiledExpression{}, 5);
  b.add(must_compile("true"), 6);
  auto set = b.build();
  set->evaluate(a, matched);
  EXPECT_EQ(matched, (std::vector<bool>{false, true}));
  EXPECT_EQ(b.size(), 0U);  // build() leaves the builder empty
}

SimpleActivation transaction() {
  SimpleActivation a;
  a.set_amount(12550)
      .set(Field::kCurrency, "USD")
      .set(Field::kCardBrand, "visa")
      .set(Field::kCardBin, "424242")
      .set(Field::kCustomerEmail, "a@example.com")
      .set(Field::kCustomerCountry, "US")
      .set(Field::kMerchantMcc, "5411")
      .set_metadata("channel", "web")
      .set_list("blocked_bins", {"411111", "424242"})
      .set_velocity(VelocityKey::kCard, 3600, {3, 30000})
      .set_velocity(VelocityKey::kCustomer, 86400, {10, 100000})
      .set_velocity(VelocityKey::kIp, 30, {0, 0});
  return a;
}

std::vector<std::string> hundred_rules() {
  std::vector<std::string> out;
  for (int i = 0; i < 100; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 10) {
      case 0:
        out.push_back("amount > " + std::to_string(i * 1000));
        break;
      case 1:
        out.push_back("currency == 'USD' && amount >= " + std::to_string(i * 200));
        break;
      case 2:
        out.push_back("card.bin in list('blocked_bins') && amount > " + n);
        break;
      case 3:
        out.push_back("customer.email.endsWith('@example.com') && velocity('card', '1h').count >= " +
                      std::to_string(i % 5));
        break;
      case 4:
        out.push_back("velocity('customer', '24h').amount > " + std::to_string(i * 2000));
        break;
      case 5:
        out.push_back("metadata.channel == 'web' && !(customer.country in ['FR', 'DE', 'C" + n + "'])");
        break;
      case 6:
        out.push_back("customer.device_id == 'd-" + n + "'");
        break;
      case 7:
        out.push_back("card.brand in ['visa', 'mastercard'] && merchant.mcc.startsWith('5" + n + "')");
        break;
      case 8:
        out.push_back("velocity('ip', '30s').count > 0 || amount % " + std::to_string(i + 1) + " == 0");
        break;
      default:
        out.push_back("size(customer.email) > " + std::to_string(i / 7));
        break;
    }
  }
  return out;
}

TEST(RuleSet, HundredRulesAgreeWithStandaloneEvaluation) {
  RuleSet::Builder b;
  std::vector<CompiledExpression> exprs;
  for (const auto& src : hundred_rules()) {
    exprs.push_back(must_compile(src));
    b.add(exprs.back(), exprs.size() - 1);
  }
  auto set = b.build();
  ASSERT_EQ(set->size(), 100U);
  EXPECT_EQ(set->lists().size(), 1U);
  EXPECT_EQ(set->velocities().size(), 3U);
  EXPECT_EQ(set->metadata_keys().size(), 1U);

  SimpleActivation a = transaction();
  a.bind(*set);
  std::vector<bool> matched;
  set->evaluate(a, matched);
  std::vector<Outcome> outcomes(set->size());
  set->evaluate(a, std::span<Outcome>(outcomes));

  int hits = 0;
  int absent = 0;
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    SimpleActivation own = transaction();
    own.bind(exprs[i]);
    const Outcome want = exprs[i].evaluate(own);
    EXPECT_EQ(outcomes[i], want) << exprs[i].source();
    EXPECT_EQ(matched[i], want == Outcome::kTrue) << exprs[i].source();
    EXPECT_EQ(set->evaluate(i, a), want);
    EXPECT_EQ(set->tag(i), i);
    hits += matched[i] ? 1 : 0;
    absent += outcomes[i] == Outcome::kAbsent ? 1 : 0;
  }
  // Spot checks by construction.
  EXPECT_TRUE(matched[0]);                   // amount > 0
  EXPECT_FALSE(matched[20]);                 // amount > 20000
  EXPECT_TRUE(matched[2]);                   // blocked bin
  EXPECT_EQ(outcomes[6], Outcome::kAbsent);  // device_id absent
  EXPECT_FALSE(matched[7]);                  // "5411" does not start with "57"
  EXPECT_TRUE(matched[5]);                   // channel web, country US not in the list
  EXPECT_EQ(absent, 10);
  EXPECT_GT(hits, 30);
  EXPECT_LT(hits, 90);
}

TEST(RuleSet, ConcurrentEvaluationGivesTheSameAnswers) {
  RuleSet::Builder b;
  for (const auto& src : hundred_rules()) {
    b.add(must_compile(src));
  }
  std::shared_ptr<const RuleSet> set = b.build();
  SimpleActivation a = transaction();
  a.bind(*set);
  std::vector<bool> want;
  set->evaluate(a, want);

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, set] {
      std::vector<bool> got;
      for (int i = 0; i < 500; ++i) {
        set->evaluate(a, got);
        if (got != want) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(RuleSet, EvaluationDoesNotAllocate) {
  using testing::g_allocations;
  using testing::g_count_allocations;
  RuleSet::Builder b;
  for (const auto& src : hundred_rules()) {
    b.add(must_compile(src));
  }
  auto set = b.build();
  SimpleActivation a = transaction();
  a.bind(*set);
  std::vector<bool> matched(set->size());
  std::vector<Outcome> outcomes(set->size());

  g_allocations = 0;
  g_count_allocations = true;
  set->evaluate(a, matched);
  set->evaluate(a, std::span<Outcome>(outcomes));
  g_count_allocations = false;
  EXPECT_EQ(g_allocations, 0);

  // The counter itself works.
  g_count_allocations = true;
  auto* p = new std::string(100, 'x');
  g_count_allocations = false;
  delete p;
  EXPECT_GE(g_allocations, 1);
}

TEST(RuleSet, SharesCompiledExpressions) {
  CompiledExpression e = must_compile("amount > 1");
  RuleSet::Builder b1;
  b1.add(e);
  RuleSet::Builder b2;
  b2.add(e);
  b2.add(must_compile("amount < 1"));
  auto s1 = b1.build();
  auto s2 = b2.build();
  EXPECT_EQ(&s1->expression(0).source(), &s2->expression(0).source());
  SimpleActivation a = transaction();
  EXPECT_EQ(s2->evaluate(0, a), Outcome::kTrue);
  EXPECT_EQ(s2->evaluate(1, a), Outcome::kFalse);
}

}  // namespace
}  // namespace txv::rules

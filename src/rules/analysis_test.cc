// Rule analysis: a table of expressions and the warnings they must (and must
// not) get, and a property test against the real evaluator.
#include "rules/analysis.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "rules/expression.h"
#include "rules/simple_activation.h"

namespace txv::rules {
namespace {

std::vector<std::string> codes(const std::vector<Warning>& ws) {
  std::vector<std::string> out;
  for (const auto& w : ws) out.emplace_back(warning_code_name(w.code));
  return out;
}

const ListExists kLists = [](std::string_view name) { return name == "risky_bins"; };

struct Case {
  const char* expr;
  std::vector<std::string> want;
};

TEST(RuleAnalysis, ExpressionTable) {
  const std::vector<Case> cases = {
      // The contract's examples.
      {"amount > 10 && amount < 5", {"never_matches"}},
      {"card.bin == 'abc'", {"never_matches"}},
      {"merchant.mcc == '12345'", {"never_matches"}},
      {"amount < 0", {"never_matches"}},
      {"currency == 'usd'", {"never_matches"}},
      {"customer.country == 'USA'", {"never_matches"}},
      {"type == 'sale'", {"never_matches"}},
      {"card.bin.startsWith('4x')", {"never_matches"}},
      {"size(card.bin) > 8", {"never_matches"}},
      {"card.last4 == '12'", {"never_matches"}},
      {"customer.email.startsWith('@')", {"never_matches"}},
      {"customer.email.contains('a@b@')", {"never_matches"}},
      {"card.bin.startsWith('41') && card.bin.startsWith('42')", {"never_matches"}},
      {"card.bin.startsWith('4111') && !card.bin.startsWith('41')", {"never_matches"}},
      {"merchant.mcc in ['1', '22']", {"never_matches"}},
      {"currency in []", {"never_matches"}},
      {"false", {"never_matches"}},
      {"card.bin < '000000'", {"never_matches"}},
      {"amount > 10 && metadata.channel == 'web' && amount < 5", {"never_matches"}},
      {"amount == 5 && amount != 5", {"never_matches"}},
      {"amount > 1000000000000000", {"never_matches"}},
      {"amount >= 0", {"always_matches"}},
      {"amount > 10 || amount <= 10", {"always_matches"}},
      {"currency == 'USD' || currency != 'USD'", {"always_matches"}},
      {"type in ['purchase', 'authorization', 'refund', 'payout', 'verification']", {"always_matches"}},
      {"true", {"always_matches"}},
      {"size(merchant_id) >= 1", {"always_matches"}},
      {"!(amount < 0)", {"always_matches"}},
      {"card.bin in list('nope')", {"unknown_list"}},
      // Must NOT warn.
      {"card.bin in list('risky_bins')", {}},
      {"customer.email == 'x@y' || !(customer.email == 'x@y')", {}},
      {"card.bin == '424242' || card.bin != '424242'", {}},
      {"merchant.mcc < '5000' || merchant.mcc >= '5000'", {}},
      {"amount > 10 && amount < 12", {}},
      {"amount == 0", {}},
      {"card.bin == '42424242'", {}},
      {"merchant.mcc == '7995'", {}},
      {"customer.country != merchant.country", {}},
      {"velocity('card', '1h').count >= 3 && amount > 50000", {}},
      {"metadata.x == 'a' && metadata.x != 'a'", {}},  // opaque: different atoms
      {"metadata.x == 'a' || metadata.x != 'a'", {}},
      {"amount * 2 > 10", {}},
      {"amount + 0 >= 0", {}},
      {"customer.email.endsWith('@example.com')", {}},
      {"card.brand == 'visa'", {}},
      {"card.brand == 'made up brand'", {}},
      {"customer.ip.startsWith('10.')", {}},
      {"transaction_id.contains('x')", {}},
      {"customer.id == 'x' || customer.id != 'x'", {}},
      {"card.bin.startsWith('4') || !card.bin.startsWith('4')", {}},
      {"amount > 100 && (card.bin == 'abc' || currency == 'USD')", {}},
      {"card.bin > 'abc'", {"never_matches"}},
      {"card.bin <= '99999999'", {}},
      {"merchant.mcc >= '0000'", {}},
      {"currency >= 'AAA'", {"always_matches"}},
  };
  for (const auto& c : cases) {
    auto r = check_expression(c.expr, kLists);
    ASSERT_FALSE(r.error) << c.expr << ": " << r.error->message;
    EXPECT_EQ(codes(r.warnings), c.want) << c.expr;
  }
}

TEST(RuleAnalysis, ColumnsPointAtTheCulprit) {
  auto r = check_expression("amount > 10 && amount < 5", kLists);
  ASSERT_EQ(r.warnings.size(), 1U);
  EXPECT_EQ(r.warnings[0].column, 16);
  r = check_expression("currency == 'USD' && card.bin == 'abc'", kLists);
  ASSERT_EQ(r.warnings.size(), 1U);
  EXPECT_EQ(r.warnings[0].column, 22);
  r = check_expression("amount > 5 && card.bin in list('nope')", kLists);
  ASSERT_EQ(r.warnings.size(), 1U);
  EXPECT_EQ(r.warnings[0].code, WarningCode::kUnknownList);
  EXPECT_EQ(r.warnings[0].column, 27);
  r = check_expression("card.bin == 'abc'", kLists);
  ASSERT_EQ(r.warnings.size(), 1U);
  EXPECT_FALSE(r.warnings[0].column);
}

TEST(RuleAnalysis, ErrorsAreReportedNotWarned) {
  auto r = check_expression("amount > 'x'", kLists);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error->column, 8);
  EXPECT_TRUE(r.warnings.empty());
}

AnalysisRule rule(std::string id, std::string expr, AnalysisAction action, std::int64_t priority,
                  AnalysisMode mode = AnalysisMode::kEnforce) {
  return AnalysisRule{std::move(id), std::move(expr), action, priority, mode};
}

TEST(RuleAnalysis, ShadowedByAndOverridden) {
  using A = AnalysisAction;
  const std::vector<AnalysisRule> set = {
      rule("wide", "amount > 100", A::kDecline, 1),
      rule("narrow", "amount > 1000 && currency == 'USD'", A::kDecline, 5),
      rule("narrow_review", "amount > 1000", A::kReview, 5),
      rule("first_narrow", "amount > 5000", A::kDecline, 0),
      rule("allow", "card.bin in ['424242', '411111']", A::kApprove, 50),
      rule("blocked", "card.bin == '424242' && amount > 10", A::kReview, 2),
      rule("shadow_wide", "amount > 0", A::kDecline, -5, AnalysisMode::kShadow),
      rule("disabled", "amount > 2000", A::kDecline, 9, AnalysisMode::kDisabled),
  };
  auto all = analyze_rule_set(set, kLists);
  std::vector<std::string> got;
  for (const auto& w : all)
    got.push_back(w.rule_id + ":" + std::string(warning_code_name(w.warning.code)) + ":" + w.warning.rule_id);
  const std::vector<std::string> want = {
      "narrow:shadowed_by:wide",
      "blocked:overridden_by_approve:allow",
  };
  EXPECT_EQ(got, want);
}

TEST(RuleAnalysis, EqualPriorityUsesIdAndUnknownFormsStaySilent) {
  using A = AnalysisAction;
  const std::vector<AnalysisRule> set = {
      rule("b", "amount > 100", A::kDecline, 1),
      rule("a", "amount > 100", A::kDecline, 1),
      rule("c", "metadata.x == 'y' && amount > 100", A::kDecline, 2),
      rule("d", "velocity('card', '1h').count > 2", A::kDecline, 3),
      rule("e", "velocity('card', '1h').count > 2 && merchant.mcc == '7995'", A::kDecline, 4),
  };
  auto all = analyze_rule_set(set, kLists);
  std::vector<std::string> got;
  for (const auto& w : all) got.push_back(w.rule_id + ":" + w.warning.rule_id);
  EXPECT_EQ(got, (std::vector<std::string>{"b:a", "c:a", "e:d"}));
  // d is not covered by anything: velocity is opaque.
}

TEST(RuleAnalysis, LargeSetIsAnalysedWithinTheBudget) {
  // 120 merchant-scoped rules over currency, mcc, bin and amount; the
  // last one repeats rule 7 with a narrower amount: exactly one warning, found.
  static const char* kCurrencies[] = {"USD", "EUR", "GBP", "JPY", "CHF"};
  std::vector<AnalysisRule> set;
  for (int i = 0; i < 120; ++i) {
    set.push_back(rule("r" + std::to_string(1000 + i),
                       "merchant_id == 'm" + std::to_string(i) + "' && currency == '" + kCurrencies[i % 5] +
                           "' && merchant.mcc != '" + std::to_string(5000 + i) + "' && card.bin.startsWith('4" +
                           std::to_string(i % 10) + "') && amount > " + std::to_string(i * 100),
                       AnalysisAction::kDecline, i));
  }
  set.push_back(rule("r9999",
                     "merchant_id == 'm7' && currency == 'GBP' && merchant.mcc != '5007' && "
                     "card.bin.startsWith('47') && amount > 5000",
                     AnalysisAction::kDecline, 500));
  auto all = analyze_rule_set(set, kLists);
  ASSERT_EQ(all.size(), 1U);
  EXPECT_EQ(all[0].rule_id, "r9999");
  EXPECT_EQ(all[0].warning.code, WarningCode::kShadowedBy);
  EXPECT_EQ(all[0].warning.rule_id, "r1007");
}

TEST(RuleAnalysis, TooManyCombinationsStaysSilent) {
  // Always true, but 12 independent opaque atoms are 3^12 combinations: past the bound.
  std::string expr = "amount >= 0";
  for (int i = 0; i < 12; ++i) expr += " || metadata.k" + std::to_string(i) + " == 'x'";
  EXPECT_TRUE(check_expression(expr, kLists).warnings.empty());
  // Within the bound, the same shape is found.
  EXPECT_EQ(codes(check_expression("amount >= 0 || metadata.a == 'x' || metadata.b == 'y'", kLists).warnings),
            (std::vector<std::string>{"always_matches"}));
}

// ------------------------------------------------------------------ property

struct Gen {
  std::mt19937_64 rng{20261127};
  int pick(int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }

  const std::vector<std::string> bins = {"424242", "411111", "42424242", "abc", "4", "", "41", "999999", "000000"};
  const std::vector<std::string> mccs = {"7995", "5411", "0000", "12345", "9999", "79"};
  const std::vector<std::string> curs = {"USD", "EUR", "usd", "JPY", "AAA", "ZZZ"};
  const std::vector<std::string> emails = {"a@b", "x@example.com", "@", "a@b@c", "z@z", "a"};
  const std::vector<std::int64_t> amounts = {0, 1, 5, 10, 11, 100, 999, 1000, -1, 1000000000000000};

  std::string str_atom(const std::string& field, const std::vector<std::string>& consts) {
    const std::string c = "'" + consts[static_cast<std::size_t>(pick(static_cast<int>(consts.size())))] + "'";
    static const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
    switch (pick(9)) {
      case 0:
        return field + ".startsWith(" + c + ")";
      case 1:
        return field + ".endsWith(" + c + ")";
      case 2:
        return field + ".contains(" + c + ")";
      case 3:
        return "size(" + field + ") " + ops[pick(6)] + " " + std::to_string(pick(10));
      case 4:
        return field + " in [" + c + ", '" + consts[0] + "']";
      default:
        return field + " " + ops[pick(6)] + " " + c;
    }
  }
  std::string atom() {
    static const char* ops[] = {"==", "!=", "<", "<=", ">", ">="};
    switch (pick(7)) {
      case 0:
      case 1:
        return "amount " + std::string(ops[pick(6)]) + " " +
               std::to_string(amounts[static_cast<std::size_t>(pick(static_cast<int>(amounts.size())))]);
      case 2:
        return str_atom("card.bin", bins);
      case 3:
        return str_atom("merchant.mcc", mccs);
      case 4:
        return str_atom("currency", curs);
      case 5:
        return str_atom("customer.email", emails);
      default:
        return pick(2) ? "metadata.k == 'v'" : "metadata.k != 'w'";
    }
  }
  std::string expr(int depth) {
    if (depth == 0 || pick(3) == 0) return atom();
    switch (pick(3)) {
      case 0:
        return "!(" + expr(depth - 1) + ")";
      case 1:
        return "(" + expr(depth - 1) + " && " + expr(depth - 1) + ")";
      default:
        return "(" + expr(depth - 1) + " || " + expr(depth - 1) + ")";
    }
  }
  // A transaction within the domain a stored transaction can have.
  SimpleActivation txn() {
    SimpleActivation a;
    static const std::vector<std::int64_t> amts = {0,  1,   4,   5,   6,    10,   11,
                                                   12, 100, 101, 999, 1000, 1001, 1000000000000000};
    a.set_amount(pick(4) == 0 ? static_cast<std::int64_t>(rng() % 2000)
                              : amts[static_cast<std::size_t>(pick(static_cast<int>(amts.size())))]);
    static const std::vector<std::string> bin_values = {"424242", "411111",  "42424242", "999999",
                                                        "000000", "4242424", "41111199"};
    if (pick(5) != 0) {
      a.set(Field::kCardBin, pick(3) == 0
                                 ? std::to_string(100000 + rng() % 900000)
                                 : bin_values[static_cast<std::size_t>(pick(static_cast<int>(bin_values.size())))]);
    }
    static const std::vector<std::string> mcc_values = {"7995", "5411", "0000", "9999", "7994", "8000"};
    if (pick(5) != 0)
      a.set(Field::kMerchantMcc, mcc_values[static_cast<std::size_t>(pick(static_cast<int>(mcc_values.size())))]);
    static const std::vector<std::string> cur_values = {"USD", "EUR", "JPY", "AAA", "ZZZ", "GBP"};
    a.set(Field::kCurrency, cur_values[static_cast<std::size_t>(pick(static_cast<int>(cur_values.size())))]);
    static const std::vector<std::string> email_values = {"a@b", "x@example.com", "z@z", "a@bc", "ab@c"};
    if (pick(4) != 0)
      a.set(Field::kCustomerEmail, email_values[static_cast<std::size_t>(pick(static_cast<int>(email_values.size())))]);
    if (pick(3) != 0) a.set_metadata("k", pick(2) ? "v" : "w");
    return a;
  }
};

TEST(RuleAnalysis, PropertyNoFalseWarnings) {
  Gen g;
  constexpr int kRules = 3000;
  constexpr int kTxnsPerRule = 50;
  std::vector<SimpleActivation> txns;
  for (int i = 0; i < 512; ++i) txns.push_back(g.txn());
  long pairs = 0, never = 0, always = 0, covered = 0;
  std::vector<AnalysisRule> window;
  for (int i = 0; i < kRules; ++i) {
    const std::string src = g.expr(3);
    auto compiled = compile(src);
    ASSERT_TRUE(compiled.ok()) << src << ": " << compiled.error().message;
    const CompiledExpression& e = compiled.value();
    // A set of 4 rules: this one, and three before it (shadowed_by / overridden_by_approve).
    AnalysisRule me{"r" + std::to_string(i), src, g.pick(2) ? AnalysisAction::kDecline : AnalysisAction::kReview, 10,
                    AnalysisMode::kEnforce};
    for (auto& w : window) w.priority = 1;
    const auto warnings = analyze_rule(me, window, kLists);
    bool is_never = false, is_always = false;
    std::vector<const AnalysisRule*> coverers;
    for (const auto& w : warnings) {
      if (w.code == WarningCode::kNeverMatches) is_never = true;
      if (w.code == WarningCode::kAlwaysMatches) is_always = true;
      if (w.code == WarningCode::kShadowedBy || w.code == WarningCode::kOverriddenByApprove) {
        for (const auto& o : window)
          if (o.id == w.rule_id) coverers.push_back(&o);
      }
    }
    never += is_never;
    always += is_always;
    covered += !coverers.empty();
    std::vector<CompiledExpression> cover_exprs;
    for (const auto* o : coverers) cover_exprs.push_back(compile(o->expression).value());
    for (int t = 0; t < kTxnsPerRule; ++t) {
      SimpleActivation& a = txns[static_cast<std::size_t>(g.pick(static_cast<int>(txns.size())))];
      a.bind(e);
      const bool hit = e.matches(a);
      ++pairs;
      if (is_never) {
        ASSERT_FALSE(hit) << src;
      }
      if (is_always) {
        ASSERT_TRUE(hit) << src;
      }
      if (hit) {
        for (std::size_t k = 0; k < cover_exprs.size(); ++k) {
          a.bind(cover_exprs[k]);
          ASSERT_TRUE(cover_exprs[k].matches(a)) << src << " covered by " << coverers[k]->expression;
        }
      }
    }
    window.push_back(me);
    window.back().action = g.pick(3) == 0 ? AnalysisAction::kApprove : me.action;
    if (window.size() > 3) window.erase(window.begin());
  }
  RecordProperty("never", std::to_string(never));
  RecordProperty("always", std::to_string(always));
  RecordProperty("covered", std::to_string(covered));
  EXPECT_GE(pairs, 150000);
  // The generator must produce every kind of warning, or the test proves little.
  EXPECT_GT(never, 20);
  EXPECT_GT(always, 5);
  EXPECT_GT(covered, 5);
}

}  // namespace
}  // namespace txv::rules

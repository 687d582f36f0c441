// Decision traces (contract section 10) at the evaluator: which values are
// traced, how they are named, their order, and that they are the values the
// evaluation used (absent, short-circuited, the same as the untraced result).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/expression.h"
#include "rules/rule_set.h"
#include "rules/simple_activation.h"

namespace txv::rules {
namespace {

SimpleActivation activation() {
  SimpleActivation a;
  a.set_amount(12550)
      .set(Field::kCardBin, "424242")
      .set(Field::kCustomerEmail, "a@example.com")
      .set(Field::kMerchantMcc, "5411")
      .set_metadata("channel", "web")
      .set_list("risky_bins", {"424242"})
      .set_velocity(VelocityKey::kCard, 3600, {2, 30000});
  return a;
}

// "expr=value" for every reached value, in trace order; absent is "null", unread ones are left out.
std::string render(const std::vector<std::string>& exprs, const std::vector<TraceValue>& values) {
  std::string out;
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    const TraceValue& v = values[i];
    if (v.kind == TraceValue::Kind::kUnread) continue;
    if (!out.empty()) out += "; ";
    out += exprs[i] + "=";
    switch (v.kind) {
      case TraceValue::Kind::kAbsent:
        out += "null";
        break;
      case TraceValue::Kind::kInt:
        out += std::to_string(v.i);
        break;
      case TraceValue::Kind::kBool:
        out += v.i != 0 ? "true" : "false";
        break;
      case TraceValue::Kind::kString:
        out += "'" + std::string(v.s) + "'";
        break;
      case TraceValue::Kind::kUnread:
        break;
    }
  }
  return out;
}

struct Traced {
  Outcome outcome;
  std::string values;
};

Traced trace(const std::string& source) {
  auto compiled = compile(source);
  EXPECT_TRUE(compiled.ok()) << source << ": " << (compiled.ok() ? "" : compiled.error().message);
  if (!compiled.ok()) return {Outcome::kFalse, ""};
  SimpleActivation a = activation();
  a.bind(compiled.value());
  std::vector<TraceValue> values(compiled.value().trace_exprs().size());
  const Outcome o = compiled.value().evaluate_traced(a, values);
  EXPECT_EQ(o, compiled.value().evaluate(a)) << source;
  return {o, render(compiled.value().trace_exprs(), values)};
}

TEST(Trace, ContractExampleNamesAndValuesInSourceOrder) {
  const auto t =
      trace("velocity('card', '1h').count >= 2 && card.bin in list('risky_bins') && customer.device_id == 'd1'");
  EXPECT_EQ(t.outcome, Outcome::kAbsent);
  EXPECT_EQ(t.values,
            "velocity('card', '1h').count=2; card.bin='424242'; card.bin in list('risky_bins')=true; "
            "customer.device_id=null");
}

TEST(Trace, EachValueOnceEvenWhenReadTwice) {
  const auto t = trace("amount > 100 && amount < 20000");
  EXPECT_EQ(t.outcome, Outcome::kTrue);
  EXPECT_EQ(t.values, "amount=12550");
}

TEST(Trace, ShortCircuitedValuesAreNotReported) {
  const auto t = trace("amount < 100 && velocity('card', '1h').count > 1");
  EXPECT_EQ(t.outcome, Outcome::kFalse);
  EXPECT_EQ(t.values, "amount=12550");
}

TEST(Trace, FunctionResultsMetadataAndVelocityAmount) {
  const auto t = trace(
      "customer.email.endsWith('@example.com') && size(metadata.channel) == 3 && "
      "velocity('card', '1h').amount > 100 && merchant.mcc.startsWith('54')");
  EXPECT_EQ(t.outcome, Outcome::kTrue);
  EXPECT_EQ(t.values,
            "customer.email='a@example.com'; customer.email.endsWith('@example.com')=true; metadata.channel='web'; "
            "size(metadata.channel)=3; velocity('card', '1h').amount=30000; merchant.mcc='5411'; "
            "merchant.mcc.startsWith('54')=true");
}

TEST(Trace, AbsentVelocityAndListTestOnAbsentField) {
  const auto t = trace("velocity('email', '10m').count > 1 || customer.ip in list('risky_bins')");
  EXPECT_EQ(t.outcome, Outcome::kAbsent);
  EXPECT_EQ(t.values, "velocity('email', '10m').count=null; customer.ip=null; customer.ip in list('risky_bins')=null");
}

TEST(Trace, NamesAreNormalisedSourceThatParsesBack) {
  // Written with double quotes, odd spacing and redundant parentheses.
  auto compiled = compile("(( velocity( \"card\" ,'1h' ).count)) > 1 && !(customer.email.contains(\"it's\"))");
  ASSERT_TRUE(compiled.ok());
  const auto& exprs = compiled.value().trace_exprs();
  ASSERT_EQ(exprs.size(), 3U);
  EXPECT_EQ(exprs[0], "velocity('card', '1h').count");
  EXPECT_EQ(exprs[1], "customer.email");
  EXPECT_EQ(exprs[2], "customer.email.contains('it\\'s')");
  for (const auto& e : exprs) {  // a comparison with itself type-checks for every scalar type
    EXPECT_TRUE(compile("(" + e + ") == (" + e + ")").ok()) << e;
  }
}

TEST(Trace, RuleSetTracesWithItsOwnSlotNumbering) {
  RuleSet::Builder b;
  b.add(compile("velocity('customer', '24h').count > 5").value());
  b.add(compile("card.bin in list('risky_bins') && velocity('card', '1h').count >= 2").value());
  auto set = b.build();
  SimpleActivation a = activation();
  a.bind(*set);
  std::vector<TraceValue> values(set->trace_exprs(1).size());
  EXPECT_EQ(set->evaluate_traced(1, a, values), Outcome::kTrue);
  EXPECT_EQ(render(set->trace_exprs(1), values),
            "card.bin='424242'; card.bin in list('risky_bins')=true; velocity('card', '1h').count=2");
  values.assign(set->trace_exprs(0).size(), TraceValue{});
  EXPECT_EQ(set->evaluate_traced(0, a, values), Outcome::kAbsent);
  EXPECT_EQ(render(set->trace_exprs(0), values), "velocity('customer', '24h').count=null");
}

}  // namespace
}  // namespace txv::rules

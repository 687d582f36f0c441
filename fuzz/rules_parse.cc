// libFuzzer target: compiles arbitrary bytes as a rule expression and, if it
// compiles, evaluates it against fixed activations, checking invariants that a
// sanitizer alone would not catch:
//  - a rejected expression has a column within [1, length + 1] and a message
//    that names that column and never echoes a run of 12 or more digits (a
//    card number in a rule's source stays out of its error);
//  - evaluation through a RuleSet gives the same outcome as standalone;
//  - negation is consistent with the three-valued semantics: !(e) is false
//    when e is true, true when e is false, and absent when e is absent.
// Build and run with scripts/fuzz-rules.sh.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/expression.h"
#include "rules/rule_set.h"
#include "rules/simple_activation.h"

namespace {

using txv::rules::Field;
using txv::rules::Outcome;
using txv::rules::SimpleActivation;
using txv::rules::VelocityKey;

SimpleActivation full_activation() {
  SimpleActivation a;
  a.set_amount(12550)
      .set(Field::kCurrency, "USD")
      .set(Field::kType, "purchase")
      .set(Field::kTransactionId, "ord-1001")
      .set(Field::kMerchantId, "m-42")
      .set(Field::kCardBrand, "visa")
      .set(Field::kCardBin, "424242")
      .set(Field::kCardLast4, "4242")
      .set(Field::kCardFingerprint, "0123456789abcdef0123456789abcdef")
      .set(Field::kCustomerId, "c-7")
      .set(Field::kCustomerEmail, "a@example.com")
      .set(Field::kCustomerIp, "203.0.113.7")
      .set(Field::kCustomerCountry, "US")
      .set(Field::kCustomerDeviceId, "d-1")
      .set(Field::kMerchantMcc, "5411")
      .set(Field::kMerchantCountry, "US")
      .set_metadata("channel", "web")
      .set_metadata("order-id", "o-1")
      .set_list("blocked_bins", {"411111", "424242"})
      .set_list("x", {"", "x", "USD"})
      .set_velocity(VelocityKey::kCard, 3600, {3, 30000})
      .set_velocity(VelocityKey::kCustomer, 86400, {9223372036854775807LL, -9223372036854775807LL - 1})
      .set_velocity(VelocityKey::kIp, 600, {0, 0});
  return a;
}

// Only the required fields: every optional read is absent.
SimpleActivation sparse_activation() {
  SimpleActivation a;
  a.set_amount(0).set(Field::kCurrency, "").set(Field::kTransactionId, "t").set(Field::kMerchantId, "m");
  return a;
}

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool has_long_digit_run(std::string_view s) {
  std::size_t run = 0;
  for (char c : s) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 12) return true;
  }
  return false;
}

Outcome negated(Outcome o) {
  switch (o) {
    case Outcome::kTrue:
      return Outcome::kFalse;
    case Outcome::kFalse:
      return Outcome::kTrue;
    case Outcome::kAbsent:
      return Outcome::kAbsent;
  }
  __builtin_trap();
}

void evaluate_everywhere(const txv::rules::CompiledExpression& expr, std::string_view src, SimpleActivation a) {
  a.bind(expr);
  const Outcome standalone = expr.evaluate(a);
  check(standalone == Outcome::kTrue || standalone == Outcome::kFalse || standalone == Outcome::kAbsent);

  txv::rules::RuleSet::Builder builder;
  builder.add(expr, 1);
  builder.add(expr, 2);
  auto set = builder.build();
  a.bind(*set);
  check(set->evaluate(0, a) == standalone);
  check(set->evaluate(1, a) == standalone);

  auto neg = txv::rules::compile("!(" + std::string(src) + ")");
  if (neg.ok()) {  // may fail: one more level of nesting, or a trailing "//"-like oddity
    SimpleActivation b = a;
    b.bind(neg.value());
    check(neg.value().evaluate(b) == negated(standalone));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const SimpleActivation full = full_activation();
  static const SimpleActivation sparse = sparse_activation();

  const std::string_view src(reinterpret_cast<const char*>(data), size);
  const auto result = txv::rules::compile(src);
  if (!result.ok()) {
    const auto& e = result.error();
    check(e.column >= 1 && static_cast<std::size_t>(e.column) <= size + 1);
    check(e.message.find("at column " + std::to_string(e.column)) != std::string::npos);
    check(!has_long_digit_run(e.message));
    return 0;
  }
  evaluate_everywhere(result.value(), src, full);
  evaluate_everywhere(result.value(), src, sparse);
  return 0;
}

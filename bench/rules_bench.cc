// Benchmarks of the rule expression language (src/rules):
//  - BM_Evaluate100Rules: 100 compiled rules (comparisons, `in` over a
//    1,000,000-entry named list, string methods, 3 distinct velocity reads
//    served from memory) against one transaction, through an Activation shaped
//    like the decision pipeline's (fields, metadata and list snapshots
//    resolved per slot before evaluation). Target: < 10 us per transaction.
//  - BM_Evaluate100Rules_SimpleActivation: the same with SimpleActivation
//    (metadata looked up by key).
//  - BM_Compile100Rules: compiling the 100 expressions and building the RuleSet.
//  - BM_CompileOneRule, BM_ListContains1M: reference points.
// Counters: per_rule = time per rule evaluation; per_txn = time per 100 rules.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "rules/rule_set.h"
#include "rules/simple_activation.h"

namespace {

using txv::rules::Activation;
using txv::rules::CompiledExpression;
using txv::rules::Field;
using txv::rules::ListSlot;
using txv::rules::MetadataSlot;
using txv::rules::RuleSet;
using txv::rules::SimpleActivation;
using txv::rules::VelocityKey;
using txv::rules::VelocitySlot;
using txv::rules::VelocityValue;

constexpr std::size_t kBigListSize = 1'000'000;

using StringSet = SimpleActivation::StringSet;

std::string hex32(std::uint64_t seed) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x1234567;
  for (int i = 0; i < 32; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    s[i] = kHex[x & 0xF];
  }
  return s;
}

const StringSet& big_list() {
  static const StringSet set = [] {
    StringSet s;
    s.reserve(kBigListSize);
    for (std::size_t i = 0; i < kBigListSize; ++i) s.insert(hex32(i));
    return s;
  }();
  return set;
}

const StringSet& risky_bins() {
  static const StringSet set = [] {
    StringSet s;
    for (int i = 0; i < 5000; ++i) s.insert(std::to_string(400000 + i * 7));
    return s;
  }();
  return set;
}

std::vector<std::string> hundred_rules() {
  std::vector<std::string> out;
  for (int i = 0; i < 100; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 10) {
      case 0:
        out.push_back("amount > " + std::to_string(i * 1000) + " && currency == 'USD'");
        break;
      case 1:
        out.push_back("card.fingerprint in list('blocked_cards')");
        break;
      case 2:
        out.push_back("customer.email.endsWith('@mailinator" + n + ".com') || customer.email.contains('+test')");
        break;
      case 3:
        out.push_back("velocity('card', '1h').count >= 3 && amount > " + std::to_string(i * 100));
        break;
      case 4:
        out.push_back("velocity('customer', '24h').amount > " + std::to_string(i * 5000));
        break;
      case 5:
        out.push_back("velocity('ip', '10m').count > 10 || customer.ip.startsWith('10." + n + ".')");
        break;
      case 6:
        out.push_back("merchant.mcc in ['7995', '5967', '4829', '6051'] && customer.country != merchant.country");
        break;
      case 7:
        out.push_back("metadata.channel == 'web' && card.brand in ['visa', 'mastercard'] && amount % " +
                      std::to_string(i + 1) + " == 0");
        break;
      case 8:
        out.push_back("card.bin in list('risky_bins') && !(customer.country in ['US', 'CA', 'GB'])");
        break;
      default:
        out.push_back("customer.device_id in list('blocked_cards') || type == 'refund'");
        break;
    }
  }
  return out;
}

std::shared_ptr<const RuleSet> build_set() {
  RuleSet::Builder b;
  for (const auto& src : hundred_rules()) {
    auto r = txv::rules::compile(src);
    if (!r.ok()) {
      fprintf(stderr, "bench rule does not compile: %s\n", r.error().message.c_str());
      std::abort();
    }
    b.add(std::move(r).value());
  }
  return b.build();
}

// (Plain strings plus presence flags rather than std::array<std::optional<std::string>>:
// GCC 12.2 -O2 miscompiled assignments into the latter in this function.)
struct Transaction {
  std::int64_t amount = 12550;
  std::array<std::string, txv::rules::kFieldCount> fields;
  std::array<bool, txv::rules::kFieldCount> present{};
  std::vector<std::pair<std::string, std::string>> metadata;
};

Transaction transaction() {
  Transaction t;
  auto set = [&](Field f, std::string v) {
    t.fields[static_cast<std::size_t>(f)] = std::move(v);
    t.present[static_cast<std::size_t>(f)] = true;
  };
  set(Field::kCurrency, "USD");
  set(Field::kType, "purchase");
  set(Field::kTransactionId, "ord-1001");
  set(Field::kMerchantId, "m-42");
  set(Field::kCardBrand, "visa");
  set(Field::kCardBin, "400007");
  set(Field::kCardLast4, "4242");
  set(Field::kCardFingerprint, hex32(kBigListSize + 17));  // not in the list: full probe
  set(Field::kCustomerId, "c-7");
  set(Field::kCustomerEmail, "someone.with.a.long.name@example.com");
  set(Field::kCustomerIp, "203.0.113.7");
  set(Field::kCustomerCountry, "DE");
  set(Field::kCustomerDeviceId, hex32(42));  // in the list
  set(Field::kMerchantMcc, "5411");
  set(Field::kMerchantCountry, "US");
  t.metadata = {{"channel", "web"}, {"campaign", "spring"}};
  return t;
}

// Shaped like the decision pipeline's Activation: everything the rule set
// needs is resolved to per-slot tables before evaluation starts.
class PipelineActivation final : public Activation {
 public:
  PipelineActivation(const Transaction& t, const RuleSet& set) : t_(t) {
    for (std::size_t i = 0; i < t.fields.size(); ++i) {
      if (t.present[i]) fields_[i] = std::string_view(t.fields[i]);
    }
    for (const auto& m : set.metadata_keys()) {
      std::optional<std::string_view> v;
      for (const auto& [k, val] : t.metadata) {
        if (k == m.key) v = val;
      }
      metadata_.push_back(v);
    }
    for (const auto& l : set.lists()) {
      lists_.push_back(l.name == "blocked_cards" ? &big_list() : l.name == "risky_bins" ? &risky_bins() : nullptr);
    }
    for (const auto& v : set.velocities()) {
      // "served from memory": precomputed by the pipeline before evaluation.
      velocities_.push_back(VelocityValue{v.key == VelocityKey::kCard ? 2 : 5, 10000 + v.window_seconds});
    }
  }
  std::optional<std::int64_t> int_field(Field) const override { return t_.amount; }
  std::optional<std::string_view> string_field(Field f) const override { return fields_[static_cast<std::size_t>(f)]; }
  std::optional<std::string_view> metadata(MetadataSlot slot, std::string_view) const override {
    return metadata_[slot];
  }
  bool list_contains(ListSlot slot, std::string_view value) const override {
    const StringSet* s = lists_[slot];
    return s != nullptr && s->contains(value);
  }
  std::optional<VelocityValue> velocity(VelocitySlot slot) const override { return velocities_[slot]; }

 private:
  const Transaction& t_;
  std::array<std::optional<std::string_view>, txv::rules::kFieldCount> fields_{};
  std::vector<std::optional<std::string_view>> metadata_;
  std::vector<const StringSet*> lists_;
  std::vector<std::optional<VelocityValue>> velocities_;
};

void add_counters(benchmark::State& state, std::size_t rules, long matched) {
  state.counters["per_rule"] = benchmark::Counter(
      static_cast<double>(rules), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["per_txn"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["matched"] = static_cast<double>(matched);
}

void BM_Evaluate100Rules(benchmark::State& state) {
  big_list();
  const auto set = build_set();
  const Transaction t = transaction();
  const PipelineActivation act(t, *set);
  std::vector<bool> matched(set->size());
  for (auto _ : state) {
    set->evaluate(act, matched);
    benchmark::DoNotOptimize(matched);
  }
  long hits = 0;
  for (bool m : matched) hits += m ? 1 : 0;
  add_counters(state, set->size(), hits);
}
BENCHMARK(BM_Evaluate100Rules);

void BM_Evaluate100Rules_SimpleActivation(benchmark::State& state) {
  const auto set = build_set();
  const Transaction t = transaction();
  SimpleActivation act;
  act.set_amount(t.amount);
  for (std::size_t i = 0; i < t.fields.size(); ++i) {
    if (t.present[i]) act.set(static_cast<Field>(i), t.fields[i]);
  }
  for (const auto& [k, v] : t.metadata) act.set_metadata(k, v);
  act.set_list("blocked_cards", big_list()).set_list("risky_bins", risky_bins());
  act.set_velocity(VelocityKey::kCard, 3600, {2, 13600})
      .set_velocity(VelocityKey::kCustomer, 86400, {5, 96400})
      .set_velocity(VelocityKey::kIp, 600, {5, 10600});
  act.bind(*set);
  std::vector<bool> matched(set->size());
  for (auto _ : state) {
    set->evaluate(act, matched);
    benchmark::DoNotOptimize(matched);
  }
  long hits = 0;
  for (bool m : matched) hits += m ? 1 : 0;
  add_counters(state, set->size(), hits);
}
BENCHMARK(BM_Evaluate100Rules_SimpleActivation);

void BM_Compile100Rules(benchmark::State& state) {
  const auto sources = hundred_rules();
  for (auto _ : state) {
    RuleSet::Builder b;
    for (const auto& src : sources) {
      auto r = txv::rules::compile(src);
      b.add(std::move(r).value());
    }
    auto set = b.build();
    benchmark::DoNotOptimize(set);
  }
  state.counters["per_rule"] = benchmark::Counter(
      static_cast<double>(sources.size()), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Compile100Rules);

void BM_CompileOneRule(benchmark::State& state) {
  const std::string src =
      "velocity('card', '1h').count >= 3 && amount > 50000 && !(customer.country in ['US', 'CA', 'GB']) && "
      "card.fingerprint in list('blocked_cards')";
  for (auto _ : state) {
    auto r = txv::rules::compile(src);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_CompileOneRule);

void BM_ListContains1M(benchmark::State& state) {
  const StringSet& s = big_list();
  const std::string miss = hex32(kBigListSize + 17);
  const std::string hit = hex32(42);
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.contains(std::string_view(miss)));
    benchmark::DoNotOptimize(s.contains(std::string_view(hit)));
  }
  state.counters["per_lookup"] =
      benchmark::Counter(2, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ListContains1M);

}  // namespace

BENCHMARK_MAIN();

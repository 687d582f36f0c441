// SimpleActivation: a self-contained Activation that owns its values, for
// tests, tools ("try this expression"), fuzzing and benchmarks. The decision
// pipeline has its own implementation over its transaction type.
//
// Usage: set fields, metadata, named lists (by name) and velocity values (by
// key and window), then bind() to the RuleSet or CompiledExpression whose slot
// numbering will be used, then evaluate. Lists and velocities not provided are
// empty / absent. Not thread-safe to modify; const use after bind() is.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rules/activation.h"
#include "rules/expression.h"
#include "rules/rule_set.h"

namespace txv::rules {

class SimpleActivation final : public Activation {
 public:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using StringSet = std::unordered_set<std::string, Hash, std::equal_to<>>;

  SimpleActivation& set_amount(std::optional<std::int64_t> amount);
  // For string fields; nullopt makes the field absent. Fields start absent,
  // except that amount starts at 0.
  SimpleActivation& set(Field field, std::optional<std::string> value);
  SimpleActivation& set_metadata(std::string key, std::string value);
  SimpleActivation& set_list(std::string name, StringSet entries);
  SimpleActivation& set_velocity(VelocityKey key, std::int64_t window_seconds, VelocityValue value);

  // Resolves list and velocity slots for the given numbering.
  void bind(const RuleSet& set);
  void bind(const CompiledExpression& expression);

  std::optional<std::int64_t> int_field(Field field) const override;
  std::optional<std::string_view> string_field(Field field) const override;
  std::optional<std::string_view> metadata(MetadataSlot slot, std::string_view key) const override;
  bool list_contains(ListSlot slot, std::string_view value) const override;
  std::optional<VelocityValue> velocity(VelocitySlot slot) const override;

 private:
  std::optional<std::int64_t> amount_ = 0;
  // Not std::array<std::optional<std::string>>: GCC 12.2 at -O2 was seen to
  // miscompile assignments into such an array in a freshly constructed object
  // (the engaged flag was read before the object was zeroed).
  std::array<std::string, kFieldCount> strings_;
  std::array<bool, kFieldCount> present_{};
  std::map<std::string, std::string, std::less<>> metadata_;
  std::unordered_map<std::string, StringSet> lists_;
  std::map<std::pair<VelocityKey, std::int64_t>, VelocityValue> velocity_values_;
  std::vector<const StringSet*> list_by_slot_;
  std::vector<std::optional<VelocityValue>> velocity_by_slot_;
};

}  // namespace txv::rules

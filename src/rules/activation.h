// Activation: how a compiled expression reads the transaction being decided.
//
// The decision pipeline implements this interface once per transaction. Every
// accessor takes an id that was resolved when the expression was compiled (a
// Field, or a slot index), so evaluation never looks anything up by field name.
//
// Contract for implementers:
//  - Accessors are called from the evaluating thread only, and only during
//    RuleSet::evaluate() / CompiledExpression::evaluate(); they must not throw.
//  - Returned string_views must stay valid until that evaluate() call returns.
//  - nullopt means "absent": the field is optional and was not sent, or the
//    velocity value is not available. An absent value never matches (see
//    expression.h, "Absent values and arithmetic errors").
//  - An implementation should return the same answer for the same arguments
//    during one evaluation (values are read as often as the rules mention them).
//
// Slot numbering: when evaluating a RuleSet, slots index RuleSet::lists(),
// RuleSet::velocities() and RuleSet::metadata_keys(); when evaluating a single
// CompiledExpression, they index that expression's own lists / velocities /
// metadata_keys(). Precompute velocity values and resolve list snapshots per
// slot before evaluating.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "rules/fields.h"

namespace txv::rules {

// The result of evaluating an expression against an Activation.
enum class Outcome : std::uint8_t {
  kFalse,   // the condition is false: no match
  kTrue,    // the condition holds: the rule matches
  kAbsent,  // the result depends on an absent value or an arithmetic error: no match
};

class Activation {
 public:
  virtual ~Activation() = default;

  // Only called with a field for which is_int_field() is true (kAmount).
  virtual std::optional<std::int64_t> int_field(Field field) const = 0;
  // Only called with a field for which is_int_field() is false.
  virtual std::optional<std::string_view> string_field(Field field) const = 0;
  // metadata.KEY / metadata['KEY']. `key` is the key spelled out, for
  // implementations that prefer a keyed look-up over a precomputed slot table.
  virtual std::optional<std::string_view> metadata(MetadataSlot slot, std::string_view key) const = 0;
  // `value in list('NAME')`. A list that does not exist contains nothing.
  virtual bool list_contains(ListSlot slot, std::string_view value) const = 0;
  // velocity(KEY, WINDOW).count / .amount for the slot's (key, window).
  virtual std::optional<VelocityValue> velocity(VelocitySlot slot) const = 0;
};

}  // namespace txv::rules

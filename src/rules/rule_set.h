// RuleSet: many compiled expressions evaluated together against one
// transaction, with every list, velocity and metadata reference numbered once
// for the whole set.
//
//   rules::RuleSet::Builder b;
//   for (const auto& rec : records) b.add(compiled_for(rec), rec_index);
//   std::shared_ptr<const rules::RuleSet> set = std::move(b).build();
//   // per transaction:
//   //   resolve set->lists()[i].name to a snapshot for ListSlot i,
//   //   compute set->velocities()[i] for VelocitySlot i,
//   //   then:
//   set->evaluate(activation, matched);   // matched[i]: rule i matched
//
// Thread-safety and lifetime: a RuleSet is immutable once built; share it
// through std::shared_ptr<const RuleSet>; all const members may be called
// from any number of threads at once. evaluate() does not allocate (the
// vector<bool> overload only when `matched` must grow) and never throws (the
// Activation must not throw either). Compiled expressions are shared, not
// copied, so rebuilding a set after one rule changed is cheap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rules/activation.h"
#include "rules/expression.h"
#include "rules/fields.h"

namespace txv::rules {

struct ListRef {
  std::string name;
  ListSlot slot = 0;  // == its index in RuleSet::lists()
};

struct VelocityRef {
  VelocityKey key = VelocityKey::kCard;
  std::int64_t window_seconds = 0;
  VelocitySlot slot = 0;  // == its index in RuleSet::velocities()
};

struct MetadataRef {
  std::string key;
  MetadataSlot slot = 0;  // == its index in RuleSet::metadata_keys()
};

class RuleSet {
 public:
  class Builder {
   public:
    // Appends a rule; returns its index in the set (0, 1, 2, ... in order of
    // addition). `tag` is opaque to the rules library (e.g. the caller's index
    // of its rule record). An empty CompiledExpression never matches.
    std::size_t add(CompiledExpression expression, std::uint64_t tag = 0);
    std::size_t size() const { return rules_.size(); }
    // Numbers every distinct reference and returns the immutable set. The
    // builder is left empty.
    std::shared_ptr<const RuleSet> build();

   private:
    struct Pending {
      CompiledExpression expression;
      std::uint64_t tag = 0;
    };
    std::vector<Pending> rules_;
  };

  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  std::size_t size() const { return rules_.size(); }
  std::uint64_t tag(std::size_t index) const { return rules_[index].tag; }
  const CompiledExpression& expression(std::size_t index) const { return rules_[index].expression; }

  // Distinct references over all rules, in order of first appearance.
  const std::vector<ListRef>& lists() const { return lists_; }
  const std::vector<VelocityRef>& velocities() const { return velocities_; }
  const std::vector<MetadataRef>& metadata_keys() const { return metadata_keys_; }
  // True if any rule reads the field.
  bool reads_field(Field field) const { return (field_mask_ & (1U << static_cast<unsigned>(field))) != 0; }

  // Evaluates rule `index`.
  Outcome evaluate(std::size_t index, const Activation& activation) const;
  // The same, also recording what the rule saw (decision traces): trace[i] is
  // set to the value of trace_exprs(index)[i] if the evaluation reached it,
  // kUnread otherwise. `trace` must have trace_exprs(index).size() elements.
  // Does not allocate.
  Outcome evaluate_traced(std::size_t index, const Activation& activation, std::span<TraceValue> trace) const;
  // The distinct traced sub-expressions of rule `index`, in source order.
  const std::vector<std::string>& trace_exprs(std::size_t index) const {
    return rules_[index].expression.trace_exprs();
  }
  // Evaluates every rule: matched[i] is true when rule i's outcome is kTrue.
  // Resizes `matched` to size() (reuse the vector to avoid allocating).
  void evaluate(const Activation& activation, std::vector<bool>& matched) const;
  // Evaluates every rule into `out` (out.size() must be size()).
  void evaluate(const Activation& activation, std::span<Outcome> out) const;

 private:
  RuleSet() = default;

  struct Entry {
    CompiledExpression expression;
    std::uint64_t tag = 0;
    // Offsets into slot_map_ of this rule's local -> set slot tables.
    std::uint32_t list_offset = 0;
    std::uint32_t velocity_offset = 0;
    std::uint32_t metadata_offset = 0;
  };

  std::vector<Entry> rules_;
  std::vector<std::uint32_t> slot_map_;
  std::vector<ListRef> lists_;
  std::vector<VelocityRef> velocities_;
  std::vector<MetadataRef> metadata_keys_;
  std::uint32_t field_mask_ = 0;
};

}  // namespace txv::rules

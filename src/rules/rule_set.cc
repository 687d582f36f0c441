#include "rules/rule_set.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <unordered_map>
#include <utility>

#include "rules/program.h"

namespace txv::rules {

std::size_t RuleSet::Builder::add(CompiledExpression expression, std::uint64_t tag) {
  rules_.push_back(Pending{std::move(expression), tag});
  return rules_.size() - 1;
}

std::shared_ptr<const RuleSet> RuleSet::Builder::build() {
  std::shared_ptr<RuleSet> set(new RuleSet());
  std::unordered_map<std::string, ListSlot> list_slots;
  std::map<std::pair<VelocityKey, std::int64_t>, VelocitySlot> velocity_slots;
  std::unordered_map<std::string, MetadataSlot> metadata_slots;
  set->rules_.reserve(rules_.size());
  for (auto& pending : rules_) {
    Entry e;
    e.tag = pending.tag;
    if (const auto& p = pending.expression.program_) {
      e.list_offset = static_cast<std::uint32_t>(set->slot_map_.size());
      for (const auto& name : p->refs.list_names) {
        auto [it, inserted] = list_slots.try_emplace(name, static_cast<ListSlot>(set->lists_.size()));
        if (inserted) {
          set->lists_.push_back(ListRef{name, it->second});
        }
        set->slot_map_.push_back(it->second);
      }
      e.velocity_offset = static_cast<std::uint32_t>(set->slot_map_.size());
      for (const auto& v : p->refs.velocities) {
        auto [it, inserted] = velocity_slots.try_emplace(std::make_pair(v.key, v.window_seconds),
                                                         static_cast<VelocitySlot>(set->velocities_.size()));
        if (inserted) {
          set->velocities_.push_back(VelocityRef{v.key, v.window_seconds, it->second});
        }
        set->slot_map_.push_back(it->second);
      }
      e.metadata_offset = static_cast<std::uint32_t>(set->slot_map_.size());
      for (const auto& key : p->refs.metadata_keys) {
        auto [it, inserted] = metadata_slots.try_emplace(key, static_cast<MetadataSlot>(set->metadata_keys_.size()));
        if (inserted) {
          set->metadata_keys_.push_back(MetadataRef{key, it->second});
        }
        set->slot_map_.push_back(it->second);
      }
      set->field_mask_ |= p->refs.field_mask;
    }
    e.expression = std::move(pending.expression);
    set->rules_.push_back(std::move(e));
  }
  rules_.clear();
  return set;
}

Outcome RuleSet::evaluate(std::size_t index, const Activation& activation) const {
  const Entry& e = rules_[index];
  const internal::Program* p = e.expression.program_.get();
  if (p == nullptr) {
    return Outcome::kFalse;
  }
  const std::uint32_t* map = slot_map_.data();
  return internal::run(*p, activation,
                       internal::SlotMap{map + e.list_offset, map + e.velocity_offset, map + e.metadata_offset});
}

Outcome RuleSet::evaluate_traced(std::size_t index, const Activation& activation, std::span<TraceValue> trace) const {
  std::fill(trace.begin(), trace.end(), TraceValue{});
  const Entry& e = rules_[index];
  const internal::Program* p = e.expression.program_.get();
  if (p == nullptr) {
    return Outcome::kFalse;
  }
  assert(trace.size() == p->trace_exprs.size());
  const std::uint32_t* map = slot_map_.data();
  return internal::run_traced(*p, activation,
                              internal::SlotMap{map + e.list_offset, map + e.velocity_offset, map + e.metadata_offset},
                              trace.data());
}

void RuleSet::evaluate(const Activation& activation, std::vector<bool>& matched) const {
  matched.resize(rules_.size());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    matched[i] = evaluate(i, activation) == Outcome::kTrue;
  }
}

void RuleSet::evaluate(const Activation& activation, std::span<Outcome> out) const {
  assert(out.size() == rules_.size());
  const std::size_t n = std::min(out.size(), rules_.size());
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = evaluate(i, activation);
  }
}

}  // namespace txv::rules

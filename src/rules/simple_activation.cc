#include "rules/simple_activation.h"

#include <utility>

namespace txv::rules {

SimpleActivation& SimpleActivation::set_amount(std::optional<std::int64_t> amount) {
  amount_ = amount;
  return *this;
}

SimpleActivation& SimpleActivation::set(Field field, std::optional<std::string> value) {
  const auto i = static_cast<std::size_t>(field);
  present_[i] = value.has_value();
  strings_[i] = value ? std::move(*value) : std::string();
  return *this;
}

SimpleActivation& SimpleActivation::set_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
  return *this;
}

SimpleActivation& SimpleActivation::set_list(std::string name, StringSet entries) {
  lists_[std::move(name)] = std::move(entries);
  return *this;
}

SimpleActivation& SimpleActivation::set_velocity(VelocityKey key, std::int64_t window_seconds, VelocityValue value) {
  velocity_values_[{key, window_seconds}] = value;
  return *this;
}

namespace {

template <typename Names, typename Velocities, typename NameOf, typename SpecOf, typename Lists, typename Values>
void bind_slots(const Names& names, const Velocities& velocities, NameOf name_of, SpecOf spec_of, const Lists& lists,
                const Values& values, std::vector<const SimpleActivation::StringSet*>& list_by_slot,
                std::vector<std::optional<VelocityValue>>& velocity_by_slot) {
  list_by_slot.assign(names.size(), nullptr);
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto it = lists.find(name_of(names[i]));
    if (it != lists.end()) {
      list_by_slot[i] = &it->second;
    }
  }
  velocity_by_slot.assign(velocities.size(), std::nullopt);
  for (std::size_t i = 0; i < velocities.size(); ++i) {
    auto it = values.find(spec_of(velocities[i]));
    if (it != values.end()) {
      velocity_by_slot[i] = it->second;
    }
  }
}

}  // namespace

void SimpleActivation::bind(const RuleSet& set) {
  bind_slots(
      set.lists(), set.velocities(), [](const ListRef& r) { return r.name; },
      [](const VelocityRef& r) { return std::make_pair(r.key, r.window_seconds); }, lists_, velocity_values_,
      list_by_slot_, velocity_by_slot_);
}

void SimpleActivation::bind(const CompiledExpression& expression) {
  bind_slots(
      expression.list_names(), expression.velocities(), [](const std::string& n) { return n; },
      [](const VelocitySpec& s) { return std::make_pair(s.key, s.window_seconds); }, lists_, velocity_values_,
      list_by_slot_, velocity_by_slot_);
}

std::optional<std::int64_t> SimpleActivation::int_field(Field field) const {
  return field == Field::kAmount ? amount_ : std::nullopt;
}

std::optional<std::string_view> SimpleActivation::string_field(Field field) const {
  const auto i = static_cast<std::size_t>(field);
  if (!present_[i]) {
    return std::nullopt;
  }
  return std::string_view(strings_[i]);
}

std::optional<std::string_view> SimpleActivation::metadata(MetadataSlot /*slot*/, std::string_view key) const {
  auto it = metadata_.find(key);
  if (it == metadata_.end()) {
    return std::nullopt;
  }
  return std::string_view(it->second);
}

bool SimpleActivation::list_contains(ListSlot slot, std::string_view value) const {
  if (slot >= list_by_slot_.size() || list_by_slot_[slot] == nullptr) {
    return false;
  }
  return list_by_slot_[slot]->contains(value);
}

std::optional<VelocityValue> SimpleActivation::velocity(VelocitySlot slot) const {
  if (slot >= velocity_by_slot_.size()) {
    return std::nullopt;
  }
  return velocity_by_slot_[slot];
}

}  // namespace txv::rules

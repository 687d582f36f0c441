// The one mapping of a decision to its velocity keys (contract section 5).
//
// A live decision (decide/rule_engine.cc) and a stored one (start-up rebuild
// and backfill, from store::VelocityEvent) are keyed by the same function, so
// history loaded from the store lands under exactly the key values the live
// path used:
//   card     -> the card fingerprint (empty = absent)
//   customer -> customer.id
//   email    -> customer.email, lower-cased (ASCII): `A@x.com` and `a@x.com` are one key
//   ip       -> customer.ip
//   device   -> customer.device_id
//   merchant -> merchant_id
// Absent fields are absent keys (not recorded under them; queries on them
// answer nullopt). An empty string other than the fingerprint is a value.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "store/records.h"

namespace txv::cache {

// Same order as rules::VelocityKey (rules/fields.h).
enum class VelocityKey { kCard, kCustomer, kEmail, kIp, kDevice, kMerchant };
constexpr std::size_t kVelocityKeyCount = 6;

// The fields of a decision that velocity keys are made of (views; the caller keeps them alive).
struct VelocityKeyFields {
  std::string_view merchant_id;
  std::string_view card_fingerprint;
  const std::optional<std::string>* customer_id = nullptr;
  const std::optional<std::string>* email = nullptr;
  const std::optional<std::string>* ip = nullptr;
  const std::optional<std::string>* device_id = nullptr;
};

// Calls `emit(VelocityKey, std::string_view value)` for every present key, in
// VelocityKey order. The e-mail is lower-cased into `scratch` (reused by the
// caller to avoid an allocation per event). This is the mapping.
template <typename Emit>
void for_each_velocity_key(const VelocityKeyFields& f, std::string& scratch, Emit&& emit) {
  auto opt = [](const std::optional<std::string>* o) -> const std::string* {
    return o != nullptr && o->has_value() ? &**o : nullptr;
  };
  if (!f.card_fingerprint.empty()) emit(VelocityKey::kCard, f.card_fingerprint);
  if (const auto* v = opt(f.customer_id)) emit(VelocityKey::kCustomer, std::string_view(*v));
  if (const auto* v = opt(f.email)) {
    scratch.assign(*v);
    for (auto& c : scratch) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    emit(VelocityKey::kEmail, std::string_view(scratch));
  }
  if (const auto* v = opt(f.ip)) emit(VelocityKey::kIp, std::string_view(*v));
  if (const auto* v = opt(f.device_id)) emit(VelocityKey::kDevice, std::string_view(*v));
  emit(VelocityKey::kMerchant, f.merchant_id);
}

// The key fields of a stored decision.
inline VelocityKeyFields velocity_key_fields(const store::VelocityEvent& e) {
  return VelocityKeyFields{e.merchant_id, e.card_fingerprint, &e.customer_id, &e.email, &e.ip, &e.device_id};
}

// The owning form: one optional value per VelocityKey.
using VelocityKeyValues = std::array<std::optional<std::string>, kVelocityKeyCount>;

inline VelocityKeyValues velocity_key_values(const VelocityKeyFields& f) {
  VelocityKeyValues out;
  std::string scratch;
  for_each_velocity_key(f, scratch,
                        [&out](VelocityKey k, std::string_view v) { out[static_cast<std::size_t>(k)].emplace(v); });
  return out;
}

}  // namespace txv::cache

// The fixed vocabulary of the rule expression language (API contract, section 5):
// transaction fields, velocity keys and velocity windows, and the slot types
// through which compiled expressions reach per-transaction data.
//
// Everything here is a pure function or a constant: thread-safe, no allocation
// except where a std::string is returned.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace txv::rules {

// A transaction field an expression can read. Only kAmount is an int; every
// other field is a string. The order is part of no contract (do not persist the
// numeric values); use field_name() for a stable spelling.
enum class Field : std::uint8_t {
  kAmount,
  kCurrency,
  kType,
  kTransactionId,
  kMerchantId,
  kCardBrand,
  kCardBin,
  kCardLast4,
  kCardFingerprint,
  kCustomerId,
  kCustomerEmail,
  kCustomerIp,
  kCustomerCountry,
  kCustomerDeviceId,
  kMerchantMcc,
  kMerchantCountry,
};
inline constexpr std::size_t kFieldCount = 16;

// "amount", "card.bin", ... exactly as written in expressions.
std::string_view field_name(Field f);
// Inverse of field_name(); nullopt for anything else (including "metadata.X").
std::optional<Field> field_from_name(std::string_view name);
// True for kAmount only.
constexpr bool is_int_field(Field f) { return f == Field::kAmount; }

// The first argument of velocity(KEY, WINDOW).
enum class VelocityKey : std::uint8_t { kCard, kCustomer, kEmail, kIp, kDevice, kMerchant };
inline constexpr std::size_t kVelocityKeyCount = 6;

// "card", "customer", "email", "ip", "device", "merchant".
std::string_view velocity_key_name(VelocityKey k);
std::optional<VelocityKey> velocity_key_from_name(std::string_view name);

// Bounds of a velocity window (inclusive).
inline constexpr std::int64_t kMinVelocityWindowSeconds = 1;
inline constexpr std::int64_t kMaxVelocityWindowSeconds = 30LL * 24 * 3600;

// Parses a duration literal: one or more groups of <digits><unit>, unit one of
// s, m, h, d ("30s", "10m", "1h", "24h", "7d", "1h30m"). No sign, no spaces, no
// fractions. nullopt when malformed or when the total exceeds 10 years (so no
// overflow is possible); the [1s, 30d] range is checked by the compiler, not here.
std::optional<std::int64_t> parse_duration_seconds(std::string_view text);

// Index of a named list (list('NAME')) in RuleSet::lists() or, for a
// standalone CompiledExpression, in CompiledExpression::list_names().
using ListSlot = std::uint32_t;
// Index of a (key, window) pair in RuleSet::velocities() or CompiledExpression::velocities().
using VelocitySlot = std::uint32_t;
// Index of a metadata key in RuleSet::metadata_keys() or CompiledExpression::metadata_keys().
using MetadataSlot = std::uint32_t;

// One distinct velocity(KEY, WINDOW) reference.
struct VelocitySpec {
  VelocityKey key = VelocityKey::kCard;
  std::int64_t window_seconds = 0;
  bool operator==(const VelocitySpec&) const = default;
};

// What the caller computed for one velocity slot: the number of earlier
// transactions with the same key in the window and the sum of their amounts.
struct VelocityValue {
  std::int64_t count = 0;
  std::int64_t amount = 0;
  bool operator==(const VelocityValue&) const = default;
};

}  // namespace txv::rules

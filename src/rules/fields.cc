#include "rules/fields.h"

namespace txv::rules {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "amount",           "currency",           "type",           "transaction_id",
    "merchant_id",      "card.brand",         "card.bin",       "card.last4",
    "card.fingerprint", "customer.id",        "customer.email", "customer.ip",
    "customer.country", "customer.device_id", "merchant.mcc",   "merchant.country",
};

constexpr std::array<std::string_view, kVelocityKeyCount> kVelocityKeyNames = {"card", "customer", "email",
                                                                               "ip",   "device",   "merchant"};

// Upper bound that keeps every intermediate product far from int64 overflow.
constexpr std::int64_t kMaxParsedDurationSeconds = 10LL * 366 * 24 * 3600;

}  // namespace

std::string_view field_name(Field f) { return kFieldNames[static_cast<std::size_t>(f)]; }

std::optional<Field> field_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
    if (kFieldNames[i] == name) {
      return static_cast<Field>(i);
    }
  }
  return std::nullopt;
}

std::string_view velocity_key_name(VelocityKey k) { return kVelocityKeyNames[static_cast<std::size_t>(k)]; }

std::optional<VelocityKey> velocity_key_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kVelocityKeyNames.size(); ++i) {
    if (kVelocityKeyNames[i] == name) {
      return static_cast<VelocityKey>(i);
    }
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_duration_seconds(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxParsedDurationSeconds) {
        return std::nullopt;
      }
      ++i;
      ++digits;
    }
    if (digits == 0 || i == text.size()) {
      return std::nullopt;
    }
    std::int64_t unit = 0;
    switch (text[i]) {
      case 's':
        unit = 1;
        break;
      case 'm':
        unit = 60;
        break;
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      default:
        return std::nullopt;
    }
    ++i;
    // n <= kMax and unit <= 86400: the product fits easily in int64.
    total += n * unit;
    if (total > kMaxParsedDurationSeconds) {
      return std::nullopt;
    }
  }
  return total;
}

}  // namespace txv::rules

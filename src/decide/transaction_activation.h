// TransactionActivation: how the compiled rules read one transaction, live
// (a domain::TransactionRequest being decided) or replayed (a stored
// domain::DecisionRecord in a backtest). Both types spell the fields the same
// way; the card is read from its summary, never from a card number.
//
// Lifetime: refers to everything it is given; lives for one evaluation.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/velocity_counters.h"
#include "decide/list_entries.h"
#include "domain/transaction.h"
#include "rules/activation.h"

namespace txv::decide {

namespace activation_detail {
inline std::optional<std::string_view> present(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return std::string_view(s);
}
inline std::optional<std::string_view> present(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::string_view(*s);
}
}  // namespace activation_detail

// Tx: domain::TransactionRequest or domain::DecisionRecord.
template <class Tx>
class TransactionActivation final : public rules::Activation {
 public:
  // `lists` by the rule set's ListSlot, `velocities` by its VelocitySlot.
  TransactionActivation(const Tx& tx, const domain::CardSummary& card,
                        const std::vector<std::shared_ptr<const ListEntries>>& lists,
                        const std::vector<std::optional<cache::VelocityTotals>>& velocities)
      : tx_(tx), card_(card), lists_(lists), velocities_(velocities) {}

  std::optional<std::int64_t> int_field(rules::Field) const override { return tx_.amount; }

  std::optional<std::string_view> string_field(rules::Field f) const override {
    using activation_detail::present;
    using rules::Field;
    switch (f) {
      case Field::kCurrency:
        return present(tx_.currency);
      case Field::kType:
        return std::string_view(domain::to_string(tx_.type));
      case Field::kTransactionId:
        return present(tx_.transaction_id);
      case Field::kMerchantId:
        return present(tx_.merchant_id);
      case Field::kCardBrand:
        return present(card_.brand);
      case Field::kCardBin:
        return present(card_.bin);
      case Field::kCardLast4:
        return present(card_.last4);
      case Field::kCardFingerprint:
        return present(card_.fingerprint);
      case Field::kCustomerId:
        return present(tx_.customer.id);
      case Field::kCustomerEmail:
        return present(tx_.customer.email);
      case Field::kCustomerIp:
        return present(tx_.customer.ip);
      case Field::kCustomerCountry:
        return present(tx_.customer.country);
      case Field::kCustomerDeviceId:
        return present(tx_.customer.device_id);
      case Field::kMerchantMcc:
        return present(tx_.merchant.mcc);
      case Field::kMerchantCountry:
        return present(tx_.merchant.country);
      case Field::kAmount:
        break;
    }
    return std::nullopt;
  }

  std::optional<std::string_view> metadata(rules::MetadataSlot, std::string_view key) const override {
    auto it = tx_.metadata.find(key);
    if (it == tx_.metadata.end()) return std::nullopt;
    return std::string_view(it->second);
  }

  bool list_contains(rules::ListSlot slot, std::string_view value) const override {
    if (slot >= lists_.size() || !lists_[slot]) return false;
    return lists_[slot]->find(value) != lists_[slot]->end();
  }

  std::optional<rules::VelocityValue> velocity(rules::VelocitySlot slot) const override {
    if (slot >= velocities_.size() || !velocities_[slot]) return std::nullopt;
    return rules::VelocityValue{velocities_[slot]->count, velocities_[slot]->amount};
  }

 private:
  const Tx& tx_;
  const domain::CardSummary& card_;
  const std::vector<std::shared_ptr<const ListEntries>>& lists_;
  const std::vector<std::optional<cache::VelocityTotals>>& velocities_;
};

}  // namespace txv::decide

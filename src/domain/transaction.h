// Plain value types of a transaction and its decision. No I/O, no JSON.
//
// A TransactionRequest holds the validated request *without* the card number:
// the number lives only in CardInput::number (a transient field) until the
// decision pipeline has fingerprinted it; a DecisionRecord never holds it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace txv::domain {

using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

enum class TransactionType { kPurchase, kAuthorization, kRefund, kPayout, kVerification };
const char* to_string(TransactionType t);
std::optional<TransactionType> parse_transaction_type(std::string_view s);

enum class Decision { kApprove, kDecline, kReview };
const char* to_string(Decision d);
std::optional<Decision> parse_decision(std::string_view s);

enum class RuleAction { kDecline, kReview, kApprove };
const char* to_string(RuleAction a);
std::optional<RuleAction> parse_rule_action(std::string_view s);

// Card as sent: either a raw number (with expiry) or a token (with optional
// bin/last4/brand supplied by the client's vault).
// Request metadata; transparent comparison so rules can look keys up by string_view.
using Metadata = std::map<std::string, std::string, std::less<>>;

struct CardInput {
  std::optional<std::string> number;  // digits only; transient, never stored
  std::optional<int> expiry_month;
  std::optional<int> expiry_year;
  std::optional<std::string> token;
  std::optional<std::string> bin;
  std::optional<std::string> last4;
  std::optional<std::string> brand;
};

struct Customer {
  std::optional<std::string> id;
  std::optional<std::string> email;
  std::optional<std::string> ip;
  std::optional<std::string> country;
  std::optional<std::string> device_id;
  bool operator==(const Customer&) const = default;
};

struct Merchant {
  std::optional<std::string> mcc;
  std::optional<std::string> country;
  bool operator==(const Merchant&) const = default;
};

// A request that passed field validation.
struct TransactionRequest {
  std::string transaction_id;
  std::string merchant_id;
  TransactionType type = TransactionType::kPurchase;
  std::int64_t amount = 0;
  std::string currency;  // upper case ISO 4217
  CardInput card;
  bool has_customer = false;
  Customer customer;
  bool has_merchant = false;
  Merchant merchant;
  std::optional<TimePoint> occurred_at;  // absent: the time received
  Metadata metadata;
};

// What is kept about a card: never the number.
struct CardSummary {
  std::string brand;        // "visa", ... or "" when unknown (token without brand)
  std::string bin;          // first 6 digits or ""
  std::string last4;        // or ""
  std::string fingerprint;  // 32 hex chars of HMAC-SHA-256(number) or of the token
  bool operator==(const CardSummary&) const = default;
};

struct Reason {
  std::string code;
  std::string source;   // "check" | "rule"
  std::string rule_id;  // rules only
  RuleAction action = RuleAction::kDecline;
  bool operator==(const Reason&) const = default;
};

struct ShadowMatch {
  std::string rule_id;
  RuleAction action = RuleAction::kDecline;
  std::string code;
  bool operator==(const ShadowMatch&) const = default;
};

struct Resolution {
  Decision decision = Decision::kApprove;
  std::string note;
  std::string by;
  TimePoint at{};
  bool operator==(const Resolution&) const = default;
};

// The stored record of one decision. request_hash is SHA-256 (hex) of the
// canonical JSON of the request body and is what idempotency compares.
struct DecisionRecord {
  std::string merchant_id;
  std::string transaction_id;
  std::string request_hash;
  TransactionType type = TransactionType::kPurchase;
  std::int64_t amount = 0;
  std::string currency;
  Decision decision = Decision::kApprove;
  std::vector<Reason> reasons;
  std::vector<ShadowMatch> shadow_matches;
  std::int64_t rules_version = 0;
  CardSummary card;
  bool has_customer = false;
  Customer customer;
  bool has_merchant = false;
  Merchant merchant;
  Metadata metadata;
  TimePoint occurred_at{};
  TimePoint decided_at{};
  std::optional<Resolution> resolution;
  // The decision trace (contract section 10) in its stored form
  // (decide/decision_trace.h); empty when none was recorded. Stored with the decision, shown
  // only on request (GET …?include=trace).
  std::string trace;
  // Monotonic insertion sequence assigned by the store; orders listings.
  std::int64_t seq = 0;
  bool operator==(const DecisionRecord&) const = default;
};

}  // namespace txv::domain

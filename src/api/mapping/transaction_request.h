// Field validation of a transaction request (API contract section 3) and its
// mapping to domain::TransactionRequest. docs/validation.md lists every field,
// rule and issue; this file and that table change together.
//
// Scope: shape only. Luhn, brand ranges and expiry are decision checks done by
// the pipeline with domain/card.h, not validation errors.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "common/result.h"
#include "domain/transaction.h"

namespace txv::api {

// The issue catalogue: the only values FieldIssue::issue takes here.
namespace issue {
inline constexpr std::string_view kRequired = "required";             // missing (or JSON null)
inline constexpr std::string_view kInvalidType = "invalid_type";      // wrong JSON type
inline constexpr std::string_view kInvalidFormat = "invalid_format";  // string of the wrong syntax
inline constexpr std::string_view kInvalidValue = "invalid_value";    // not one of the enum's values
inline constexpr std::string_view kOutOfRange = "out_of_range";       // integer outside its range
inline constexpr std::string_view kTooShort = "too_short";            // string below its minimum length
inline constexpr std::string_view kTooLong = "too_long";              // string above its maximum length
inline constexpr std::string_view kTooMany = "too_many";              // object with too many entries
inline constexpr std::string_view kInvalidKey = "invalid_key";        // metadata key empty or over 40 chars
// A metadata key or value holding what looks like a card number (never echoed).
inline constexpr std::string_view kLooksLikeCardNumber = "looks_like_card_number";
inline constexpr std::string_view kUnknownCurrency = "unknown_currency";
inline constexpr std::string_view kUnknownCountry = "unknown_country";
inline constexpr std::string_view kUnknownField = "unknown_field";
inline constexpr std::string_view kConflict = "conflict";  // fields that exclude each other
}  // namespace issue

// Validates `body` against every rule of the contract's section 3 table and
// reports all violations at once: Error{"validation_failed", message, details}
// with one FieldIssue per violating field (the first rule it breaks, in the
// order type → length → syntax/range). Field paths are dotted
// ("card.number", "metadata.channel") and start with `field_prefix` when one
// is given ("transactions[3]" gives "transactions[3].amount"); a body that is
// not an object is reported on the prefix itself, or on "body".
//
// On success the request carries the currency in upper case, type defaulted to
// purchase, and occurred_at absent when the body had none (the caller uses the
// receive time). JSON null counts as absent for every named field.
//
// Neither the message nor any detail ever contains a field's value; object
// keys echoed in paths have runs of 12 or more digits masked with '*' (common/text.h)
// so a card number sent as a key does not come back either. Never throws
// (short of std::bad_alloc).
Result<domain::TransactionRequest> parse_transaction_request(const boost::json::value& body,
                                                             std::string_view field_prefix = "");

}  // namespace txv::api

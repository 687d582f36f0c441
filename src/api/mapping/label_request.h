// Field validation of a label (API contract section 9) and its mapping to
// store::Label, for POST /v1/transactions/{m}/{t}/labels and for each item of
// POST /v1/labels/batch. Issues as in transaction_request.h (the same
// catalogue), field paths prefixed like it ("labels[3].source").
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <string_view>

#include "common/result.h"
#include "store/records.h"

namespace txv::api {

inline constexpr std::size_t kMaxLabelReasonLength = 500;  // code points
// An `at` later than the receive time by more than this is refused (out_of_range):
// a label from the future would stay the transaction's label until then.
inline constexpr std::chrono::minutes kMaxLabelClockSkew{5};

// Checks `body` and answers the label with value, source, reason and at set
// (at = `now` when absent); merchant_id and transaction_id are read from the
// body when `with_ids` (batch items), else left empty; `by` is left empty.
// Errors: validation_failed with one FieldIssue per violating field:
//   label, source: required | invalid_type | invalid_value
//   reason: invalid_type | too_short (empty) | too_long (> 500) | invalid_format (a NUL character)
//           | looks_like_card_number
//   at: invalid_type | invalid_format (not RFC 3339) | out_of_range (more than 5 min after `now`)
//   merchant_id, transaction_id (with_ids): required | invalid_type | too_short | too_long | invalid_format
//   any other member: unknown_field. JSON null counts as absent.
// Never echoes a value; keys echoed in paths have long digit runs masked.
Result<store::Label> parse_label_request(const boost::json::value& body, std::string_view field_prefix, bool with_ids,
                                         domain::TimePoint now);

}  // namespace txv::api

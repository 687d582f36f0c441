// JSON answers built from a stored decision (API contract sections 3 and 4).
// Times are RFC 3339 UTC with milliseconds (domain::format_rfc3339). The card
// number is never part of a DecisionRecord, so it cannot appear here.
#pragma once

#include <boost/json/object.hpp>

#include "domain/transaction.h"

namespace txv::api {

// The 200 answer of POST /v1/transactions/validate, members in this order:
// transaction_id, merchant_id, decision, reasons [{code, source, rule_id (only
// when source is "rule"), action}], shadow_matches [{rule_id, action, code}],
// rules_version, card {brand, bin, last4, fingerprint}, replayed, decided_at.
// card.brand/bin/last4 are null when unknown (stored as "", e.g. a token sent
// without them); fingerprint is always a string.
boost::json::object render_decision(const domain::DecisionRecord& r, bool replayed);

// The stored record of GET /v1/transactions/{merchant_id}/{transaction_id}:
// the decision fields above without `replayed`, plus type, amount, currency,
// occurred_at, customer and merchant as sent (each omitted when it was not
// sent, and absent sub-fields omitted), metadata (always, {} when empty) and
// resolution {decision, note, by, at} once the review was resolved.
boost::json::object render_record(const domain::DecisionRecord& r);

}  // namespace txv::api

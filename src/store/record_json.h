// JSON encodings of stored records, shared by every storage back-end and the
// HTTP layer.
//
// rule_to_json is the contract shape of a rule (API contract section 5); the
// HTTP layer answers it as is and the stores write it into audit entries.
// The *_to_text / *_from_text pairs are the encodings of the JSON columns of
// `transactions` (reasons, shadow_matches, metadata); every back-end uses the
// same ones so a database can be migrated between them.
//
// Thread-safety: pure functions. Errors: the *_from_text decoders answer
// nullopt on malformed input and never throw; the encoders only throw
// std::bad_alloc.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/transaction.h"
#include "store/records.h"

namespace txv::store {

// {"id","name","expression","action","code","priority","mode","version","created_at","updated_at"};
// times as RFC 3339 UTC with milliseconds.
boost::json::object rule_to_json(const RuleRecord& rule);

// {"decision","note","by","at"}, or null when absent.
boost::json::value resolution_to_json(const std::optional<domain::Resolution>& resolution);

// {"label","source","reason"?,"at","by"} (contract section 9); reason omitted
// when absent. With `ids`, merchant_id and transaction_id first.
boost::json::object label_to_json(const Label& label, bool ids = false);

// [{"code","source","rule_id"?,"action"}]; rule_id is omitted when empty.
// The same shape is answered in decisions (contract section 3).
boost::json::array reasons_to_json(const std::vector<domain::Reason>& reasons);
std::string reasons_to_text(const std::vector<domain::Reason>& reasons);
std::optional<std::vector<domain::Reason>> reasons_from_text(std::string_view text);

// [{"rule_id","action","code"}]
boost::json::array shadow_matches_to_json(const std::vector<domain::ShadowMatch>& matches);
std::string shadow_matches_to_text(const std::vector<domain::ShadowMatch>& matches);
std::optional<std::vector<domain::ShadowMatch>> shadow_matches_from_text(std::string_view text);

// {"key":"value",...}
std::string metadata_to_text(const domain::Metadata& metadata);
std::optional<domain::Metadata> metadata_from_text(std::string_view text);

}  // namespace txv::store

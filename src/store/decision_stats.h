// Assembling a store::DecisionStats (stores.h, TransactionStore::decision_stats)
// from the rows a back-end's GROUP BY queries answer, the same way for every
// back-end.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "store/stores.h"

namespace txv::store {

// Every bucket of [query.since, query.until), zeros, oldest first. An empty or
// inverted window, or a bucket <= 0, has no buckets.
DecisionStats empty_decision_stats(const DecisionStatsQuery& query);

// Adds `count` decisions of `decision` ("approve", "decline", "review") to the
// bucket of index `bucket` ((decided_at - since) / bucket width). "internal"
// for an index out of range or an unknown decision (a row that does not decode).
Status add_bucket_count(DecisionStats& stats, std::int64_t bucket, std::string_view decision, std::int64_t count);

// Orders stats.rules: matches descending, then rule_id, then mode.
void sort_rule_matches(DecisionStats& stats);

}  // namespace txv::store

#include "store/decision_stats.h"

#include <algorithm>
#include <tuple>

namespace txv::store {

DecisionStats empty_decision_stats(const DecisionStatsQuery& query) {
  DecisionStats stats;
  const auto width = query.bucket.count();
  if (width <= 0 || query.until <= query.since) return stats;
  const auto span = std::chrono::duration_cast<std::chrono::milliseconds>(query.until - query.since).count();
  const auto n = (span + width - 1) / width;
  stats.buckets.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    stats.buckets.push_back(DecisionStats::Bucket{query.since + query.bucket * i, 0, 0, 0});
  }
  return stats;
}

Status add_bucket_count(DecisionStats& stats, std::int64_t bucket, std::string_view decision, std::int64_t count) {
  if (bucket < 0 || bucket >= static_cast<std::int64_t>(stats.buckets.size())) {
    return make_error("internal", "a decision outside the statistics window");
  }
  auto& b = stats.buckets[static_cast<std::size_t>(bucket)];
  if (decision == "approve") {
    b.approve += count;
  } else if (decision == "decline") {
    b.decline += count;
  } else if (decision == "review") {
    b.review += count;
  } else {
    return make_error("internal", "stored row does not decode: transactions.decision");
  }
  return Ok{};
}

void sort_rule_matches(DecisionStats& stats) {
  std::sort(stats.rules.begin(), stats.rules.end(), [](const auto& a, const auto& b) {
    return std::tie(b.matches, a.rule_id, a.mode) < std::tie(a.matches, b.rule_id, b.mode);
  });
}

}  // namespace txv::store

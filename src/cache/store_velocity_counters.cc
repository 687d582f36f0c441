#include "cache/store_velocity_counters.h"

#include <chrono>
#include <vector>

namespace txv::cache {

Task<Result<VelocityRead>> StoreVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                  std::span<const VelocityQuery> queries) {
  co_return co_await count_before(input, queries, std::nullopt);
}

Task<Result<VelocityRead>> StoreVelocityCounters::count_before(const VelocityEventInput& input,
                                                               std::span<const VelocityQuery> queries,
                                                               std::optional<domain::TimePoint> until) {
  VelocityRead out;
  out.totals.resize(queries.size());
  std::vector<store::DecisionCountQuery> asked;
  std::vector<std::size_t> slot;  // asked[i] answers queries[slot[i]]
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const auto& value = input.keys[static_cast<std::size_t>(queries[i].key)];
    if (!value) continue;  // the transaction has no such key: nullopt
    store::DecisionCountQuery q;
    q.field = static_cast<store::DecisionField>(queries[i].key);
    q.value = *value;
    q.after = input.at - std::chrono::milliseconds(queries[i].window_ms);
    q.currency = input.currency;
    q.until = until;
    if (until && q.after >= *until - std::chrono::milliseconds(1)) {
      out.totals[i] = VelocityTotals{};  // (after, until) holds no millisecond: nothing to count
      continue;
    }
    asked.push_back(std::move(q));
    slot.push_back(i);
  }
  if (!asked.empty()) {
    auto counts = co_await store_.count_decisions(asked);
    if (!counts.ok()) co_return Error(counts.error());
    if (counts->size() != asked.size()) co_return make_error("internal", "count_decisions answered the wrong count");
    for (std::size_t i = 0; i < asked.size(); ++i) {
      out.totals[slot[i]] = VelocityTotals{(*counts)[i].count, (*counts)[i].amount};
    }
  }
  co_return out;
}

}  // namespace txv::cache

namespace txv::cache {
// The fields are the velocity keys, in the same order (velocity_keys.h).
static_assert(static_cast<int>(store::DecisionField::kCardFingerprint) == static_cast<int>(VelocityKey::kCard));
static_assert(static_cast<int>(store::DecisionField::kCustomerId) == static_cast<int>(VelocityKey::kCustomer));
static_assert(static_cast<int>(store::DecisionField::kEmailLowerCase) == static_cast<int>(VelocityKey::kEmail));
static_assert(static_cast<int>(store::DecisionField::kIp) == static_cast<int>(VelocityKey::kIp));
static_assert(static_cast<int>(store::DecisionField::kDeviceId) == static_cast<int>(VelocityKey::kDevice));
static_assert(static_cast<int>(store::DecisionField::kMerchantId) == static_cast<int>(VelocityKey::kMerchant));

Task<Result<std::optional<domain::TimePoint>>> StoreVelocityCounters::newest_before(domain::TimePoint until) {
  store::TransactionQuery q;
  q.until = until;
  q.limit = 1;
  auto page = co_await store_.list_decisions(q);
  if (!page.ok()) co_return Error(page.error());
  if (page->items.empty()) co_return std::optional<domain::TimePoint>{};
  co_return std::optional<domain::TimePoint>{page->items.front().decided_at};
}

}  // namespace txv::cache

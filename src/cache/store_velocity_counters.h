// Velocity from the stored decisions: the fallback of DegradingVelocityCounters
// while the shared counters (Redis) are unreachable, and the part before an
// emptied Redis's epoch while WarmingVelocityCounters warms it up.
//
// read_and_record() answers each query with one count over the decisions
// already stored (TransactionStore::count_decisions, an indexed query, one
// round trip for all queries) and records nothing: the decision being made is
// counted by being stored. So it counts exactly the committed decisions; ones
// in flight at the same moment are not seen (see degrading_velocity_counters.h
// for what that costs). cancel() has nothing to undo.
//
// count_before() is the same count bounded above: only the decisions with
// decided_at < until (warming_velocity_counters.h).
//
// Thread-safety: as the store's (every call may run concurrently).
#pragma once

#include <optional>

#include "cache/velocity_counters.h"
#include "store/stores.h"

namespace txv::cache {

class StoreVelocityCounters final : public VelocityCounters {
 public:
  explicit StoreVelocityCounters(store::TransactionStore& store) : store_(store) {}

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  Task<Status> cancel(const VelocityTicket&) override { co_return Ok{}; }

  // Per query: the stored decisions with input.at - window < decided_at < until (nullopt: no upper bound) sharing
  // the input's key value; nullopt where the input has no value for the key. A window that starts at or after
  // `until` answers zeros without asking the store. One round trip; records nothing; the ticket is empty.
  Task<Result<VelocityRead>> count_before(const VelocityEventInput& input, std::span<const VelocityQuery> queries,
                                          std::optional<domain::TimePoint> until);
  // The decided_at of the newest stored decision (by seq) decided before `until`; nullopt when there is none.
  // One indexed read.
  Task<Result<std::optional<domain::TimePoint>>> newest_before(domain::TimePoint until);

 private:
  store::TransactionStore& store_;
};

}  // namespace txv::cache

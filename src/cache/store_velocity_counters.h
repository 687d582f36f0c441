// Velocity from the stored decisions: the fallback of DegradingVelocityCounters
// while the shared counters (Redis) are unreachable.
//
// read_and_record() answers each query with one count over the decisions
// already stored (TransactionStore::count_decisions, an indexed query, one
// round trip for all queries) and records nothing: the decision being made is
// counted by being stored. So it counts exactly the committed decisions; ones
// in flight at the same moment are not seen (see degrading_velocity_counters.h
// for what that costs). cancel() has nothing to undo.
//
// Thread-safety: as the store's (every call may run concurrently).
#pragma once

#include "cache/velocity_counters.h"
#include "store/stores.h"

namespace txv::cache {

class StoreVelocityCounters final : public VelocityCounters {
 public:
  explicit StoreVelocityCounters(store::TransactionStore& store) : store_(store) {}

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  Task<Status> cancel(const VelocityTicket&) override { co_return Ok{}; }

 private:
  store::TransactionStore& store_;
};

}  // namespace txv::cache

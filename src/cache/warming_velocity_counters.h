// Velocity counters that make an emptied Redis whole from the stored decisions
// (replica mode; issue 9 "keep deciding, lose nothing").
//
// The problem: a Redis that comes back EMPTY (restarted without persistence, a
// replaced ElastiCache node, FLUSHALL) would count every window from zero, so
// for up to the longest window (24 h) a velocity rule approves what it should
// decline: a card that made 3 purchases this hour gets 3 more under "3 per
// hour".
//
// How: RedisVelocityCounters keeps an epoch marker (its options.epoch_key,
// "txv:v:epoch"; see "Emptied Redis" in redis_velocity_counters.h). The record
// script itself reads it, so every call learns the epoch F (when Redis was
// last found emptied) at no extra round trip and with no delay: the first call
// after a FLUSHALL already knows, on every replica (the first to notice writes
// F, atomically with its own record; the others read that F). Chosen over a
// periodic check (e.g. on reconnect and every few seconds) because a FLUSHALL
// leaves the connections up and a check interval would leave a gap of
// undercounted decisions; one GET inside a script that already runs costs
// nothing measurable. From F on, Redis records only events with at >= F; the
// stored decisions hold every event, so for the time before F they are the
// count:
//
//   a query whose window reaches before F (at - window < F) answers
//       Redis's totals (the events since F)
//     + the stored decisions with at - window < decided_at < F
//       (StoreVelocityCounters::count_before: the fallback's indexed query
//       with an upper bound, one round trip for all such queries);
//   a query whose window lies wholly after F answers Redis's totals alone.
//
// Once at - F exceeds the longest window of a call's queries (every call
// carries all live rules' queries) the warm-up is over and costs nothing: no
// query reaches before F, the database is not asked. While it lasts, every
// decision costs one database round trip more (the same query as the degraded
// mode's fallback). The database's share ends at its newest decision stored
// before F (read once per epoch, plus a minute for replicas' clock skew), so a
// fresh deployment (nothing stored before F) has no warm-up at all.
//
// The blur: decisions in flight exactly at F — read before, stored after —
// can be missed by a concurrent read (not in Redis: older than F, or recorded
// before the flush; not yet committed to the database), and a replica whose
// clock runs ahead of the one that set F may have recorded an event stamped
// after F before the flush (lost from Redis, not counted from the database).
// That is a few milliseconds of decisions (the commit latency, the clock skew
// between replicas), the same kind of gap as the degraded mode's; it is
// accepted.
//
// Errors: as Redis's ("unavailable" makes DegradingVelocityCounters fall back).
// When the database count fails, the event just recorded in Redis is cancelled
// and the database's error is answered (a database outage: the decision could
// not be stored either); DegradingVelocityCounters above then tries its own
// fallback, the same database, and answers that error too.
//
// cancel() is Redis's. Place it as DegradingVelocityCounters' primary and let
// that one replay into the Redis counters themselves (its options.replay_to):
// a replay's answer is thrown away, so it needs no database count.
//
// on_state (optional) is told when this replica starts answering with the
// database's share for an epoch (warming = true; detected = this replica's call
// found Redis emptied) and when a call finds no window reaching before F any
// more (warming = false): one log line each (src/main.cc). /readyz stays "ok"
// meanwhile: the counts are whole, only dearer. No metric of its own: none of
// metrics/ fits (txv_cache_degraded means "Redis unreachable, counts from the
// database alone"), and the log lines say when it starts and ends. txv serve
// also calls RedisVelocityCounters::mark_epoch_if_empty() at start-up, so that
// a new or emptied server gets its F before the first decisions.
//
// Thread-safety: every member may be called concurrently; a std::mutex guards
// the warming state (short sections, never across a co_await; on_state is
// called under it).
#pragma once

#include <functional>
#include <mutex>
#include <optional>

#include "cache/redis/redis_velocity_counters.h"
#include "cache/store_velocity_counters.h"
#include "cache/velocity_counters.h"

namespace txv::cache {

struct WarmingVelocityCountersOptions {
  std::function<void(bool warming, domain::TimePoint emptied_at, bool detected)> on_state;
};

class WarmingVelocityCounters final : public VelocityCounters {
 public:
  WarmingVelocityCounters(RedisVelocityCounters& redis, StoreVelocityCounters& store,
                          WarmingVelocityCountersOptions options = {});

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  Task<Status> cancel(const VelocityTicket& ticket) override;

  // Whether the last calls added the database's share (some window reached before the epoch).
  bool warming() const;
  // The last epoch seen (nullopt before the first call that reached Redis with a key value).
  std::optional<domain::TimePoint> emptied_at() const;

 private:
  void note(domain::TimePoint emptied_at, bool detected, bool reaches);

  // How far back the database's share can reach for `epoch`: the newest stored decision before it plus a
  // margin for clock skew between replicas (nullopt: nothing stored before it, so there is no share to add).
  // Read once per epoch.
  Task<Result<std::optional<domain::TimePoint>>> history_end(domain::TimePoint epoch);

  RedisVelocityCounters& redis_;
  StoreVelocityCounters& store_;
  WarmingVelocityCountersOptions options_;
  mutable std::mutex mu_;
  std::optional<domain::TimePoint> epoch_;
  bool warming_ = false;
  std::optional<domain::TimePoint> history_end_epoch_;  // the epoch history_end_ was read for
  std::optional<domain::TimePoint> history_end_;
};

}  // namespace txv::cache

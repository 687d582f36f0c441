// Velocity counters that keep deciding when the shared cache is down
// (replica mode: Redis down or slow; issue 9 "keep deciding, lose nothing").
//
// Normally every call goes to `primary` (Redis). When the primary answers
// "unavailable", the counters turn DEGRADED: calls are answered by `fallback`
// (counts from the stored decisions, an indexed query in PostgreSQL) and the
// events they count are queued in memory, in order. A background loop on
// `options.executor` retries the primary every retry_interval; once it answers
// again, the queued events are recorded in it (replayed, oldest first), and
// only when the queue is empty do calls go back to the primary. So no decision
// made during the outage is missing from the shared counters afterwards (no
// undercount), and none is counted twice: the queue holds exactly the events
// that never reached the primary.
//
// What degraded mode costs: the fallback counts decisions already stored, so
// decisions for one key value in flight at the same moment (on this replica
// or another) may not see each other: a velocity rule may approve a few more
// than it would with the primary. Events queued by a replica that is killed
// before the primary returns are lost to the shared counters (they stay in
// the database). The queue is bounded (max_pending); beyond it the oldest
// events are dropped and counted as errors.
//
// Replays go to options.replay_to when set (else the primary): with
// WarmingVelocityCounters as the primary, replay into the Redis counters
// behind it, since a replay's answer is thrown away (no database count
// needed). A Redis that came back emptied records only the replayed events
// from its epoch on; the older ones count from the database
// (warming_velocity_counters.h).
//
// An event whose primary call failed with an unknown outcome may also have
// been recorded by the primary; the primary's own compensation (see
// redis_velocity_counters.h) removes it, so the replay cannot double it.
//
// Thread-safety: every member may be called concurrently from any executor.
// A std::mutex guards the state, held for short sections only, never across
// a co_await. Lifetime: stop() before destroying the counters, the primary or
// the fallback.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "cache/velocity_counters.h"
#include "common/async.h"

namespace txv::cache {

struct DegradingVelocityCountersOptions {
  Executor executor;  // runs the recovery loop (never an I/O thread's work: it awaits the primary)
  std::chrono::milliseconds retry_interval{1000};
  std::size_t max_pending = 1'000'000;
  // Told when the state changes (true: degraded). Optional.
  std::function<void(bool degraded)> on_state;
  // Told of every failed call to the primary and every dropped event (txv_cache_errors_total). Optional.
  std::function<void()> on_error;
  // Where the queued events are replayed, and replayed ones cancelled (null: the primary). It must share the
  // primary's state (the Redis counters behind a decorator).
  VelocityCounters* replay_to = nullptr;
};

class DegradingVelocityCounters final : public VelocityCounters {
 public:
  DegradingVelocityCounters(VelocityCounters& primary, VelocityCounters& fallback,
                            DegradingVelocityCountersOptions options);
  ~DegradingVelocityCounters() override;

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  Task<Status> cancel(const VelocityTicket& ticket) override;

  bool degraded() const;
  std::size_t pending() const;
  // Stops the recovery loop; blocking (not from the loop's executor). Idempotent.
  void stop();

 private:
  struct Pending;
  struct RoutedTicket;
  void enter_degraded_locked();
  void start_recovery_locked();
  Task<void> recover();
  VelocityCounters& replay_target() const { return options_.replay_to != nullptr ? *options_.replay_to : primary_; }

  VelocityCounters& primary_;
  VelocityCounters& fallback_;
  DegradingVelocityCountersOptions options_;

  mutable std::mutex mu_;
  bool degraded_ = false;
  bool recovering_ = false;
  bool stopped_ = false;
  std::deque<std::shared_ptr<Pending>> queue_;  // events not yet in the primary, oldest first
  std::uint64_t next_id_ = 1;
  std::shared_ptr<struct RecoveryDone> recovery_done_;
};

}  // namespace txv::cache

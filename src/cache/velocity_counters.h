// Velocity counters behind `velocity(KEY, WINDOW)` (contract section 5).
//
// For one transaction and a set of (key, window) queries, read_and_record()
// answers, per query, how many EARLIER recorded transactions share the
// transaction's value of that key within the window (`.count`) and the sum of
// their amounts in the transaction's currency (`.amount`), and records the
// transaction under every key it has, all atomically with respect to any other
// call touching the same key values. That atomicity is what makes counting
// exact under concurrency: N simultaneous calls for one card observe the
// counts 0, 1, ..., N-1 (in some order), so a rule `velocity('card','1h')
// .count >= 3` declining approves exactly 3 of them.
//
// Contract shared by every implementation:
// - Window: an event counts when its time `at_e` satisfies
//   `at_e > input.at - window` (an event exactly `window` old is outside). An
//   implementation may blur the far edge by at most 1/60 of the window (the
//   local one is exact except for the clamp described in its header).
//   Events recorded later in serialization order but stamped slightly after
//   `input.at` (clock races between threads or replicas) are counted: they are
//   earlier in the only order that matters for exactness.
// - Every recorded event counts; the caller records each decision once (an
//   idempotent replay must not call read_and_record again) and cancels the
//   events whose decision was not stored.
// - `.amount` saturates at INT64_MAX; amounts are >= 0.
// - The counters do not decide what `at` is: callers pass the server's decision
//   time, not a client-supplied timestamp (retention is measured from the
//   newest `at` seen).
//
// Thread-safety: every member function may be called concurrently.
// Errors: no exceptions. read_and_record returns an Error ("internal") for
// invalid input (documented per implementation) or a back-end failure; on
// error nothing was recorded. cancel returns an Error when the back-end failed
// (the event may still count; cancelling the same ticket again retries).
//
// History (loading stored decisions, retention, backfill) is not part of this
// interface: an in-process back-end implements cache::VelocityHistory
// (velocity_history.h) as well; a shared one (Redis) keeps its own.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cache/velocity_keys.h"
#include "common/async.h"
#include "common/result.h"
#include "domain/transaction.h"
#include "store/records.h"

namespace txv::cache {

struct VelocityQuery {
  VelocityKey key;
  std::int64_t window_ms;  // > 0; the contract allows 1 s ... 30 d
};

struct VelocityTotals {
  std::int64_t count = 0;
  std::int64_t amount = 0;  // saturates at INT64_MAX
  bool operator==(const VelocityTotals&) const = default;
};

struct VelocityEventInput {
  // By VelocityKey index; nullopt = the transaction has no such key (not
  // recorded under it, and queries on it answer nullopt). An empty string is a
  // value like any other: callers map "absent" to nullopt.
  std::array<std::optional<std::string>, kVelocityKeyCount> keys;
  std::int64_t amount = 0;  // minor units, >= 0
  std::string currency;     // ISO 4217 code
  domain::TimePoint at{};
};

// Implementation-defined state a ticket may carry for cancel(); opaque to callers.
struct VelocityTicketState {
  virtual ~VelocityTicketState() = default;
};

// Identifies one recorded event, for cancel(). A value type: copies refer to
// the same event (cancelling through any copy cancels it once). id 0 means no
// event was recorded (the transaction had no key): cancel() ignores it.
// A ticket stays valid for as long as it is held; it does not keep the
// counters object alive and must not be used after the counters are destroyed.
struct VelocityTicket {
  std::uint64_t id = 0;
  std::shared_ptr<VelocityTicketState> state;
};

struct VelocityRead {
  std::vector<std::optional<VelocityTotals>> totals;  // per query; nullopt when the event has no value for that key
  VelocityTicket ticket;
};

// A decision's event, keyed by the one decision -> velocity-key mapping
// (velocity_keys.h): live decisions and stored ones alike.
inline VelocityEventInput to_velocity_input(const VelocityKeyFields& keys, std::int64_t amount, std::string currency,
                                            domain::TimePoint at) {
  VelocityEventInput in;
  in.keys = velocity_key_values(keys);
  in.amount = amount;
  in.currency = std::move(currency);
  in.at = at;
  return in;
}
inline VelocityEventInput to_velocity_input(const store::VelocityEvent& event) {
  return to_velocity_input(velocity_key_fields(event), event.amount, event.currency, event.at);
}

// What every counter back-end does (in-process, Redis): the two operations of
// the request path, asynchronous (common/async.h). An implementation never
// holds a thread-tied lock across a suspension point; the in-process one
// completes without suspending.
class VelocityCounters {  // thread-safe
 public:
  virtual ~VelocityCounters() = default;
  // Atomically with respect to every other call touching the same key values: reads, for each query, the totals over
  // earlier recorded events with the same key value and at > input.at - window (amount: same currency only), then
  // records the event under every present key. The event itself is never in its own totals.
  virtual Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                                     std::span<const VelocityQuery> queries) = 0;
  // Removes an event recorded by read_and_record (its decision was not stored). Idempotent.
  virtual Task<Status> cancel(const VelocityTicket& ticket) = 0;
};

}  // namespace txv::cache

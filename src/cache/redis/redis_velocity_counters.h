// Velocity counters shared by every replica, in Redis (TXV_REDIS_URL set).
//
// Exactness under concurrency: each read_and_record() is ONE Lua script
// (EVALSHA), which Redis runs atomically: it reads the totals of every query
// and then records the event under every present key value, so no other call
// on any replica can interleave. N simultaneous calls for one card, from any
// number of replicas, observe the counts 0..N-1 once each. cancel() is one
// script too.
//
// Key layout (the value is hash-tagged, so that everything of one key value
// lives in one cluster slot; values are passed as KEYS/ARGV, never
// interpolated into Lua, and may contain any bytes):
//   txv:v:{<key>:<value>}:e          sorted set of events: score = at (ms),
//                                    member = "<id>:<currency>:<amount>"
//   txv:v:{<key>:<value>}:w<window>  one hash per window (ms) of the key
//                                    type's queries: "<bucket>" ->
//                                    "<count> <currency>=<amount> ...", and
//                                    "_" -> "<s> <t> <count> <currency>=<amount> ..."
//                                    = the running totals of every bucket
//                                    it holds (s: first bucket it is
//                                    authoritative for; t: first bucket
//                                    still held, the older ones trimmed)
//   txv:v:{<key>:<value>}:x          set of cancelled ids (tombstones, rare)
// where <key> is card, customer, email, ip, device or merchant.
//
// Windows (contract section 5: an event counts when at_e > at - window):
// - Each window's hash holds the buckets from the window's far edge on, with
//   their totals kept in "_": a read is O(1), whatever the traffic. Each call
//   first trims the buckets that left the window (incrementally: a bucket
//   leaves once, its count and sums are taken out of the totals).
// - Windows <= exact_window_max (default 1 h) are EXACT, at the millisecond:
//   buckets of w/3600 (at least 1 s), the hash holds the buckets wholly inside
//   the window, count = ZCOUNT over (at - w, +inf), amount = the totals plus a
//   scan of the events of the one partial bucket at the far edge (at most
//   w/3600 of events: a merchant at 100 tx/s scans ~100 events per call for a
//   1 h window). Windows below 1 s are answered from the events alone.
// - Longer windows are BUCKETED: buckets of the largest of 1, 2, 5, 10, 15,
//   20, 30 s, 1, 2, 5, 10, 15, 20, 30 min, 1, 2, 3, 4, 6, 12, 24 h that is
//   <= w/60; the hash holds the buckets that overlap the window, so an event
//   up to one bucket (<= w/60) older than the window may still count. That is
//   the contract's allowed far-edge blur: kFarEdgeBlur = 1/60.
// - Events stamped later than `at` but recorded earlier are counted (they are
//   in buckets after the cut, or scored after it). The far edge moves with the
//   newest `at` of the key value: a call stamped earlier than that (a race of
//   milliseconds) reads the missing part of an exact window from the events
//   set, and a bucketed window as of the newest `at` (blur of the race's size).
// - Retention: the events sorted set keeps max(min_event_retention, longest
//   exact window of the key type's queries) + grace from the newest `at` of
//   the key value; a window's hash, its window. Every key has a TTL (PEXPIRE
//   on each write: the retention + one bucket + grace), so idle key values
//   disappear. The windows are taken from each call's queries (every call
//   carries all live rules' queries).
// - A window that is new to a key value (a rule just added) is read from the
//   events set for the part before its hash existed: exact at once for windows
//   up to min_event_retention (1 h); a longer one counts less than the truth
//   until it has been live for one window, like the local counters after a
//   restart without history. Redis keeps its state across txv restarts; the
//   counters do not implement VelocityHistory (no bulk backfill). A Redis that
//   lost everything (see "Emptied Redis" below) is made whole from the store
//   by WarmingVelocityCounters (warming_velocity_counters.h).
// - Cost (measured, Redis 7.0 on a loaded 2-core test machine): ~290 us of
//   server time per read_and_record with 3 key values and 5 queries (1 h,
//   24 h, 10 min windows), flat as events accumulate on a hot merchant key.
//
// Amounts: summed exactly as int64 inside Lua (whose numbers are doubles) with
// two base-10^9 limbs; a window's answer saturates at INT64_MAX, the stored
// sums do not (so a cancel takes an amount back out exactly).
//
// Cancel: removes exactly that event (its sorted-set member, carried by the
// ticket, and its share of every bucket it went into); idempotent (a second
// cancel finds no member and changes nothing). A read_and_record that fails
// with an unknown outcome (a timeout or a lost connection after the command
// was sent: Redis may still run it) is compensated: the counters cancel that
// event in the background (retried for compensation_budget) and a cancel that
// finds nothing leaves a tombstone (txv:v:{...}:x, tombstone_ttl) that stops
// a late-arriving record of the same event. So "on error nothing was
// recorded" holds once the compensation lands (normally one round trip).
//
// Memory (Redis 7.0.15, jemalloc; MEMORY USAGE ... SAMPLES 0 of a card's keys with 32-hex-character
// fingerprints, printed by redis_velocity_test MemoryPerCardPerWindow; each key also costs ~60 bytes that
// MEMORY USAGE leaves out: its TTL entry and keyspace slot, measured as used_memory over 100,000 keys):
//   24 h window hash (20-min buckets), per card:  1 event/day 168 B (+60),  2 events/day 184 B (+60),
//                                                 10 events/day 328 B (+60)
//   1 h window hash (1-s buckets), per card:      1 event 168 B (+60),  5 events 232 B (+60)
//   events sorted set (kept 1 h + 1 min after a card's last event): 1 event 152 B (+60), 5 events 296 B (+60)
// So 1 M cards with a 24 h window take ~230 MB (a transaction or two a day) to ~390 MB (10 a day), plus
// ~210 B for each card active in the last hour (its events set): e.g. 100,000 such cards add ~21 MB.
// Small hashes and sets stay listpack-encoded (<= 128 entries). A busy key value (a merchant) costs one
// field per non-empty bucket per window (at most 60-120 for a bucketed window, 3600 for an exact one:
// bounded by the windows, not by traffic; measured 235 KB for a 1 h window full of events, 280 B for
// 24 h), plus its events of the last exact window (min_event_retention, default 1 h), the one part that
// grows with traffic (~130 B an event: 20,000 events took 2.6 MB; 100 tx/s is ~47 MB for one merchant):
// lower min_event_retention and exact_window_max to bound it.
//
// Failover: Redis replication is asynchronous. When a replica is promoted
// after the primary fails (Sentinel, a managed service), the writes the
// primary acknowledged but had not shipped yet are lost: up to the replication
// lag, typically milliseconds, more under load or a partition. The events of
// those calls stop counting (counts too low, so a velocity rule may approve
// what it would have declined: e.g. N simultaneous calls for one card that
// straddle the promotion may see 0, 1, 2 twice and get more than 3
// approvals), their cancels and tombstones are no-ops, and scripts are
// reloaded (NOSCRIPT is handled). Counting is exact again for every call made
// after the promotion. WAIT after each call would narrow the gap at the cost
// of a replica round trip per decision, not close it (a replica that
// acknowledged is not guaranteed to be the one promoted); not done here. The
// rate limiter's buckets move to the new primary's clock (TIME): a clock
// offset between the two refills or drains them by that offset, once.
//
// Emptied Redis (options.epoch_key set, as txv serve does): the script also
// reads the marker key `epoch_key` (no TTL, never hash-tagged). When it is
// missing and none of the call's key values holds any state, Redis was emptied
// (restarted without persistence, a replaced node, FLUSHALL): the call sets it
// to its own `at` (the epoch F, the same for every replica: the first call to
// notice writes it, atomically with its record) and reports detected = true.
// Missing while the key values do hold state, it is set to 0: a Redis filled
// by a txv that kept no marker, not an emptied one. From then on an event with
// at < F is NOT recorded (recorded = false, an empty ticket): the stored
// decisions count everything before F, Redis everything from F on, so the two
// never overlap (a replay of events queued during an outage included). Every
// call reports the epoch it saw (RedisVelocityEpoch), at no extra round trip.
// A call stamped before F that reaches Redis after F was set (in flight at
// that moment) is therefore counted from the database only once it is stored:
// concurrent calls for the same key value may miss it, a blur of a few
// milliseconds of decisions around F. At start-up, mark_epoch_if_empty() sets
// F before any decision when Redis's database is wholly empty, so that a new
// or emptied server does not put F amid a burst of decisions.
// Used alone, counters with a marker undercount the time before F: put
// WarmingVelocityCounters in front. Redis must not evict the marker
// (maxmemory-policy noeviction or volatile-*: it has no TTL), or a later
// eviction is taken for an emptied Redis.
//
// Errors: Error "internal" for invalid input (amount < 0; currency over 16
// bytes or containing ':'; window_ms outside 1 ms .. 400 days; a key not a
// VelocityKey; `at` out of +/- 2^50 ms) and for protocol errors; Error
// "unavailable" when Redis is unreachable or late (client deadline).
//
// Thread-safety: every member may be called concurrently from any executor.
// The counters must not outlive the client; background compensations run on
// the client's thread and end with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "cache/redis/redis_client.h"
#include "cache/velocity_counters.h"

namespace txv::cache {

struct RedisVelocityCountersOptions {
  std::string key_prefix = "txv:v:";
  // Windows up to this are exact; longer ones are bucketed (blur <= 1/60 of the window).
  std::chrono::milliseconds exact_window_max = std::chrono::hours(1);
  // The events sorted set keeps at least this much, plus `grace`, whatever the queries: a window up to it that is
  // new (a rule just added, or a key type no rule read before) is exact at once. 1 h, like the rule engine's
  // minimum retention of the local counters; lower it to save memory on busy key values (>= a few minutes: a
  // cancel finds its event there).
  std::chrono::milliseconds min_event_retention = std::chrono::hours(1);
  std::chrono::milliseconds grace = std::chrono::minutes(1);
  std::chrono::milliseconds tombstone_ttl = std::chrono::minutes(10);
  // How long a background cancel of an event with an unknown outcome is retried.
  std::chrono::milliseconds compensation_budget = std::chrono::seconds(30);
  // The marker that tells an emptied Redis (see "Emptied Redis" above), e.g. "txv:v:epoch"; empty: none kept.
  std::string epoch_key;
};

// What one read_and_record saw of the epoch marker (options.epoch_key).
struct RedisVelocityEpoch {
  bool known = false;              // the script ran with the marker (false: no marker kept, or no key value)
  domain::TimePoint emptied_at{};  // F: when Redis was last found emptied (0: never)
  bool detected = false;           // this call found the marker missing and set it
  bool recorded = false;           // the event was recorded (false: at < F, it counts from the store)
};

class RedisVelocityCounters final : public VelocityCounters {
 public:
  // The far-edge blur of bucketed windows, as a fraction of the window (contract: at most 1/60).
  static constexpr double kFarEdgeBlur = 1.0 / 60;

  explicit RedisVelocityCounters(RedisClient& client, RedisVelocityCountersOptions options = {});

  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  // The same, reporting the epoch marker the call saw (`epoch` may be null).
  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input, std::span<const VelocityQuery> queries,
                                             RedisVelocityEpoch* epoch);
  Task<Status> cancel(const VelocityTicket& ticket) override;
  // At start-up: sets the epoch marker to `now` when it is missing and Redis's database holds no key at all (a new
  // or emptied server, nothing written since), so that F does not fall amid the first decisions (see "Emptied
  // Redis"). Answers whether it did; false without an epoch_key.
  Task<Result<bool>> mark_epoch_if_empty(domain::TimePoint now);

  // Whether a window is answered exactly (else bucketed).
  bool exact_window(std::int64_t window_ms) const;
  // The bucket width of a window: exact windows <= window/3600 (at least 1 s), bucketed ones <= window/60 (0:
  // none, a window below 1 s is answered from the events alone).
  static std::int64_t bucket_width_ms(std::int64_t window_ms, bool exact);
  // The Redis key of one key value's part ("e", "x", "b<seconds>").
  std::string redis_key(VelocityKey key, std::string_view value, std::string_view part) const;

 private:
  RedisClient& client_;
  const RedisVelocityCountersOptions options_;
};

}  // namespace txv::cache

// In-process, exact velocity counters (embedded mode, one replica).
//
// Exactness: no bucketing. Per key value ("series", e.g. card c) and per
// currency seen under it, events are kept in time order as 16-byte entries
// (time, cumulative amount), so a window is one binary search per currency:
//   count  = entries after the cut-off (summed over the series' currencies,
//            usually one) minus cancelled events after the cut-off,
//   amount = cumulative(last) - cumulative(before the first entry in the window)
//            in the query's currency.
// Reads are O(C log n) for C currencies under the key value. The entries live
// in a vector with a head index while a series is small (a one-event series
// costs one 16-byte allocation) and in a std::deque from 4096 live entries
// (O(1) front drops, no large copies under a lock; a deque costs ~600 bytes
// even when nearly empty, hence not for small series).
//
// Ordering and the one blur: per key value, recorded times are kept
// monotonic. An event whose `at` is earlier than the newest event already
// recorded under that key value (threads racing by microseconds to a few ms,
// or a clock step) is stored at that newest time instead. Its later inclusion
// in windows is therefore blurred by at most that race (how far `at` lagged
// the newest event of the key); the read for the event itself uses its own
// `at`, and counts every event already recorded, stamped earlier or not. Such
// a clamped event's real `at` is kept in a small per-key-value ledger (24
// bytes per clamped event, only for clamped ones) so that a backfill can tell
// it apart from the stored decisions older than its boundary: a clamped event
// stamped before the boundary but stored after it is held, and its stored copy
// is not merged again.
//
// Cancel (mark and adjust): the event's entry stays in place with its amount
// removed from its own and every later cumulative value of that currency
// (O(entries recorded under the key value and currency since the event, i.e.
// during the request's lifetime)), and its stored time goes into a sorted list
// of cancelled times that the count subtracts (binary search). Exact for every
// window; the list is pruned with the entries. Cancelling an event that
// retention already dropped, or after rebuild(), does nothing.
//
// Amounts: cumulative sums are kept modulo 2^80 (64-bit low word + 16 bits
// packed beside the 48-bit time), so a window sum is exact whenever
// count_in_window * max_amount_ever < 2^80 (always for contract amounts
// <= 10^15: that needs > 10^9 events in a window) and otherwise recomputed
// by a linear scan. Results saturate at INT64_MAX.
//
// Locking: 256 shards, each a mutex over a hash map from (key type, value) to
// its series. A call locks the distinct shards of its present key values in
// ascending order (no deadlock), reads every query, records under every key
// and unlocks. Key strings, hashes, the result vector and the ticket are built
// before locking; under the locks: hash lookups, binary searches, appends
// (amortised growth) and, for a key value seen for the first time, one map
// node. cancel() locks the same shards. The asynchronous members complete
// without suspending (no lock is ever held across a co_await: they never
// await anything).
//
// History (VelocityHistory): a Batch is built without any lock; replace_all()
// and merge_older() then take one shard lock at a time, and within a shard at
// most kMergeSlice entries per lock hold (older events are put in front of a
// key value's entries newest slice first, without moving the live entries, so
// outstanding tickets stay valid).
//
// Retention: events at or before `newest_at_seen - retention - prune_grace`
// are dropped when their key value is touched; key values with nothing left
// are erased by an incremental sweep (2 hash buckets of each locked shard per
// call) or by prune(). The grace (default 1 min) keeps events a little longer
// so that a window equal to the retention is not cut by clock races.
// Shrinking the retention (set_retention) and prune() drop everything past it
// at once, shrink the containers and hand free memory back to the OS
// (malloc_trim), so deleting the rules with long windows gives the memory back.
//
// Memory (64-bit, libstdc++, measured): 16 bytes per event per present key
// (up to 6 keys), plus about 235 bytes per distinct key value (hash node,
// 33-byte key string, series, first allocation), plus up to 2x growth slack
// on series below 4096 entries. 30 days at 100 tx/s is 259.2 M events: the
// entries alone are 4.1 GB per key type (24.9 GB with all 6 keys present),
// and a key type whose values are mostly one-off (cards, IPs, e-mails) adds
// up to 61 GB more. Size the retention to the longest window the active rules
// use (set_retention), and pass only the keys rules reference, to keep this in
// bounds; a shared back-end (Redis) is the answer beyond that.
//
// Errors (no exceptions escape): read_and_record and Batch::add answer Error
// "internal" and change nothing for input outside these limits: amount >= 0;
// currency at most 7 bytes; at within +/- 4400 years of 1970 (48-bit
// milliseconds); window_ms > 0; key a valid VelocityKey. Out of memory: the
// same Error, nothing recorded (a partial recording is undone); cancel() then
// leaves the event counted (cancelling the same ticket again retries);
// replace_all/merge_older may have merged part of the batch.
//
// Thread-safety: every member may be called concurrently. Tickets must not be
// used after the object is destroyed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "cache/velocity_counters.h"
#include "cache/velocity_history.h"

namespace txv::cache {

namespace velocity_detail {
struct Shard;        // defined in the .cc
class HistoryBatch;  // defined in the .cc
}  // namespace velocity_detail

struct LocalVelocityCountersOptions {
  std::chrono::milliseconds retention = std::chrono::hours(24 * 30);
  std::chrono::milliseconds prune_grace = std::chrono::minutes(1);
};

// A point-in-time summary (shards are visited one after another, so under
// concurrent calls it is not a consistent snapshot).
struct LocalVelocityStats {
  std::size_t key_values = 0;  // distinct (key type, value) series held
  std::size_t entries = 0;     // live entries (events x keys), cancelled ones included
  std::size_t cancelled = 0;   // cancelled entries still held
  std::size_t clamped = 0;     // ledger records of clamped entries still held
  std::size_t approximate_bytes = 0;
};

class LocalVelocityCounters final : public VelocityCounters, public VelocityHistory {
 public:
  LocalVelocityCounters();
  explicit LocalVelocityCounters(LocalVelocityCountersOptions options);
  ~LocalVelocityCounters() override;
  LocalVelocityCounters(const LocalVelocityCounters&) = delete;
  LocalVelocityCounters& operator=(const LocalVelocityCounters&) = delete;

  // VelocityCounters: complete at once, without suspending.
  Task<Result<VelocityRead>> read_and_record(const VelocityEventInput& input,
                                             std::span<const VelocityQuery> queries) override;
  Task<Status> cancel(const VelocityTicket& ticket) override;

  // The same, synchronously (they never wait on anything): for tests and benchmarks.
  Result<VelocityRead> record_now(const VelocityEventInput& input, std::span<const VelocityQuery> queries);
  // Ok, or Error "internal" when out of memory (the event still counts; cancelling again retries).
  Status cancel_now(const VelocityTicket& ticket);

  // VelocityHistory.
  std::chrono::milliseconds retention() const override;
  HistoryRange set_retention(std::chrono::milliseconds retention, domain::TimePoint now) override;
  std::unique_ptr<Batch> new_batch() override;
  Status replace_all(std::unique_ptr<Batch> batch, domain::TimePoint since) override;
  Status merge_older(std::unique_ptr<Batch> batch, HistoryRange range) override;

  // replace_all() from events in memory (tests, benchmarks): everything given is
  // kept except what is past the retention of the newest. An invalid event
  // answers Error "internal" and keeps the previous state.
  Status rebuild(std::span<const store::VelocityEvent> events);

  // Drops everything past retention in every shard, one shard at a time,
  // shrinks the containers and gives free memory back to the OS (for a
  // periodic maintenance task; calls drop incrementally anyway).
  void prune();
  LocalVelocityStats stats() const;

  static constexpr std::size_t kShardCount = 256;
  // Most older entries put into one key value per shard lock hold by replace_all/merge_older.
  static constexpr std::size_t kMergeSlice = 4096;

 private:
  friend class velocity_detail::HistoryBatch;
  Result<VelocityRead> read_and_record_unchecked(const VelocityEventInput& input,
                                                 std::span<const VelocityQuery> queries, std::int64_t at,
                                                 std::uint64_t currency, std::uint64_t amount);
  // Merges `batch` shard by shard: key values' entries before `until` are dropped first (merge_older), events at or
  // before `skip_through` are skipped (past retention).
  void merge_batch(velocity_detail::HistoryBatch& batch, std::int64_t until, std::int64_t skip_through);
  void prune_and_release();
  std::int64_t prune_cutoff() const;
  void note_time(std::int64_t at_ms);

  const std::chrono::milliseconds prune_grace_;
  std::atomic<std::int64_t> retention_ms_;
  std::atomic<std::int64_t> newest_ms_;
  std::atomic<std::uint64_t> next_incarnation_{1};
  std::unique_ptr<velocity_detail::Shard[]> shards_;  // kShardCount
  // Admin calls (retention, replace_all, merge_older) one at a time; never taken on the request path.
  std::mutex admin_mu_;
  // Every event with at >= complete_from_ that was loaded or recorded is held (unless past retention). Admin only.
  std::int64_t complete_from_;
};

}  // namespace txv::cache

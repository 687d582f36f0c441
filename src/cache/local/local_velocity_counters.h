// In-process velocity counters (embedded mode, one replica): exact for
// windows up to the exact span (1 h), 1-minute buckets beyond.
//
// Two tiers per key value ("series", e.g. card c) and per currency seen under
// it, sharing one running sum of the amounts:
// - exact entries: every event stored after the series' `folded_through`, as
//   16-byte entries (time, cumulative amount) in time order;
// - folded buckets: every older event, in 1-minute buckets aligned on
//   multiples of 60 s since the epoch, 24 bytes each (start, cumulative
//   amount, cumulative count).
// folded_through is a bucket end at or before newest_seen - exact_span -
// prune_grace (newest_seen: the newest `at` recorded or loaded, all keys), so
// the entries always cover the last exact_span + grace. Folding moves whole
// minutes from the front of the entries to the back of the buckets when a
// series is touched (a call, the incremental sweep, prune()): amortised O(1)
// per event, each event folded once.
//
// Reads: a window is two binary searches per currency (entries, buckets):
//   count  = events after the cut-off minus cancelled events after it,
//   amount = cumulative(last) - cumulative(before the first one counted),
// in the query's currency. A cut-off at or after folded_through (every window
// <= exact_span, as of the newest time) is exact at the millisecond. A cut-off
// among the buckets is moved back to the end of the bucket before the one
// holding cut-off + 1 ms: the bucket holding the far edge counts whole, so an
// event up to 1 minute older than the window may count. That is the
// contract's far-edge blur (section 5: at most 1/60 of the window; 1 min <=
// window / 60 for every window > 1 h); an event away from the edge counts
// exactly, and a window never counts less than the truth. The Redis back-end
// buckets the same way (exact up to exact_window_max = 1 h, buckets of <=
// window / 60 beyond; coarser buckets there: a window's own width).
//
// Ordering and clamping: per key value, recorded times are kept monotonic. An
// event whose `at` is earlier than the newest event already recorded under
// that key value (threads racing by microseconds to a few ms, or a clock
// step) is stored at that newest time instead (and never at or before
// folded_through: an event more than the exact span late is stored just after
// it). Its later inclusion in windows is blurred by at most that lag; the read
// for the event itself uses its own `at`. Such a clamped event's own time and
// amount are kept in a small per-key-value ledger (40 bytes per clamped event)
// so that a backfill can tell it apart from the stored decisions older than
// its boundary: a clamped event stamped before the boundary but stored after
// it is held, and its stored copy is not merged again. Backfill boundaries are
// bucket starts, so a record is dropped once its event is folded into the
// bucket of its own time (a race that does not cross a minute boundary, the
// rule), and otherwise kept until retention drops the event.
//
// Cancel (mark and adjust): an exact entry stays in place with its amount
// removed from its own and every later cumulative value of that currency
// (O(entries recorded since the event, i.e. during the request's lifetime)),
// and its stored time goes into a sorted list of cancelled times that the
// count subtracts (binary search, with the same bucket rule at the far edge).
// An event already folded (a request that outlived the exact span, or a clock
// step) is cancelled in its bucket: the ticket carries its stored time, its
// amount leaves that bucket's and every later cumulative value (O(buckets +
// entries after it)), and its time joins the cancelled list. Exact for every
// window, blur aside. Cancelled times cost 8 bytes each until retention drops
// them (cancels are decisions that could not be stored: rare). Cancelling an
// event that retention already dropped, or after rebuild(), does nothing.
//
// Amounts: cumulative sums are kept modulo 2^80 (64-bit low word + 16 bits
// packed beside the time), so a window sum is exact whenever count_in_window *
// max_amount_ever < 2^80 (always for contract amounts <= 10^15: that needs >
// 10^9 events in a window) and otherwise recomputed by a linear scan (a bucket
// whose own sum could pass 2^80 then saturates). Results saturate at
// INT64_MAX.
//
// Locking: 256 shards, each a mutex over a hash map from (key type, value) to
// its series. A call locks the distinct shards of its present key values in
// ascending order (no deadlock), reads every query, records under every key
// and unlocks. Key strings, hashes, the result vector and the ticket are built
// before locking; under the locks: hash lookups, binary searches, appends
// (amortised growth), folding what aged past the exact span since the series
// was last touched, and, for a key value seen for the first time, one map
// node. cancel() locks the same shards. The asynchronous members complete
// without suspending (no lock is ever held across a co_await: they never
// await anything).
//
// History (VelocityHistory): a Batch is built without any lock, on two
// threads (each keeps the key values of half the shards), for per-key ranges:
// key k of a stored event is hashed and kept only when the event is in key
// k's range (a start-up with one 24 h card rule keeps ~1 key per decision for
// all but the last hour instead of 6); events older than
// the exact span behind the newest added so far are folded into 1-minute
// buckets as they are added, so a batch holds about one exact span of events
// plus its buckets. replace_all() and merge_older() then take one shard lock
// at a time, and within a shard at most kMergeSlice items per lock hold (older
// events and buckets are put in front of a key value's, newest slice first,
// without moving the live entries, so outstanding tickets stay valid). A
// backfill's range ends at a bucket start (set_retention rounds it up), and
// merge_older first drops whole buckets and entries before it.
//
// Retention, per velocity key (a series knows its key from the first byte of
// its map key): events of key k at or before `newest_at_seen - retention[k] -
// prune_grace` (newest_at_seen: over all keys) are dropped when their key
// value is touched (among the buckets: whole buckets, the cut-off moved back
// as for a read); key values with nothing left are erased by an incremental
// sweep (2 hash buckets of each locked shard per call) or by prune(). The
// grace (default 1 min) keeps events a little longer so that a window equal to
// the retention is not cut by clock races. Shrinking a key's retention
// (set_retention) and prune() drop everything past it at once, shrink the
// containers and hand free memory back to the OS (malloc_trim), so deleting
// the rules with long windows gives the memory back; so does replace_all()
// once the batch is merged. The rule engine keeps every key at >= 1 h.
//
// Memory (64-bit, libstdc++, glibc heap measured with mallinfo2): about 300
// bytes per distinct key value (hash node with the key string, the series with
// both tiers' headers, first allocation), plus 16 bytes per event of the last
// exact span + grace (1 h 1 min) and 24 bytes per non-empty minute before that,
// up to its key's retention (plus up to 2x growth slack between prune()
// calls). So a key value costs at most ~300 B + 24 B x its key's retention in
// minutes + 16 B x its events of the last hour, whatever its traffic beyond
// that, and the key values of keys no long window reads cost only their last
// hour: a merchant with a 24 h retention took 0.06 MB at an event every 10 s,
// 0.11 MB every 1 s and 0.69 MB every 100 ms (the last hour's entries;
// per-event entries would be 0.14, 1.4 and 14 MB); a 30-day retention is at
// most 1.04 MB of buckets per key value. A sparse key value gains nothing (one bucket per event, 24 bytes
// instead of 16): 200,000 cards with 1, 5 or 50 events over 23 h took 297,
// 464 and 1,938 bytes per card. Coarser buckets for older minutes (a width <=
// age / 60) would bound it further; not done.
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

#include <array>
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
// One time (ms since the epoch) per velocity key, by VelocityKey.
using KeyCutoffs = std::array<std::int64_t, kVelocityKeyCount>;
}  // namespace velocity_detail

struct LocalVelocityCountersOptions {
  // The initial retention of every key (set_retention sets it per key).
  std::chrono::milliseconds retention = std::chrono::hours(24 * 30);
  std::chrono::milliseconds prune_grace = std::chrono::minutes(1);
  // Events within this (plus the grace) of the newest time seen are kept exact; older ones are folded into
  // 1-minute buckets. Windows up to this long are exact.
  std::chrono::milliseconds exact_span = std::chrono::hours(1);
};

// A point-in-time summary (shards are visited one after another, so under
// concurrent calls it is not a consistent snapshot).
struct LocalVelocityStats {
  std::size_t key_values = 0;  // distinct (key type, value) series held
  std::size_t entries = 0;     // live exact entries (events x keys), cancelled ones included
  std::size_t buckets = 0;     // folded 1-minute buckets (per key value and currency)
  std::size_t folded = 0;      // events x keys counted in those buckets
  std::size_t cancelled = 0;   // cancelled entries still held
  std::size_t clamped = 0;     // ledger records of clamped entries still held
  std::size_t approximate_bytes = 0;
  // Events held per key (exact entries + folded events of that key's series, cancelled ones included), by VelocityKey.
  std::array<std::size_t, kVelocityKeyCount> events_by_key{};
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

  // VelocityHistory (retention per key).
  KeyRetention retention() const override;
  KeyRanges set_retention(const KeyRetention& retention, domain::TimePoint now) override;
  std::unique_ptr<Batch> new_batch(const KeyRanges& ranges) override;
  Status replace_all(std::unique_ptr<Batch> batch, const KeyRanges& ranges) override;
  Status merge_older(std::unique_ptr<Batch> batch, const KeyRanges& ranges) override;
  // The same retention for every key (tests, benchmarks).
  KeyRanges set_retention(std::chrono::milliseconds retention, domain::TimePoint now);
  // A batch keeping every key of every event (all_time()).
  std::unique_ptr<Batch> new_batch();

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
  // Merges `batch` shard by shard, the key values of key k only when merge[k]: their entries before until[k] are
  // dropped first (merge_older), events at or before skip_through[k] are skipped (past retention).
  void merge_batch(velocity_detail::HistoryBatch& batch, const std::array<bool, kVelocityKeyCount>& merge,
                   const velocity_detail::KeyCutoffs& until, const velocity_detail::KeyCutoffs& skip_through);
  // What key `key` drops: everything at or before newest - retention[key] - grace.
  std::int64_t prune_cutoff(std::size_t key) const;
  // The same for a given newest time (kInt64Min: nothing seen yet, nothing dropped).
  std::int64_t cutoff_after(std::int64_t newest, std::size_t key) const;
  velocity_detail::KeyCutoffs prune_cutoffs() const;
  // The bucket end through which a series is folded when the newest time seen is `newest` (kInt64Min: none).
  std::int64_t fold_target(std::int64_t newest) const;
  std::int64_t fold_cutoff() const;
  void note_time(std::int64_t at_ms);

  const std::chrono::milliseconds prune_grace_;
  const std::chrono::milliseconds exact_span_;
  std::array<std::atomic<std::int64_t>, kVelocityKeyCount> retention_ms_;  // by VelocityKey
  std::atomic<std::int64_t> newest_ms_;
  std::atomic<std::uint64_t> next_incarnation_{1};
  std::unique_ptr<velocity_detail::Shard[]> shards_;  // kShardCount
  // Admin calls (retention, replace_all, merge_older) one at a time; never taken on the request path.
  std::mutex admin_mu_;
  // Every event of key k with at >= complete_from_[k] that was loaded or recorded is held (unless past key k's
  // retention). Admin only.
  velocity_detail::KeyCutoffs complete_from_;
};

}  // namespace txv::cache

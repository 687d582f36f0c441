// What only an in-process counter back-end needs: being fed history from the
// stored decisions, and being told how much of it to keep.
//
// A shared back-end (Redis) keeps its own history and does not implement
// this; the rule engine takes it as an optional second interface of the
// counters (decide/rule_engine.h). Everything here is admin work: it may
// block, and runs off the request path (start-up, or the engine's admin
// executor). Decisions keep being counted while it runs: each key shard's
// lock is held for a bounded time, never for a whole load.
//
// Retention is per velocity key (cache/velocity_keys.h): key k keeps
// retention[k] (the rule engine asks for max(1 h, the longest window of any
// rule reading key k)), so a key no rule reads long is neither loaded nor kept
// long. Every key is still recorded live and keeps at least 1 h.
//
// Exactness of a backfill (set_retention growing key k, then merge_older), per
// key: the counters hold every event of key k with `at >= ranges[k].until`
// that was recorded or loaded; merge_older first drops what they hold of key k
// with `at < ranges[k].until` and then adds the stored events of
// [ranges[k].since, ranges[k].until), so no event is counted twice and none is
// lost, provided every decision stamped before ranges[k].until is settled
// (stored or cancelled) by the time the store is read. That holds because
// ranges[k].until is at least key k's old retention (>= 1 h, with the server's
// decided_at) behind the newest recorded time. A back-end that folds old
// events into time buckets may round until up to a bucket start (the local
// counters: to the minute), so that no bucket straddles it.
//
// Thread-safety: every member may be called concurrently with the request
// path and with each other (admin calls are serialised internally).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>

#include "cache/velocity_keys.h"
#include "common/result.h"
#include "domain/transaction.h"
#include "store/records.h"

namespace txv::cache {

// Stored decisions with since <= decided_at < until.
struct HistoryRange {
  domain::TimePoint since{};
  domain::TimePoint until{};
  bool empty() const { return since >= until; }
};

// One value per velocity key, indexed by VelocityKey.
using KeyRetention = std::array<std::chrono::milliseconds, kVelocityKeyCount>;
using KeyRanges = std::array<HistoryRange, kVelocityKeyCount>;

// The same retention for every key.
inline KeyRetention same_retention(std::chrono::milliseconds retention) {
  KeyRetention out;
  out.fill(retention);
  return out;
}
// The longest retention of any key.
inline std::chrono::milliseconds longest(const KeyRetention& retention) {
  return *std::max_element(retention.begin(), retention.end());
}
// The same range for every key; all_time(): every stored decision, for every key.
inline KeyRanges same_range(HistoryRange range) {
  KeyRanges out;
  out.fill(range);
  return out;
}
inline KeyRanges all_time() { return same_range(HistoryRange{domain::TimePoint::min(), domain::TimePoint::max()}); }
// True when no key needs anything.
inline bool all_empty(const KeyRanges& ranges) {
  return std::all_of(ranges.begin(), ranges.end(), [](const HistoryRange& r) { return r.empty(); });
}
// The smallest range holding every non-empty one (empty when all are): what one store scan reads.
inline HistoryRange hull(const KeyRanges& ranges) {
  HistoryRange out{domain::TimePoint::max(), domain::TimePoint::min()};
  for (const auto& r : ranges) {
    if (r.empty()) continue;
    out.since = std::min(out.since, r.since);
    out.until = std::max(out.until, r.until);
  }
  return out.empty() ? HistoryRange{} : out;
}
// Which key fields a scan of hull(ranges) must fill: key k's from ranges[k].since (none for an empty range; a
// field is not needed past its range's end either, but the scan only leaves out what is older).
inline store::VelocityScanFields scan_fields(const KeyRanges& ranges) {
  static_assert(store::VelocityScanFields::kKeyCount == kVelocityKeyCount);
  store::VelocityScanFields fields;
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    fields.needed_from[k] = ranges[k].empty() ? domain::TimePoint::max() : ranges[k].since;
  }
  return fields;
}

class VelocityHistory {
 public:
  // Stored decisions being turned into counter state, off the request path
  // (no lock of the counters is taken while adding). Keyed by the one mapping
  // of cache/velocity_keys.h; built for per-key ranges (new_batch): key k of
  // an event is kept only when the event's time is in ranges[k], the other
  // keys of the event are skipped (so the store may send more than needed).
  class Batch {
   public:
    virtual ~Batch() = default;
    // Adds events in any order (oldest first is cheapest). An invalid event
    // (see the implementation's limits) answers Error "internal" and adds none
    // of `events`.
    virtual Status add(std::span<const store::VelocityEvent> events) = 0;
    virtual std::size_t size() const = 0;  // events added
  };

  virtual ~VelocityHistory() = default;

  virtual KeyRetention retention() const = 0;

  // Sets how long each key's events are kept (measured from the newest `at`
  // seen, any key). Shrinking a key drops what is past its new retention at
  // once and gives the memory back; its range is then empty. Growing a key
  // answers, in its range, the stored events the counters now lack for it
  // (empty when none): load them (new_batch(ranges), one scan of
  // hull(ranges)) and merge_older() them. `now` is used when the counters
  // have seen no event yet.
  virtual KeyRanges set_retention(const KeyRetention& retention, domain::TimePoint now) = 0;

  // A batch keeping key k of the events in ranges[k] only.
  virtual std::unique_ptr<Batch> new_batch(const KeyRanges& ranges) = 0;

  // Start-up: replaces all state with `batch` (built for `ranges`), which
  // holds, for every key k, every stored event with at >= ranges[k].since
  // (ranges[k].until: the far future; events past key k's retention of the
  // newest are skipped). Tickets issued before become no-ops. Call before
  // serving.
  virtual Status replace_all(std::unique_ptr<Batch> batch, const KeyRanges& ranges) = 0;

  // Backfill: `batch` (built for `ranges`) holds, for each key k, the stored
  // events of ranges[k], as answered by the last set_retention(). Merges them
  // key shard by key shard (see the header comment); keys with an empty range
  // are left as they are, and windows no longer than a key's previous
  // retention never see the difference while it runs. On error (out of
  // memory) part of the ranges may be merged: set the previous retention
  // back, which drops it again.
  virtual Status merge_older(std::unique_ptr<Batch> batch, const KeyRanges& ranges) = 0;
};

}  // namespace txv::cache

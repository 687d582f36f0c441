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
// Exactness of a backfill (set_retention growing, then merge_older): the
// counters hold every event with `at >= range.until` that was recorded or
// loaded; merge_older first drops what they hold with `at < range.until` and
// then adds the stored events of [range.since, range.until), so no event is
// counted twice and none is lost, provided every decision stamped before
// range.until is settled (stored or cancelled) by the time the store is read.
// That holds because range.until is at least the old retention (>= 1 h, with
// the server's decided_at) behind the newest recorded time. A back-end that
// folds old events into time buckets may round range.until up to a bucket
// start (the local counters: to the minute), so that no bucket straddles it.
//
// Thread-safety: every member may be called concurrently with the request
// path and with each other (admin calls are serialised internally).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>

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

class VelocityHistory {
 public:
  // Stored decisions being turned into counter state, off the request path
  // (no lock of the counters is taken while adding). Keyed by the one mapping
  // of cache/velocity_keys.h.
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

  virtual std::chrono::milliseconds retention() const = 0;

  // Sets how long events are kept (measured from the newest `at` seen).
  // Shrinking drops what is past the new retention at once and gives the
  // memory back; the answer is then empty. Growing answers the stored events
  // the counters now lack (empty when none): load them and merge_older() them.
  // `now` is used when the counters have seen no event yet.
  virtual HistoryRange set_retention(std::chrono::milliseconds retention, domain::TimePoint now) = 0;

  virtual std::unique_ptr<Batch> new_batch() = 0;

  // Start-up: replaces all state with `batch`, which holds every stored event
  // with at >= since (events past the retention of the newest are skipped).
  // Tickets issued before become no-ops. Call before serving.
  virtual Status replace_all(std::unique_ptr<Batch> batch, domain::TimePoint since) = 0;

  // Backfill: `batch` holds the stored events of `range`, as answered by the
  // last set_retention(). Merges them key shard by key shard (see the header
  // comment); windows no longer than the previous retention never see the
  // difference while it runs. On error (out of memory) part of the range may
  // be merged: set the previous retention back, which drops it again.
  virtual Status merge_older(std::unique_ptr<Batch> batch, HistoryRange range) = 0;
};

}  // namespace txv::cache

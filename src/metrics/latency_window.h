// A rolling record of request durations, per minute, over the last 24 hours,
// for the console's dashboard (GET /v1/stats `latency`): p50 and p99 over any
// window of whole minutes within it, for this process only.
//
// Memory is bounded and fixed: a ring of kMinutes slots, each a histogram of
// kBuckets logarithmic buckets (4 per doubling, from 10 µs up to ~168 s; a
// reported percentile is the geometric middle of its bucket, within ~9% of
// the true value). A slot is reused when its minute is more than 24 h old.
//
// Thread-safety: every method may be called concurrently from any thread. One
// std::mutex guards the ring; it is held only for a bucket increment or one
// pass over the slots, never across a suspension point or any I/O.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace txv::metrics {

class LatencyWindow {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr std::int64_t kMinutes = 24 * 60;
  static constexpr int kBuckets = 96;
  static constexpr int kBucketsPerDoubling = 4;
  static constexpr double kSmallestBucketSeconds = 0.00001;  // bucket 0 holds everything below this

  struct Summary {
    std::uint64_t count = 0;       // durations recorded in the window
    std::optional<double> p50_ms;  // nullopt when count == 0
    std::optional<double> p99_ms;
  };

  LatencyWindow();

  // Records one duration (seconds; negative counts as 0) in the minute of `at`.
  // A minute more than 24 h before the newest one recorded is ignored.
  void record(Clock::time_point at, double seconds);

  // The durations recorded in the minutes from the one holding `since` to the
  // one holding `until`, both included (at most the last 24 h).
  Summary summarize(Clock::time_point since, Clock::time_point until) const;

  // The bucket a duration falls in, and the value reported for a bucket (ms).
  static int bucket_of(double seconds);
  static double bucket_value_ms(int bucket);

 private:
  struct Minute {
    std::int64_t minute = -1;  // minutes since the epoch; -1: never used
    std::array<std::uint32_t, kBuckets> counts{};
  };
  static std::int64_t minute_of(Clock::time_point t);
  // The percentile (0 < p < 1) of `counts` holding `total` values.
  static double percentile_ms(const std::array<std::uint64_t, kBuckets>& counts, std::uint64_t total, double p);

  mutable std::mutex mu_;
  std::vector<Minute> ring_;  // kMinutes slots; slot = minute % kMinutes
  std::int64_t newest_ = -1;  // the newest minute recorded
};

}  // namespace txv::metrics

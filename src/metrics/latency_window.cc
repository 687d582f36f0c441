#include "metrics/latency_window.h"

#include <algorithm>
#include <cmath>

namespace txv::metrics {

LatencyWindow::LatencyWindow() : ring_(static_cast<std::size_t>(kMinutes)) {}

std::int64_t LatencyWindow::minute_of(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  return ms >= 0 ? ms / 60000 : (ms - 59999) / 60000;
}

int LatencyWindow::bucket_of(double seconds) {
  if (!(seconds > kSmallestBucketSeconds)) return 0;  // also NaN and negatives
  const double k = std::floor(std::log2(seconds / kSmallestBucketSeconds) * kBucketsPerDoubling);
  return static_cast<int>(std::clamp(k, 0.0, static_cast<double>(kBuckets - 1)));
}

double LatencyWindow::bucket_value_ms(int bucket) {
  // Geometric middle of [10 µs · 2^(b/4), 10 µs · 2^((b+1)/4)).
  const double exponent = (static_cast<double>(bucket) + 0.5) / kBucketsPerDoubling;
  return kSmallestBucketSeconds * std::exp2(exponent) * 1000.0;
}

void LatencyWindow::record(Clock::time_point at, double seconds) {
  const std::int64_t minute = minute_of(at);
  const int bucket = bucket_of(seconds);
  std::lock_guard lock(mu_);
  if (newest_ >= 0 && minute <= newest_ - kMinutes) return;  // older than the ring
  newest_ = std::max(newest_, minute);
  Minute& slot = ring_[static_cast<std::size_t>(((minute % kMinutes) + kMinutes) % kMinutes)];
  if (slot.minute != minute) {
    slot.minute = minute;
    slot.counts.fill(0);
  }
  if (slot.counts[static_cast<std::size_t>(bucket)] < UINT32_MAX) ++slot.counts[static_cast<std::size_t>(bucket)];
}

double LatencyWindow::percentile_ms(const std::array<std::uint64_t, kBuckets>& counts, std::uint64_t total, double p) {
  const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts[static_cast<std::size_t>(b)];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return bucket_value_ms(b);
  }
  return bucket_value_ms(kBuckets - 1);
}

LatencyWindow::Summary LatencyWindow::summarize(Clock::time_point since, Clock::time_point until) const {
  const std::int64_t last = minute_of(until);
  const std::int64_t first = std::max(minute_of(since), last - kMinutes + 1);
  std::array<std::uint64_t, kBuckets> merged{};
  {
    std::lock_guard lock(mu_);
    for (std::int64_t m = first; m <= last; ++m) {
      const Minute& slot = ring_[static_cast<std::size_t>(((m % kMinutes) + kMinutes) % kMinutes)];
      if (slot.minute != m) continue;
      for (int b = 0; b < kBuckets; ++b)
        merged[static_cast<std::size_t>(b)] += slot.counts[static_cast<std::size_t>(b)];
    }
  }
  Summary out;
  for (auto c : merged) out.count += c;
  if (out.count == 0) return out;
  out.p50_ms = percentile_ms(merged, out.count, 0.50);
  out.p99_ms = percentile_ms(merged, out.count, 0.99);
  return out;
}

}  // namespace txv::metrics

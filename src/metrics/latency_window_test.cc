#include "metrics/latency_window.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/metrics.h"

namespace txv::metrics {
namespace {

using Clock = LatencyWindow::Clock;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point(hours(24 * 20000));  // a whole minute

// Within one bucket's resolution (2^(1/4) ≈ 1.19) of `expected_ms`.
void expect_near_ms(std::optional<double> got, double expected_ms) {
  ASSERT_TRUE(got.has_value());
  EXPECT_GT(*got, expected_ms / 1.19) << *got;
  EXPECT_LT(*got, expected_ms * 1.19) << *got;
}

TEST(LatencyWindow, EmptyWindowHasNoPercentiles) {
  LatencyWindow w;
  auto s = w.summarize(kT0 - hours(1), kT0);
  EXPECT_EQ(s.count, 0u);
  EXPECT_FALSE(s.p50_ms.has_value());
  EXPECT_FALSE(s.p99_ms.has_value());
}

TEST(LatencyWindow, PercentilesOverTheWindow) {
  LatencyWindow w;
  // 98 fast (2 ms), 2 slow (400 ms): p50 is 2 ms, p99 is 400 ms.
  for (int i = 0; i < 98; ++i) w.record(kT0 + seconds(i % 60), 0.002);
  w.record(kT0 + seconds(5), 0.4);
  w.record(kT0 + seconds(6), 0.4);
  auto s = w.summarize(kT0, kT0 + seconds(59));
  EXPECT_EQ(s.count, 100u);
  expect_near_ms(s.p50_ms, 2.0);
  expect_near_ms(s.p99_ms, 400.0);
}

TEST(LatencyWindow, OnlyTheMinutesOfTheWindowCount) {
  LatencyWindow w;
  w.record(kT0 - minutes(61), 1.0);   // before the 1 h window
  w.record(kT0 - minutes(59), 0.01);  // first minute of it
  w.record(kT0 + seconds(30), 0.01);  // the current minute
  auto hour = w.summarize(kT0 - minutes(59), kT0 + seconds(30));
  EXPECT_EQ(hour.count, 2u);
  expect_near_ms(hour.p99_ms, 10.0);
  auto day = w.summarize(kT0 - hours(24) + minutes(1), kT0 + seconds(30));
  EXPECT_EQ(day.count, 3u);
  expect_near_ms(day.p99_ms, 1000.0);
}

TEST(LatencyWindow, MinutesOlderThan24HoursAreForgotten) {
  LatencyWindow w;
  w.record(kT0, 0.5);
  // The same ring slot, one day later: the old minute is replaced.
  w.record(kT0 + hours(24), 0.001);
  auto s = w.summarize(kT0, kT0 + hours(24));
  EXPECT_EQ(s.count, 1u);
  expect_near_ms(s.p50_ms, 1.0);
  // And a record older than the ring is ignored.
  w.record(kT0 - minutes(5), 3.0);
  EXPECT_EQ(w.summarize(kT0 + minutes(1), kT0 + hours(24)).count, 1u);
}

TEST(LatencyWindow, BucketsCoverTinyAndHugeDurations) {
  EXPECT_EQ(LatencyWindow::bucket_of(0), 0);
  EXPECT_EQ(LatencyWindow::bucket_of(-1), 0);
  EXPECT_EQ(LatencyWindow::bucket_of(1e9), LatencyWindow::kBuckets - 1);
  for (double s : {0.00002, 0.0007, 0.003, 0.05, 1.5, 60.0}) {
    const double ms = LatencyWindow::bucket_value_ms(LatencyWindow::bucket_of(s));
    EXPECT_GT(ms, s * 1000 / 1.19) << s;
    EXPECT_LT(ms, s * 1000 * 1.19) << s;
  }
}

TEST(LatencyWindow, ConcurrentRecordsAreAllCounted) {
  LatencyWindow w;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&w] {
      for (int i = 0; i < 10000; ++i) w.record(kT0 + seconds(i % 120), 0.001);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(w.summarize(kT0, kT0 + minutes(2)).count, 80000u);
}

TEST(LatencyWindow, MetricsRecordsAnsweredValidationsOnly) {
  Metrics m({"t"});
  auto& validate = m.http_route(Metrics::kValidateRoute);
  m.observe_http_request(validate, "POST", 200, 0.003);
  m.observe_http_request(validate, "POST", 200, 0.003);
  m.observe_http_request(validate, "POST", 422, 0.001);  // not a decision
  m.observe_http_request("/v1/transactions", "GET", 200, 0.5);
  const auto now = Clock::now();
  auto s = m.validate_latency().summarize(now - minutes(1), now);
  EXPECT_EQ(s.count, 2u);
  expect_near_ms(s.p50_ms, 3.0);
}

}  // namespace
}  // namespace txv::metrics

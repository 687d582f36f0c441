#include "decide/backtest_jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace txv::decide {
namespace {

using std::chrono::milliseconds;

// Polls `pred` until it holds or 10 s pass.
template <class P>
bool eventually(P pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return pred();
}

BacktestRequest request() {
  BacktestRequest r;
  r.since = domain::TimePoint(milliseconds(1'000'000));
  r.until = r.since + std::chrono::hours(1);
  store::RuleRecord rule;
  rule.id = "big";
  rule.name = "big";
  rule.expression = "amount > 100";
  rule.code = "big";
  r.proposed.push_back(rule);
  return r;
}

ReplayedDecision decision(std::int64_t amount, domain::TimePoint at) {
  ReplayedDecision d;
  d.record.merchant_id = "m";
  d.record.transaction_id = "t" + std::to_string(amount);
  d.record.card.fingerprint = "f";
  d.record.amount = amount;
  d.record.currency = "USD";
  d.record.decided_at = at;
  return d;
}

TEST(BacktestJobs, AJobRunsToDoneWithItsResult) {
  const domain::TimePoint since = request().since;
  DecisionSource source = [since](domain::TimePoint, domain::TimePoint, const ReplaySink& sink) {
    std::vector<ReplayedDecision> chunk = {decision(50, since + milliseconds(1)),
                                           decision(500, since + milliseconds(2))};
    return sink(chunk);
  };
  BacktestJobs jobs({}, source, nullptr);
  auto started = jobs.start(request(), "ann");
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->status, BacktestStatus::kRunning);
  EXPECT_EQ(started->id.rfind("bt_", 0), 0U);
  EXPECT_EQ(started->id.size(), 19U);
  ASSERT_TRUE(eventually([&] { return jobs.get(started->id)->status != BacktestStatus::kRunning; }));
  auto done = *jobs.get(started->id);
  EXPECT_EQ(done.status, BacktestStatus::kDone);
  EXPECT_EQ(done.by, "ann");
  EXPECT_EQ(done.progress, 1.0);
  EXPECT_EQ(done.transactions, 2);
  ASSERT_TRUE(done.result);
  EXPECT_EQ(done.result->rules.at(0).matches_proposed, 1);
  EXPECT_TRUE(done.finished_at.has_value());
  auto cancelled = jobs.cancel(started->id);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, ErrorCode::kConflict);
  EXPECT_EQ(jobs.cancel("bt_nope").error().code, ErrorCode::kNotFound);
}

TEST(BacktestJobs, ARunningJobIsCancelledAtItsNextChunkAndTheNextOneRuns) {
  std::atomic<int> chunks{0};
  DecisionSource endless = [&chunks](domain::TimePoint since, domain::TimePoint, const ReplaySink& sink) -> Status {
    for (;;) {
      std::vector<ReplayedDecision> chunk = {decision(1, since)};
      if (auto st = sink(chunk); !st.ok()) return st;
      ++chunks;
      std::this_thread::yield();
    }
  };
  BacktestJobs jobs({}, endless, nullptr);
  auto first = jobs.start(request(), "a");
  auto second = jobs.start(request(), "b");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(eventually([&] { return chunks.load() > 3; }));
  EXPECT_EQ(jobs.get(second->id)->status, BacktestStatus::kRunning);  // queued behind the first
  auto cancelled = jobs.cancel(first->id);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, BacktestStatus::kCancelled);
  // The worker moves on to the second one (also endless): cancelling it lets the destructor join.
  const int before = chunks.load();
  ASSERT_TRUE(eventually([&] { return chunks.load() > before + 3; }));
  EXPECT_EQ(jobs.get(first->id)->status, BacktestStatus::kCancelled);
  auto listed = jobs.list();
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].id, second->id);  // newest first
}

TEST(BacktestJobs, PendingJobsAreBoundedAndOldFinishedOnesForgotten) {
  std::atomic<bool> release{false};
  DecisionSource gate = [&release](domain::TimePoint, domain::TimePoint, const ReplaySink&) -> Status {
    while (!release.load()) std::this_thread::yield();
    return Ok{};
  };
  BacktestJobsOptions options;
  options.max_pending = 2;
  options.max_kept = 1;
  BacktestJobs jobs(options, gate, nullptr);
  auto a = jobs.start(request(), "x");
  auto b = jobs.start(request(), "x");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = jobs.start(request(), "x");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kConflict);
  release = true;
  ASSERT_TRUE(eventually([&] { return jobs.list().size() == 1 && jobs.list()[0].status == BacktestStatus::kDone; }));
  EXPECT_EQ(jobs.list()[0].id, b->id);  // the older finished one was forgotten
  EXPECT_FALSE(jobs.get(a->id).has_value());
  EXPECT_TRUE(jobs.start(request(), "x").ok());
}

TEST(BacktestJobs, AFailedReplayIsReportedWithItsReason) {
  DecisionSource broken = [](domain::TimePoint, domain::TimePoint, const ReplaySink&) -> Status {
    return make_error("unavailable", "the database is unreachable");
  };
  BacktestJobs jobs({}, broken, nullptr);
  auto j = jobs.start(request(), "x");
  ASSERT_TRUE(j.ok());
  ASSERT_TRUE(eventually([&] { return jobs.get(j->id)->status != BacktestStatus::kRunning; }));
  EXPECT_EQ(jobs.get(j->id)->status, BacktestStatus::kFailed);
  EXPECT_EQ(jobs.get(j->id)->error, "the database is unreachable");
}

}  // namespace
}  // namespace txv::decide

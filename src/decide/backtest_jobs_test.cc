// BacktestJobs against a real SQLite database: jobs are rows, read back by any
// BacktestJobs on the same database (another replica), failed when their
// process stops or dies, cancellable from anywhere.
#include "decide/backtest_jobs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "decide/decide_test_support.h"
#include "domain/time.h"

namespace txv::decide {
namespace {

using std::chrono::milliseconds;
using test::TempDatabase;

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

// Reports often, so the tests see progress and cross-replica cancels quickly.
BacktestJobsOptions fast() {
  BacktestJobsOptions o;
  o.progress_interval = milliseconds(20);
  return o;
}

BacktestJob start(BacktestJobs& jobs, const std::string& by = "x") {
  auto j = block_on(jobs.start(request(), by));
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().message);
  return j.ok() ? *j : BacktestJob{};
}

BacktestJob get(BacktestJobs& jobs, const std::string& id) {
  auto j = block_on(jobs.get(id));
  EXPECT_TRUE(j.ok() && j->has_value());
  return j.ok() && *j ? **j : BacktestJob{};
}

BacktestStatus status(BacktestJobs& jobs, const std::string& id) { return get(jobs, id).status; }

// Replays decisions one at a time (in the request's range) until cancelled, counting the chunks.
DecisionSource endless(std::atomic<int>& chunks) {
  return [&chunks](domain::TimePoint, domain::TimePoint, const ReplaySink& sink) -> Status {
    for (;;) {
      std::vector<ReplayedDecision> chunk = {decision(1, request().since)};
      if (auto st = sink(chunk); !st.ok()) return st;
      ++chunks;
      std::this_thread::sleep_for(milliseconds(1));
    }
  };
}

TEST(BacktestJobs, AJobRunsToDoneAndAnotherReplicaReadsItsResult) {
  TempDatabase db;
  const domain::TimePoint since = request().since;
  DecisionSource source = [since](domain::TimePoint, domain::TimePoint, const ReplaySink& sink) {
    std::vector<ReplayedDecision> chunk = {decision(50, since + milliseconds(1)),
                                           decision(500, since + milliseconds(2))};
    return sink(chunk);
  };
  BacktestJobs jobs({}, db.db(), source, nullptr);
  BacktestJob started = start(jobs, "ann");
  EXPECT_EQ(started.status, BacktestStatus::kRunning);
  EXPECT_EQ(started.id.rfind("bt_", 0), 0U);
  EXPECT_EQ(started.id.size(), 19U);
  ASSERT_TRUE(eventually([&] { return status(jobs, started.id) != BacktestStatus::kRunning; }));
  // Another replica (another BacktestJobs on the same database) answers the same.
  BacktestJobs other({}, db.db(), source, nullptr);
  for (BacktestJobs* reader : {&jobs, &other}) {
    BacktestJob done = get(*reader, started.id);
    EXPECT_EQ(done.status, BacktestStatus::kDone);
    EXPECT_EQ(done.by, "ann");
    EXPECT_EQ(done.progress, 1.0);
    EXPECT_EQ(done.transactions, 2);
    EXPECT_EQ(done.since, started.since);
    EXPECT_TRUE(done.finished_at.has_value());
    ASSERT_TRUE(done.result_json.has_value());
    auto result = boost::json::parse(*done.result_json);
    EXPECT_EQ(result.at("rules").at(0).at("matches_proposed").as_int64(), 1);
    EXPECT_EQ(result.at("changes").at("approve->decline").as_int64(), 1);
  }
  auto cancelled = block_on(other.cancel(started.id));
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, ErrorCode::kConflict);
  EXPECT_EQ(block_on(jobs.cancel("bt_nope")).error().code, ErrorCode::kNotFound);
  auto none = block_on(jobs.get("bt_nope"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(BacktestJobs, ARunningJobIsCancelledAtItsNextChunkAndTheNextOneRuns) {
  TempDatabase db;
  std::atomic<int> chunks{0};
  BacktestJobs jobs(fast(), db.db(), endless(chunks), nullptr);
  BacktestJob first = start(jobs, "a");
  BacktestJob second = start(jobs, "b");
  ASSERT_TRUE(eventually([&] { return chunks.load() > 3; }));
  EXPECT_EQ(status(jobs, second.id), BacktestStatus::kRunning);  // queued behind the first
  auto cancelled = block_on(jobs.cancel(first.id));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, BacktestStatus::kCancelled);
  EXPECT_TRUE(cancelled->cancel_requested);
  // The worker moves on to the second one (also endless); the destructor stops it.
  const int before = chunks.load();
  ASSERT_TRUE(eventually([&] { return chunks.load() > before + 3; }));
  EXPECT_EQ(status(jobs, first.id), BacktestStatus::kCancelled);
  auto listed = block_on(jobs.list());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2U);
  EXPECT_GE((*listed)[0].created_at, (*listed)[1].created_at);  // newest first (both may share a millisecond)
  EXPECT_NE((*listed)[0].id, (*listed)[1].id);
  EXPECT_FALSE((*listed)[0].result_json.has_value());
}

TEST(BacktestJobs, ACancelOnAnotherReplicaStopsTheJobWhereItRuns) {
  TempDatabase db;
  std::atomic<int> chunks{0};
  BacktestJobsOptions options = fast();
  options.max_pending = 1;
  BacktestJobs runner(options, db.db(), endless(chunks), nullptr);
  BacktestJobs other(fast(), db.db(), endless(chunks), nullptr);
  BacktestJob job = start(runner);
  ASSERT_TRUE(eventually([&] { return chunks.load() > 3; }));
  ASSERT_TRUE(eventually([&] { return get(other, job.id).transactions > 0; }));  // progress is written
  auto busy = block_on(runner.start(request(), "x"));
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kConflict);
  auto cancelled = block_on(other.cancel(job.id));
  ASSERT_TRUE(cancelled.ok()) << cancelled.error().message;
  EXPECT_EQ(cancelled->status, BacktestStatus::kCancelled);  // at once
  // The runner notices at its next progress write and its worker becomes free.
  ASSERT_TRUE(eventually([&] { return block_on(runner.start(request(), "x")).ok(); }));
  EXPECT_EQ(status(runner, job.id), BacktestStatus::kCancelled);
}

TEST(BacktestJobs, PendingJobsAreBounded) {
  TempDatabase db;
  std::atomic<bool> release{false};
  DecisionSource gate = [&release](domain::TimePoint, domain::TimePoint, const ReplaySink&) -> Status {
    while (!release.load()) std::this_thread::sleep_for(milliseconds(1));
    return Ok{};
  };
  BacktestJobsOptions options = fast();
  options.max_pending = 2;
  BacktestJobs jobs(options, db.db(), gate, nullptr);
  BacktestJob a = start(jobs);
  BacktestJob b = start(jobs);
  auto c = block_on(jobs.start(request(), "x"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kConflict);
  release = true;
  ASSERT_TRUE(eventually([&] { return status(jobs, b.id) == BacktestStatus::kDone; }));
  EXPECT_EQ(status(jobs, a.id), BacktestStatus::kDone);
  EXPECT_TRUE(block_on(jobs.start(request(), "x")).ok());
}

TEST(BacktestJobs, AFailedReplayIsReportedWithItsReason) {
  TempDatabase db;
  DecisionSource broken = [](domain::TimePoint, domain::TimePoint, const ReplaySink&) -> Status {
    return make_error("unavailable", "the database is unreachable");
  };
  BacktestJobs jobs({}, db.db(), broken, nullptr);
  BacktestJob j = start(jobs);
  ASSERT_TRUE(eventually([&] { return status(jobs, j.id) != BacktestStatus::kRunning; }));
  EXPECT_EQ(get(jobs, j.id).status, BacktestStatus::kFailed);
  EXPECT_EQ(get(jobs, j.id).error, "the database is unreachable");
}

TEST(BacktestJobs, StopStoresTheRunningAndQueuedJobsFailed) {
  TempDatabase db;
  std::atomic<int> chunks{0};
  std::string running, queued;
  {
    BacktestJobs jobs(fast(), db.db(), endless(chunks), nullptr);
    running = start(jobs).id;
    queued = start(jobs).id;
    ASSERT_TRUE(eventually([&] { return chunks.load() > 0; }));
    jobs.stop();
    EXPECT_FALSE(block_on(jobs.start(request(), "x")).ok());
  }
  BacktestJobs after({}, db.db(), endless(chunks), nullptr);  // the restarted server
  for (const auto& id : {running, queued}) {
    BacktestJob j = get(after, id);
    EXPECT_EQ(j.status, BacktestStatus::kFailed) << id;
    EXPECT_EQ(j.error, kStoppedError);
    EXPECT_TRUE(j.finished_at.has_value());
  }
}

store::BacktestRecord orphan(const std::string& id, domain::TimePoint heartbeat) {
  store::BacktestRecord r;
  r.id = id;
  r.by = "gone";
  r.created_at = heartbeat;
  r.heartbeat_at = heartbeat;
  r.since = request().since;
  r.until = request().until;
  return r;
}

TEST(BacktestJobs, AStaleRunningJobIsAnsweredAndStoredFailedAFreshOneIsNot) {
  TempDatabase db;
  const domain::TimePoint now = domain::now_millis();
  ASSERT_TRUE(block_on(db.db().create_backtest(orphan("bt_dead", now - std::chrono::minutes(5)))).ok());
  ASSERT_TRUE(block_on(db.db().create_backtest(orphan("bt_live", now))).ok());  // another replica runs it
  std::atomic<int> chunks{0};
  BacktestJobs jobs({}, db.db(), endless(chunks), nullptr);
  BacktestJob dead = get(jobs, "bt_dead");
  EXPECT_EQ(dead.status, BacktestStatus::kFailed);
  EXPECT_EQ(dead.error, kStoppedError);
  auto stored = block_on(db.db().find_backtest("bt_dead"));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status, store::BacktestStatus::kFailed);
  EXPECT_EQ(status(jobs, "bt_live"), BacktestStatus::kRunning);
  EXPECT_EQ(block_on(jobs.cancel("bt_dead")).error().code, ErrorCode::kConflict);
  // A running job found stale by a reader stops where it (still) runs, at its next write.
  auto stop = block_on(db.db().update_backtest_progress("bt_dead", 0.5, 1, now));
  ASSERT_TRUE(stop.ok());
  EXPECT_TRUE(*stop);
}

TEST(BacktestJobs, RecoverFailsEveryRunningJobWhenTheOnlyProcessElseTheStaleOnes) {
  TempDatabase db;
  const domain::TimePoint now = domain::now_millis();
  ASSERT_TRUE(block_on(db.db().create_backtest(orphan("bt_old", now - std::chrono::minutes(5)))).ok());
  ASSERT_TRUE(block_on(db.db().create_backtest(orphan("bt_new", now))).ok());
  std::atomic<int> chunks{0};
  {
    BacktestJobs replica({}, db.db(), endless(chunks), nullptr);  // replica mode: another replica may run bt_new
    ASSERT_TRUE(replica.recover().ok());
  }
  auto find = [&](const char* id) { return (*block_on(db.db().find_backtest(id)))->status; };
  EXPECT_EQ(find("bt_old"), store::BacktestStatus::kFailed);
  EXPECT_EQ(find("bt_new"), store::BacktestStatus::kRunning);
  BacktestJobsOptions embedded;
  embedded.sole_runner = true;
  BacktestJobs restarted(embedded, db.db(), endless(chunks), nullptr);
  ASSERT_TRUE(restarted.recover().ok());
  EXPECT_EQ(find("bt_new"), store::BacktestStatus::kFailed);
  EXPECT_EQ(get(restarted, "bt_new").error, kStoppedError);
}

}  // namespace
}  // namespace txv::decide

// BacktestJobs: backtests as jobs (contract section 11): started by a request,
// run one at a time on a worker thread of their own at the lowest CPU priority
// (SCHED_IDLE; nice 19 where that is refused), polled for progress, cancellable.
//
// Jobs live in this process's memory: the last `max_kept` finished ones and
// every queued or running one. They survive nothing: a restart forgets them
// (GET answers 404), and in replica mode a job is known to the replica that
// accepted it only.
//
// Thread-safety: every member may be called from any thread; calls hold a
// mutex briefly (never across a suspension point, never while a backtest
// runs). The destructor cancels what is queued or running and joins the
// worker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "decide/backtest.h"
#include "domain/transaction.h"

namespace txv::decide {

enum class BacktestStatus { kRunning, kDone, kFailed, kCancelled };
const char* to_string(BacktestStatus s);

// A point-in-time copy of a job.
struct BacktestJob {
  std::string id;  // "bt_" + 16 hex digits
  BacktestStatus status = BacktestStatus::kRunning;
  double progress = 0;
  std::int64_t transactions = 0;
  std::shared_ptr<const BacktestResult> result;  // kDone
  std::string error;                             // kFailed: why
  std::string by;                                // the key's name
  domain::TimePoint created_at{};
  std::optional<domain::TimePoint> finished_at;
  domain::TimePoint since{};
  domain::TimePoint until{};
  std::optional<std::string> merchant_id;
};

struct BacktestJobsOptions {
  std::size_t max_kept = 100;              // finished jobs remembered (oldest forgotten first)
  std::size_t max_pending = 8;             // queued + running; more: start() answers conflict
  int nice = 19;                           // the worker thread's niceness (Linux: per thread)
  std::function<domain::TimePoint()> now;  // defaults to the system clock (ms)
};

class BacktestJobs {
 public:
  BacktestJobs(BacktestJobsOptions options, DecisionSource source, ListLookup lists);
  ~BacktestJobs();
  BacktestJobs(const BacktestJobs&) = delete;
  BacktestJobs& operator=(const BacktestJobs&) = delete;

  // Queues a backtest; answers the job (running, progress 0). Error conflict when max_pending jobs are queued or
  // running.
  Result<BacktestJob> start(BacktestRequest request, std::string by);
  std::optional<BacktestJob> get(const std::string& id) const;
  std::vector<BacktestJob> list() const;  // newest first
  // Cancels a queued or running job (it is answered cancelled at once; a running replay stops at its next chunk).
  // Errors: not_found; conflict when the job already finished.
  Result<BacktestJob> cancel(const std::string& id);

 private:
  struct Entry {
    BacktestJob job;
    BacktestRequest request;
    std::shared_ptr<BacktestControl> control;
  };
  void work();
  BacktestJob snapshot(const Entry& e) const;
  void forget_old_locked();

  BacktestJobsOptions options_;
  DecisionSource source_;
  ListLookup lists_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, Entry> jobs_;
  std::deque<std::string> queue_;   // queued ids, oldest first
  std::vector<std::string> order_;  // every kept id, oldest first
  std::size_t pending_ = 0;         // queued + running
  bool stopping_ = false;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace txv::decide

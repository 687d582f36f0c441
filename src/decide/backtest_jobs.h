// BacktestJobs: backtests as jobs (contract section 11): started by a request,
// run one at a time on a worker thread of their own at the lowest CPU priority
// (SCHED_IDLE; nice 19 where that is refused), polled for progress, cancellable.
//
// Every job is a row of the database (store::BacktestStore): get() and list()
// read it there, so a job outlives the process that ran it and, in replica
// mode, every replica answers for every job. This process keeps in memory
// only the jobs it has queued or runs (their rules and cancel flags).
//
// Progress and liveness: a reporter thread of this process (normal priority,
// so a starved worker still reports) writes the running job's progress and
// every queued job's heartbeat (heartbeat_at = now) every `progress_interval`;
// the worker writes at start and at the end. A running job whose heartbeat is
// older than `stale_after` is run by no process any more (the server stopped or
// died): every reader answers it failed with kStoppedError and stores it so
// (never a job whose owner still writes: its heartbeat is fresh). stop() (a
// graceful shutdown) stores this process's jobs failed at once; recover() at
// start-up fails the rows left running: every one when this process is the
// only one using the database (options.sole_runner: embedded SQLite), else
// the stale ones only.
//
// Cancel: a job this process runs is stopped at its next chunk; in any case
// the row is stored cancelled with cancel_requested set, and the replica that
// runs the job stops it at its next progress write (within about
// progress_interval). The first end stored wins (done, failed or cancelled).
//
// Thread-safety: every member may be called from any thread. The Tasks await
// the store and never hold the mutex across a suspension point; the worker and
// the reporter call the store with block_on (they are not I/O threads), never
// while holding the mutex. The store must outlive this object; stop() (or the
// destructor) must run before the store closes.
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
#include "store/stores.h"

namespace txv::decide {

using BacktestStatus = store::BacktestStatus;
using store::to_string;
// A point-in-time copy of a job, as stored (result_json: the result, when done).
using BacktestJob = store::BacktestRecord;

// What a job no process runs any more is answered with (status failed).
inline constexpr const char* kStoppedError = "the server running this backtest stopped";

// The result as the JSON document of contract section 11's `result`.
std::string backtest_result_json(const BacktestResult& result);

struct BacktestJobsOptions {
  std::size_t max_pending = 8;  // queued + running in this process; more: start() answers conflict
  int nice = 19;                // the worker thread's niceness (Linux: per thread)
  std::chrono::milliseconds progress_interval{1000};  // progress and heartbeat writes, at most this often
  std::chrono::milliseconds stale_after{30000};       // a running job without a heartbeat this long: failed
  bool sole_runner = false;                // this process is the only one using the database (embedded): see recover()
  std::function<domain::TimePoint()> now;  // defaults to the system clock (ms)
};

class BacktestJobs {
 public:
  // `store` must outlive this object.
  BacktestJobs(BacktestJobsOptions options, store::BacktestStore& store, DecisionSource source, ListLookup lists);
  ~BacktestJobs();  // stop()
  BacktestJobs(const BacktestJobs&) = delete;
  BacktestJobs& operator=(const BacktestJobs&) = delete;

  // Blocking (start-up only). Fails the jobs left running by processes that are gone (see the header comment).
  // Errors: the store's.
  Status recover();
  // Blocking (shutdown, before the store closes). Stops the worker and the reporter (the running replay stops at
  // its next chunk) and stores every job this process queued or ran failed (kStoppedError). Idempotent; start()
  // answers unavailable afterwards.
  void stop();

  // Stores the job (running, progress 0) and queues it. Errors: conflict when max_pending jobs are queued or
  // running here; unavailable after stop(); the store's.
  Task<Result<BacktestJob>> start(BacktestRequest request, std::string by);
  // nullopt: no such job. A stale running job is answered (and stored) failed.
  Task<Result<std::optional<BacktestJob>>> get(const std::string& id);
  // The newest `limit` jobs, newest first, without result_json.
  Task<Result<std::vector<BacktestJob>>> list(int limit = 100);
  // Cancels a running or queued job, on whichever replica runs it; answers it (cancelled). Errors: not_found;
  // conflict when the job already ended; the store's.
  Task<Result<BacktestJob>> cancel(const std::string& id);

 private:
  struct Entry {
    BacktestRequest request;
    std::shared_ptr<BacktestControl> control;
  };
  void work();
  void report();
  // Progress of the jobs this process runs (fresher than the stored one), and the stale rule. Answers whether a
  // job was found stale.
  bool refresh(BacktestJob& j, domain::TimePoint now) const;
  Task<void> store_stale(domain::TimePoint now);
  Status finish(const std::string& id, const BacktestControl& control, Result<BacktestResult> result);

  BacktestJobsOptions options_;
  store::BacktestStore& store_;
  DecisionSource source_;
  ListLookup lists_;
  mutable std::mutex mu_;
  std::condition_variable wake_;         // the worker: a job was queued, or stopping
  std::condition_variable report_wake_;  // the reporter: stopping
  std::map<std::string, Entry> jobs_;    // queued or running here
  std::deque<std::string> queue_;        // queued ids, oldest first
  std::size_t pending_ = 0;              // queued + running + being stored by start()
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread worker_;    // started once everything above exists
  std::thread reporter_;  // last
};

}  // namespace txv::decide

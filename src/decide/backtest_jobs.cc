#include "decide/backtest_jobs.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <exception>
#include <utility>

#include "common/async.h"
#include "common/hex.h"
#include "domain/time.h"

namespace txv::decide {

namespace {

namespace json = boost::json;

std::string new_job_id() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  return "bt_" + hex_encode(raw, sizeof raw);
}

json::value optional_ratio(const std::optional<double>& r) {
  if (!r) return nullptr;
  return *r;
}

json::value matches(std::int64_t n) {
  if (n < 0) return nullptr;  // the rule is not in that set
  return n;
}

json::object outcome_table(const OutcomeTable& table) {
  json::object out;
  for (auto d : {domain::Decision::kApprove, domain::Decision::kDecline, domain::Decision::kReview}) {
    const OutcomeTotals& t = table[static_cast<std::size_t>(d)];
    json::object amount;
    for (const auto& [currency, sum] : t.amount) amount[currency] = sum;
    out[domain::to_string(d)] = json::object{{"count", t.count}, {"amount", std::move(amount)}};
  }
  return out;
}

json::object label_totals(const LabelTotals& l) {
  return {{"total", l.total}, {"stopped_live", l.stopped_live}, {"stopped_proposed", l.stopped_proposed}};
}

// Blocks the calling thread (the worker, the reporter, stop()): never an I/O thread.
template <class T>
T await_blocking(Task<T> task) {
  try {
    return block_on(std::move(task));
  } catch (const std::exception& e) {
    return T(make_error("internal", std::string("backtest store call failed: ") + e.what()));
  }
}

}  // namespace

std::string backtest_result_json(const BacktestResult& r) {
  json::object changes;
  for (const auto& [change, n] : r.changes) changes[change] = n;
  json::array rules;
  for (const auto& h : r.rules) {
    json::object o;
    if (!h.rule_id.empty()) o["rule_id"] = h.rule_id;
    o["name"] = h.name;
    o["matches_live"] = matches(h.matches_live);
    o["matches_proposed"] = matches(h.matches_proposed);
    rules.emplace_back(std::move(o));
  }
  json::object samples;
  for (const auto& [change, ids] : r.samples) {
    json::array a;
    for (const auto& id : ids)
      a.emplace_back(json::object{{"merchant_id", id.merchant_id}, {"transaction_id", id.transaction_id}});
    samples[change] = std::move(a);
  }
  json::object out{{"outcomes", json::object{{"actual", outcome_table(r.actual)},
                                             {"live", outcome_table(r.live)},
                                             {"proposed", outcome_table(r.proposed)}}},
                   {"changes", std::move(changes)},
                   {"rules", std::move(rules)},
                   {"labels", json::object{{"fraud", label_totals(r.fraud)},
                                           {"not_fraud", label_totals(r.not_fraud)},
                                           {"precision_live", optional_ratio(r.precision_live)},
                                           {"precision_proposed", optional_ratio(r.precision_proposed)},
                                           {"recall_live", optional_ratio(r.recall_live)},
                                           {"recall_proposed", optional_ratio(r.recall_proposed)}}},
                   {"samples", std::move(samples)}};
  return json::serialize(out);
}

BacktestJobs::BacktestJobs(BacktestJobsOptions options, store::BacktestStore& store, DecisionSource source,
                           ListLookup lists)
    : options_(std::move(options)), store_(store), source_(std::move(source)), lists_(std::move(lists)) {
  if (!options_.now) options_.now = domain::now_millis;
  worker_ = std::thread([this] { work(); });
  reporter_ = std::thread([this] { report(); });
}

BacktestJobs::~BacktestJobs() { stop(); }

Status BacktestJobs::recover() {
  const domain::TimePoint now = options_.now();
  Result<std::int64_t> failed =
      options_.sole_runner
          ? await_blocking(store_.fail_running_backtests(now, kStoppedError))
          : await_blocking(store_.fail_stale_backtests(now - options_.stale_after, now, kStoppedError));
  if (!failed.ok()) return failed.error();
  return Ok{};
}

void BacktestJobs::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    for (auto& [id, e] : jobs_) e.control->cancel = true;
  }
  wake_.notify_all();
  report_wake_.notify_all();
  worker_.join();  // the running job (if any) stored failed
  reporter_.join();
  std::map<std::string, Entry> left;
  {
    std::lock_guard lock(mu_);
    left.swap(jobs_);
    queue_.clear();
  }
  for (const auto& [id, e] : left) (void)finish(id, *e.control, make_error("conflict", "cancelled"));
}

Task<Result<BacktestJob>> BacktestJobs::start(BacktestRequest request, std::string by) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) co_return make_error("unavailable", "the server is stopping");
    if (pending_ >= options_.max_pending) {
      co_return make_error("conflict", std::to_string(pending_) +
                                           " backtests are queued or running; wait for one to finish or cancel one");
    }
    ++pending_;
  }
  BacktestJob job;
  job.id = new_job_id();
  job.status = BacktestStatus::kRunning;
  job.by = std::move(by);
  job.created_at = options_.now();
  job.heartbeat_at = job.created_at;
  job.since = request.since;
  job.until = request.until;
  job.merchant_id = request.merchant_id;
  Status stored = co_await store_.create_backtest(job);
  {
    std::lock_guard lock(mu_);
    if (stored.ok() && stopping_) stored = make_error("unavailable", "the server is stopping");
    if (!stored.ok()) {
      --pending_;
    } else {
      jobs_.emplace(job.id, Entry{std::move(request), std::make_shared<BacktestControl>()});
      queue_.push_back(job.id);
    }
  }
  if (!stored.ok()) {
    // Stored but never queued (stopping): store it failed, so it is not left running.
    if (stored.error().code == ErrorCode::kUnavailable) {
      BacktestJob failed = job;
      failed.status = BacktestStatus::kFailed;
      failed.error = kStoppedError;
      failed.finished_at = options_.now();
      (void)co_await store_.finish_backtest(failed);
    }
    co_return std::move(stored).take_error();
  }
  wake_.notify_one();
  co_return job;
}

bool BacktestJobs::refresh(BacktestJob& j, domain::TimePoint now) const {
  if (j.status != BacktestStatus::kRunning) return false;
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(j.id); it != jobs_.end()) {
      const BacktestControl& c = *it->second.control;
      j.progress = std::max(j.progress, c.progress.load(std::memory_order_relaxed));
      j.transactions = std::max(j.transactions, c.transactions.load(std::memory_order_relaxed));
    }
  }
  if (j.heartbeat_at >= now - options_.stale_after) return false;
  j.status = BacktestStatus::kFailed;
  j.error = kStoppedError;
  j.finished_at = now;
  return true;
}

Task<void> BacktestJobs::store_stale(domain::TimePoint now) {
  // Conditional on the heartbeat still being old: a job whose owner wrote meanwhile stays running.
  (void)co_await store_.fail_stale_backtests(now - options_.stale_after, now, kStoppedError);
}

Task<Result<std::optional<BacktestJob>>> BacktestJobs::get(const std::string& id) {
  auto found = co_await store_.find_backtest(id);
  if (!found.ok() || !*found) co_return std::move(found);
  const domain::TimePoint now = options_.now();
  if (refresh(**found, now)) co_await store_stale(now);
  co_return std::move(found);
}

Task<Result<std::vector<BacktestJob>>> BacktestJobs::list(int limit) {
  auto listed = co_await store_.list_backtests(limit);
  if (!listed.ok()) co_return std::move(listed);
  const domain::TimePoint now = options_.now();
  bool stale = false;
  for (auto& j : *listed) stale = refresh(j, now) || stale;
  if (stale) co_await store_stale(now);
  co_return std::move(listed);
}

Task<Result<BacktestJob>> BacktestJobs::cancel(const std::string& id) {
  auto found = co_await get(id);
  if (!found.ok()) co_return found.error();
  if (!*found) co_return make_error("not_found", "no such backtest");
  if ((*found)->status != BacktestStatus::kRunning) {
    co_return make_error("conflict", std::string("the backtest is already ") + to_string((*found)->status));
  }
  {
    std::lock_guard lock(mu_);
    if (auto it = jobs_.find(id); it != jobs_.end()) it->second.control->cancel = true;  // ours: stop it now
  }
  co_return co_await store_.cancel_backtest(id, options_.now());
}

Status BacktestJobs::finish(const std::string& id, const BacktestControl& control, Result<BacktestResult> result) {
  BacktestJob job;
  job.id = id;
  job.transactions = control.transactions.load();
  job.progress = control.progress.load();
  job.finished_at = options_.now();
  if (result.ok()) {
    job.status = BacktestStatus::kDone;
    job.progress = 1;
    job.transactions = result->transactions;
    job.result_json = backtest_result_json(*result);
  } else if (control.cancel.load()) {
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    // Cancelled by a user: the row already says so (this write changes nothing). Stopped with the server: failed.
    job.status = stopping ? BacktestStatus::kFailed : BacktestStatus::kCancelled;
    job.error = stopping ? kStoppedError : "";
  } else {
    job.status = BacktestStatus::kFailed;
    job.error = result.error().message;
  }
  auto stored = await_blocking(store_.finish_backtest(job));
  if (!stored.ok()) return stored.error();
  return Ok{};
}

void BacktestJobs::report() {
  for (;;) {
    std::vector<std::pair<std::string, std::shared_ptr<BacktestControl>>> mine;
    {
      std::unique_lock lock(mu_);
      report_wake_.wait_for(lock, options_.progress_interval, [this] { return stopping_; });
      if (stopping_) return;
      for (const auto& [id, e] : jobs_) mine.emplace_back(id, e.control);
    }
    for (const auto& [id, control] : mine) {
      auto stop = await_blocking(
          store_.update_backtest_progress(id, control->progress.load(), control->transactions.load(), options_.now()));
      if (stop.ok() && *stop) control->cancel = true;  // cancelled (maybe on another replica), or found stale
    }
  }
}

void BacktestJobs::work() {
  // Backtests take what CPU the decisions leave: SCHED_IDLE (a runnable request thread preempts it at once, where
  // nice 19 alone still let it hold a core for a scheduler slice), and the lowest nice where that is refused. For this
  // thread only; the replay's reader thread inherits both. Heartbeats are the reporter's (normal priority), so a
  // starved replay is never taken for a dead one.
  const sched_param idle{};
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0) {
    (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice);
  }
  for (;;) {
    std::string id;
    BacktestRequest request;
    std::shared_ptr<BacktestControl> control;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // stop() stores what is left
      id = queue_.front();
      queue_.pop_front();
      Entry& e = jobs_.at(id);
      control = e.control;
      request = std::move(e.request);
      e.request = BacktestRequest{};  // the rules are needed by the replay only
    }
    Result<BacktestResult> result = make_error("conflict", "cancelled");
    if (!control->cancel.load()) {
      // At start: a heartbeat, and a cancel requested while the job was queued (maybe on another replica).
      auto stop = await_blocking(store_.update_backtest_progress(id, 0, 0, options_.now()));
      if (stop.ok() && *stop) control->cancel = true;
      if (!control->cancel.load()) result = run_backtest(request, source_, lists_, *control);
    }
    request = BacktestRequest{};
    // Not stored (the database is unreachable): the row keeps running without a heartbeat, so readers answer it
    // failed once it is stale.
    (void)finish(id, *control, std::move(result));
    std::lock_guard lock(mu_);
    jobs_.erase(id);
    --pending_;
  }
}

}  // namespace txv::decide

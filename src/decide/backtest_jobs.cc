#include "decide/backtest_jobs.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "common/hex.h"
#include "domain/time.h"

namespace txv::decide {

const char* to_string(BacktestStatus s) {
  switch (s) {
    case BacktestStatus::kRunning:
      return "running";
    case BacktestStatus::kDone:
      return "done";
    case BacktestStatus::kFailed:
      return "failed";
    case BacktestStatus::kCancelled:
      return "cancelled";
  }
  return "failed";
}

namespace {

std::string new_job_id() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  return "bt_" + hex_encode(raw, sizeof raw);
}

}  // namespace

BacktestJobs::BacktestJobs(BacktestJobsOptions options, DecisionSource source, ListLookup lists)
    : options_(std::move(options)), source_(std::move(source)), lists_(std::move(lists)) {
  if (!options_.now) options_.now = domain::now_millis;
  worker_ = std::thread([this] { work(); });
}

BacktestJobs::~BacktestJobs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, e] : jobs_) e.control->cancel = true;
  }
  wake_.notify_all();
  worker_.join();
}

Result<BacktestJob> BacktestJobs::start(BacktestRequest request, std::string by) {
  std::lock_guard lock(mu_);
  if (pending_ >= options_.max_pending) {
    return make_error("conflict", std::to_string(pending_) +
                                      " backtests are queued or running; wait for one to finish or cancel one");
  }
  Entry e;
  e.job.id = new_job_id();
  e.job.by = std::move(by);
  e.job.created_at = options_.now();
  e.job.since = request.since;
  e.job.until = request.until;
  e.job.merchant_id = request.merchant_id;
  e.request = std::move(request);
  e.control = std::make_shared<BacktestControl>();
  const std::string id = e.job.id;
  BacktestJob answer = snapshot(e);
  jobs_.emplace(id, std::move(e));
  order_.push_back(id);
  queue_.push_back(id);
  ++pending_;
  wake_.notify_one();
  return answer;
}

std::optional<BacktestJob> BacktestJobs::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return snapshot(it->second);
}

std::vector<BacktestJob> BacktestJobs::list() const {
  std::lock_guard lock(mu_);
  std::vector<BacktestJob> out;
  out.reserve(order_.size());
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) out.push_back(snapshot(jobs_.at(*it)));
  return out;
}

Result<BacktestJob> BacktestJobs::cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return make_error("not_found", "no such backtest");
  Entry& e = it->second;
  if (e.job.status != BacktestStatus::kRunning) {
    return make_error("conflict", std::string("the backtest is already ") + to_string(e.job.status));
  }
  e.control->cancel = true;
  e.job.status = BacktestStatus::kCancelled;
  e.job.finished_at = options_.now();
  return snapshot(e);
}

BacktestJob BacktestJobs::snapshot(const Entry& e) const {
  BacktestJob j = e.job;
  if (j.status == BacktestStatus::kRunning) {
    j.progress = e.control->progress.load(std::memory_order_relaxed);
    j.transactions = e.control->transactions.load(std::memory_order_relaxed);
  }
  return j;
}

void BacktestJobs::forget_old_locked() {
  std::size_t finished = 0;
  for (const auto& id : order_) finished += jobs_.at(id).job.status != BacktestStatus::kRunning ? 1 : 0;
  for (auto it = order_.begin(); it != order_.end() && finished > options_.max_kept;) {
    if (jobs_.at(*it).job.status == BacktestStatus::kRunning) {
      ++it;
      continue;
    }
    jobs_.erase(*it);
    it = order_.erase(it);
    --finished;
  }
}

void BacktestJobs::work() {
  // Backtests take what CPU the decisions leave: SCHED_IDLE (a runnable request thread preempts it at once, where
  // nice 19 alone still let it hold a core for a scheduler slice), and the lowest nice where that is refused. For this
  // thread only; the replay's reader thread inherits both.
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
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      Entry& e = jobs_.at(id);
      control = e.control;
      if (control->cancel) {  // cancelled while queued
        --pending_;
        forget_old_locked();
        continue;
      }
      request = e.request;
    }
    Result<BacktestResult> result = run_backtest(request, source_, lists_, *control);
    std::lock_guard lock(mu_);
    --pending_;
    Entry& e = jobs_.at(id);
    e.request = BacktestRequest{};  // the rules are not needed any more
    e.job.transactions = control->transactions.load();
    e.job.progress = control->progress.load();
    if (e.job.status == BacktestStatus::kRunning) {  // not cancelled meanwhile
      e.job.finished_at = options_.now();
      if (result.ok()) {
        e.job.status = BacktestStatus::kDone;
        e.job.progress = 1;
        e.job.result = std::make_shared<const BacktestResult>(std::move(result).value());
      } else {
        e.job.status = BacktestStatus::kFailed;
        e.job.error = result.error().message;
      }
    }
    forget_old_locked();
  }
}

}  // namespace txv::decide

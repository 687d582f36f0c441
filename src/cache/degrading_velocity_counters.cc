#include "cache/degrading_velocity_counters.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <vector>

namespace txv::cache {

struct DegradingVelocityCounters::Pending {
  VelocityEventInput input;
  std::vector<VelocityQuery> queries;  // the windows live then: the primary keeps what they need
  bool cancelled = false;              // under mu_
  bool replayed = false;               // under mu_
  VelocityTicket primary;              // once replayed; under mu_
};

struct DegradingVelocityCounters::RoutedTicket final : VelocityTicketState {
  VelocityTicket primary;            // answered by the primary
  std::shared_ptr<Pending> pending;  // answered by the fallback: queued for the primary
};

struct RecoveryDone {
  std::promise<void> done;
};

DegradingVelocityCounters::DegradingVelocityCounters(VelocityCounters& primary, VelocityCounters& fallback,
                                                     DegradingVelocityCountersOptions options)
    : primary_(primary), fallback_(fallback), options_(std::move(options)) {}

DegradingVelocityCounters::~DegradingVelocityCounters() { stop(); }

bool DegradingVelocityCounters::degraded() const {
  std::lock_guard lock(mu_);
  return degraded_;
}

std::size_t DegradingVelocityCounters::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void DegradingVelocityCounters::enter_degraded_locked() {
  if (degraded_) return;
  degraded_ = true;
  if (options_.on_state) options_.on_state(true);
}

void DegradingVelocityCounters::start_recovery_locked() {
  if (recovering_ || stopped_) return;
  recovering_ = true;
  recovery_done_ = std::make_shared<RecoveryDone>();
  asio::co_spawn(options_.executor, recover(), asio::detached);
}

Task<Result<VelocityRead>> DegradingVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                      std::span<const VelocityQuery> queries) {
  bool use_primary = false;
  {
    std::lock_guard lock(mu_);
    use_primary = !degraded_;
  }
  if (use_primary) {
    auto read = co_await primary_.read_and_record(input, queries);
    if (read.ok()) {
      auto routed = std::make_shared<RoutedTicket>();
      routed->primary = read->ticket;
      read->ticket.state = std::move(routed);
      co_return read;
    }
    if (read.error().code != ErrorCode::kUnavailable) co_return read;
    if (options_.on_error) options_.on_error();
    std::lock_guard lock(mu_);
    enter_degraded_locked();
    start_recovery_locked();
  }
  auto read = co_await fallback_.read_and_record(input, queries);
  if (!read.ok()) co_return read;
  auto pending = std::make_shared<Pending>();
  pending->input = input;
  pending->queries.assign(queries.begin(), queries.end());
  auto routed = std::make_shared<RoutedTicket>();
  routed->pending = pending;
  {
    std::lock_guard lock(mu_);
    read->ticket.id = next_id_++;
    queue_.push_back(std::move(pending));
    if (queue_.size() > options_.max_pending) {
      queue_.pop_front();
      if (options_.on_error) options_.on_error();
    }
    // Normally already running; after a recovery that finished while this call was in flight, start another.
    start_recovery_locked();
  }
  read->ticket.state = std::move(routed);
  co_return read;
}

Task<Status> DegradingVelocityCounters::cancel(const VelocityTicket& ticket) {
  auto* routed = dynamic_cast<RoutedTicket*>(ticket.state.get());
  if (ticket.id == 0 || routed == nullptr) co_return Ok{};
  if (!routed->pending) co_return co_await primary_.cancel(routed->primary);
  VelocityTicket replayed;
  {
    std::lock_guard lock(mu_);
    if (!routed->pending->replayed) {
      routed->pending->cancelled = true;  // the replay skips it
      co_return Ok{};
    }
    replayed = routed->pending->primary;
  }
  co_return co_await replay_target().cancel(replayed);
}

Task<void> DegradingVelocityCounters::recover() {
  std::shared_ptr<RecoveryDone> done;
  {
    std::lock_guard lock(mu_);
    done = recovery_done_;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  bool wait_first = true;
  for (;;) {
    if (wait_first) {
      timer.expires_after(options_.retry_interval);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    std::shared_ptr<Pending> next;
    {
      std::lock_guard lock(mu_);
      if (stopped_) break;
      while (!queue_.empty() && queue_.front()->cancelled) queue_.pop_front();
      if (queue_.empty()) {
        if (degraded_) {
          degraded_ = false;
          if (options_.on_state) options_.on_state(false);
        }
        recovering_ = false;
        break;
      }
      next = queue_.front();
    }
    auto replayed = co_await replay_target().read_and_record(next->input, next->queries);
    std::lock_guard lock(mu_);
    if (replayed.ok()) {
      next->replayed = true;
      next->primary = replayed->ticket;
      if (!queue_.empty() && queue_.front() == next) queue_.pop_front();
      wait_first = false;
    } else if (replayed.error().code == ErrorCode::kUnavailable) {
      if (options_.on_error) options_.on_error();
      wait_first = true;
    } else {
      // The primary refuses this event for good (invalid input): it cannot be replayed.
      if (!queue_.empty() && queue_.front() == next) queue_.pop_front();
      if (options_.on_error) options_.on_error();
      wait_first = false;
    }
  }
  done->done.set_value();
}

void DegradingVelocityCounters::stop() {
  std::shared_ptr<RecoveryDone> done;
  bool running = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    running = recovering_;
    done = recovery_done_;
  }
  if (running && done) done->done.get_future().wait();
}

}  // namespace txv::cache

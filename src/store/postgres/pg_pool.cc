#include "store/postgres/pg_pool.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>

namespace txv::store::pg {

Pool::Pool(asio::io_context& io, ConnectConfig config, int size, std::chrono::milliseconds backoff_max)
    : io_(io), config_(std::move(config)), size_(std::max(size, 1)), backoff_max_(backoff_max) {}

Pool::~Pool() { idle_.clear(); }

void Pool::publish() {
  idle_count_.store(static_cast<int>(idle_.size()));
  in_use_count_.store(in_use_);
}

void Pool::note_failure(const Error& e) {
  ++failures_;
  auto backoff = std::chrono::milliseconds(50) * (1LL << std::min(failures_ - 1, 10));
  down_until_ = Clock::now() + std::min<std::chrono::milliseconds>(backoff, backoff_max_);
  last_error_ = e.message;
}

void Pool::wake_one() {
  if (waiters_.empty()) return;
  Waiter* w = waiters_.front();
  waiters_.pop_front();
  w->woken = true;
  w->timer.cancel();
}

Task<Result<Pool::Lease>> Pool::acquire(Clock::time_point deadline) {
  for (;;) {
    if (closed_) co_return make_error("unavailable", "database is closed");
    while (!idle_.empty()) {
      std::unique_ptr<Connection> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->reusable()) {
        ++in_use_;
        publish();
        co_return Lease(this, std::move(c));
      }
      --open_;
      publish();
    }
    if (open_ < size_) {
      if (Clock::now() < down_until_) {
        wake_one();  // a waiter woken for this slot answers at once too
        co_return make_error("unavailable", "postgres: " + config_.target + " is unavailable: " + last_error_);
      }
      ++open_;
      ++in_use_;
      publish();
      auto c = co_await Connection::open(io_, config_, deadline);
      if (!c.ok()) {
        --open_;
        --in_use_;
        note_failure(c.error());
        publish();
        wake_one();  // it finds the backoff (or a slot) and answers at once
        co_return c.error();
      }
      failures_ = 0;
      down_until_ = {};
      if (closed_) {
        --open_;
        --in_use_;
        publish();
        co_return make_error("unavailable", "database is closed");
      }
      co_return Lease(this, std::move(*c));
    }
    if (Clock::now() >= deadline) break;
    Waiter w(io_, deadline);
    auto it = waiters_.insert(waiters_.end(), &w);
    boost::system::error_code ec;
    co_await w.timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (w.conn) co_return Lease(this, std::move(w.conn));  // in_use carried over by release()
    if (!w.woken) {
      waiters_.erase(it);
      break;  // deadline
    }
  }
  co_return make_error("unavailable", "postgres: no database connection became free in time");
}

void Pool::release(std::unique_ptr<Connection> conn) {
  if (closed_ || conn->broken() || !conn->reusable()) {
    conn.reset();
    --open_;
    --in_use_;
    publish();
    wake_one();  // a slot is free: the waiter opens a connection
    return;
  }
  if (!waiters_.empty()) {
    Waiter* w = waiters_.front();
    waiters_.pop_front();
    w->woken = true;
    w->conn = std::move(conn);
    w->timer.cancel();
    return;
  }
  --in_use_;
  idle_.push_back(std::move(conn));
  publish();
}

Task<Status> Pool::warm_up(Clock::time_point deadline, bool retry) {
  auto backoff = std::chrono::milliseconds(100);
  const auto started = Clock::now();
  std::string last = "postgres: cannot connect to " + config_.target;
  for (;;) {
    if (closed_) co_return make_error("unavailable", "database is closed");
    auto c = co_await Connection::open(io_, config_, deadline);
    if (c.ok()) {
      ++open_;
      idle_.push_back(std::move(*c));
      failures_ = 0;
      down_until_ = {};
      publish();
      co_return Ok{};
    }
    last = c.error().message;
    if (!retry) {
      note_failure(c.error());
      break;
    }
    // Keep trying until the budget is spent: the last attempt is at its end.
    const auto now = Clock::now();
    if (now >= deadline) break;
    asio::steady_timer t(io_, std::min<Clock::duration>(backoff, deadline - now));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  if (!retry) co_return make_error("unavailable", last);
  const auto tried = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  co_return make_error("unavailable", last + " (retried for " + std::to_string(tried.count() / 1000) + "." +
                                          std::to_string(tried.count() % 1000 / 100) + " s)");
}

void Pool::close() {
  closed_ = true;
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
  while (!waiters_.empty()) wake_one();
  publish();
}

}  // namespace txv::store::pg

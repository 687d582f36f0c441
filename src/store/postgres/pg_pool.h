// A bounded pool of pipelined PostgreSQL connections (pg_connection.h).
//
// At most `size` connections are open (idle, leased, or being opened). A
// caller that finds none idle opens one if the bound allows, else suspends (a
// timer, no thread) until a connection is released to it or its deadline
// passes. A released connection that broke, or is left inside a transaction,
// is closed and its slot freed. An idle connection is probed before reuse
// (input pending on an idle connection means the server ended the session) and
// dropped if unhealthy.
//
// Outages: when opening a connection fails, further opens are refused for a
// backoff period (50 ms doubling up to backoff_max) during which acquire()
// answers "unavailable" at once; after it, the next acquire tries again. So a
// call during an outage answers quickly and a recovered server is used as soon
// as the backoff allows.
//
// Thread-safety: everything except stats() runs on the pool's io_context
// thread (one thread); stats() may be called from any thread. Lifetime: the
// pool outlives its leases; close() (on the io thread) closes idle connections
// and refuses later acquires.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "common/async.h"
#include "common/result.h"
#include "store/postgres/pg_connection.h"

namespace txv::store::pg {

class Pool {
 public:
  struct Stats {
    int idle = 0;
    int in_use = 0;  // leased or being opened
  };

  // A leased connection; returns it to the pool when destroyed (on the io thread).
  class Lease {
   public:
    Lease() = default;
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&& o) noexcept {
      if (this != &o) {
        release();
        pool_ = o.pool_;
        conn_ = std::move(o.conn_);
        o.pool_ = nullptr;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { release(); }
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }
    void release() {
      if (pool_ != nullptr && conn_) pool_->release(std::move(conn_));
      pool_ = nullptr;
    }

   private:
    Pool* pool_ = nullptr;
    std::unique_ptr<Connection> conn_;
  };

  Pool(asio::io_context& io, ConnectConfig config, int size, std::chrono::milliseconds backoff_max);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection by `deadline`, or "unavailable".
  Task<Result<Lease>> acquire(Clock::time_point deadline);
  // Start-up: opens one connection, retrying with backoff until `deadline`
  // (once only unless `retry`); "unavailable" naming the server and the last
  // failure if none succeeded.
  Task<Status> warm_up(Clock::time_point deadline, bool retry = true);
  void close();
  Stats stats() const { return Stats{idle_count_.load(), in_use_count_.load()}; }
  const ConnectConfig& config() const { return config_; }
  int size() const { return size_; }

 private:
  struct Waiter {
    explicit Waiter(asio::io_context& io, Clock::time_point deadline) : timer(io, deadline) {}
    asio::steady_timer timer;
    std::unique_ptr<Connection> conn;  // handed over by release()
    bool woken = false;
  };

  void release(std::unique_ptr<Connection> conn);
  void wake_one();
  void note_failure(const Error& e);
  void publish();

  asio::io_context& io_;
  ConnectConfig config_;
  const int size_;
  const std::chrono::milliseconds backoff_max_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::list<Waiter*> waiters_;
  int open_ = 0;    // idle + leased + being opened
  int in_use_ = 0;  // leased + being opened
  bool closed_ = false;
  int failures_ = 0;
  Clock::time_point down_until_{};
  std::string last_error_;
  std::atomic<int> idle_count_{0};
  std::atomic<int> in_use_count_{0};
};

}  // namespace txv::store::pg

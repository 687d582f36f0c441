// A fixed pool of read-only SQLite connections. In WAL mode readers run
// concurrently with the writer and see the last committed state.
//
// Thread-safety: every method may be called from any thread. A Lease gives its
// holder exclusive use of one connection until the Lease is destroyed.
// Lifetime: close() refuses new leases ("unavailable"), waits until every
// outstanding Lease is returned, then closes the connections. Leases must not
// outlive the pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/sqlite/connection.h"

namespace txv::store::sqlite {

class ReadPool {
 public:
  class Lease {
   public:
    Lease(ReadPool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& conn() { return *conn_; }

   private:
    ReadPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  struct Stats {
    int idle = 0;
    int in_use = 0;
  };

  // Opens `size` (at least 1) read-only connections to an existing database.
  static Result<std::unique_ptr<ReadPool>> open(const std::string& path, int size,
                                                std::chrono::milliseconds busy_timeout);
  ~ReadPool() { close(); }

  // Waits up to `timeout` for a free connection; "unavailable" on timeout or
  // once closed.
  Result<Lease> acquire(std::chrono::milliseconds timeout);
  Stats stats() const;
  void close();

 private:
  ReadPool() = default;
  void release(std::unique_ptr<Connection> conn);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int in_use_ = 0;
  bool closed_ = false;
};

}  // namespace txv::store::sqlite

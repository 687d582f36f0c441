#include "store/sqlite/read_pool.h"

#include <sqlite3.h>

#include <algorithm>

namespace txv::store::sqlite {

ReadPool::Lease::~Lease() {
  if (conn_) pool_->release(std::move(conn_));
}

Result<std::unique_ptr<ReadPool>> ReadPool::open(const std::string& path, int size,
                                                 std::chrono::milliseconds busy_timeout) {
  std::unique_ptr<ReadPool> pool(new ReadPool());
  for (int i = 0; i < std::max(size, 1); ++i) {
    auto conn = Connection::open(path, SQLITE_OPEN_READONLY, busy_timeout);
    if (!conn.ok()) return conn.error();
    pool->idle_.push_back(std::move(*conn));
  }
  return pool;
}

Result<ReadPool::Lease> ReadPool::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (!cv_.wait_for(lk, timeout, [&] { return closed_ || !idle_.empty(); })) {
    return make_error("unavailable", "no database connection free within the busy timeout");
  }
  if (closed_) return make_error("unavailable", "database is closed");
  auto conn = std::move(idle_.back());
  idle_.pop_back();
  ++in_use_;
  return Lease(this, std::move(conn));
}

void ReadPool::release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lk(mu_);
    idle_.push_back(std::move(conn));
    --in_use_;
  }
  cv_.notify_all();
}

ReadPool::Stats ReadPool::stats() const {
  std::lock_guard lk(mu_);
  return Stats{closed_ ? 0 : static_cast<int>(idle_.size()), in_use_};
}

void ReadPool::close() {
  std::vector<std::unique_ptr<Connection>> conns;
  {
    std::unique_lock lk(mu_);
    closed_ = true;
    cv_.notify_all();
    cv_.wait(lk, [&] { return in_use_ == 0; });
    conns.swap(idle_);
  }
  conns.clear();  // closes outside the lock
}

}  // namespace txv::store::sqlite

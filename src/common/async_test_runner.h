// Test helper: drives Task-returning interfaces from plain test code.
//
// An io_context run by its own threads (two by default, so completions really
// arrive from elsewhere than the caller) and kept alive by a work guard.
// run() co_spawns one Task and blocks the (test) thread until its result;
// spawn() starts a coroutine and returns at once. Header-only; for tests.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/async.h"

namespace txv::testing {

class AsyncRunner {
 public:
  explicit AsyncRunner(int threads = 2) : guard_(asio::make_work_guard(io_)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  // Waits for every spawned coroutine to finish.
  ~AsyncRunner() {
    guard_.reset();
    for (auto& t : threads_) t.join();
  }
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  template <class T>
  T run(Task<T> task) {
    // co_spawn needs a default-constructible result (Result<T> is not).
    auto wrap = [](Task<T> t) -> Task<std::optional<T>> { co_return std::optional<T>(co_await std::move(t)); };
    return std::move(*asio::co_spawn(io_, wrap(std::move(task)), asio::use_future).get());
  }
  // `f` is a callable returning Task<void>; it is kept alive until it ends.
  template <class F>
  void spawn(F f) {
    asio::co_spawn(io_, std::move(f), asio::detached);
  }
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

// Polls `done` until it holds or `limit` passes; answers whether it held. For
// waiting on other threads without sleeping as synchronisation.
template <class F>
bool wait_until(F done, std::chrono::seconds limit = std::chrono::seconds(120)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Suspends the calling coroutine until `done()` holds, polling on its own executor: a stand-in for a slow store
// call. Never blocks the thread.
template <class F>
Task<void> suspend_until(F done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!done()) {
    timer.expires_after(std::chrono::microseconds(200));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace txv::testing

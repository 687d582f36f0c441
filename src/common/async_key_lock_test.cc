#include "common/async_key_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/async_test_runner.h"

namespace txv {
namespace {

using testing::AsyncRunner;
using testing::wait_until;

Task<void> until_open(const std::atomic<bool>& open) {
  co_await testing::suspend_until([&open] { return open.load(); });
}

// One thread only: while the holder is suspended (awaiting), every waiter must be suspended too, not parked on the
// thread; otherwise the holder could never resume and nothing would finish. Waiters resume exactly once each, in
// order of arrival, one at a time.
TEST(AsyncKeyLock, WaitersAreSuspendedNotParkedAndResumeOnceEachInArrivalOrder) {
  constexpr int kWaiters = 50;
  AsyncKeyLock lock;
  AsyncRunner runner(1);
  std::atomic<bool> open{false};
  std::atomic<int> inside{0}, max_inside{0}, finished{0};
  std::mutex mu;
  std::vector<int> order;
  auto critical = [&](int id) -> Task<void> {
    const int now = ++inside;
    int seen = max_inside.load();
    while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
    }
    {
      std::lock_guard g(mu);
      order.push_back(id);
    }
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);  // suspends while holding
    --inside;
  };
  runner.spawn([&]() -> Task<void> {
    auto guard = co_await lock.lock("m-t1");
    co_await critical(-1);
    co_await until_open(open);
    ++finished;
  });
  ASSERT_TRUE(wait_until([&] { return lock.held() == 1; }));
  for (int i = 0; i < kWaiters; ++i) {
    runner.spawn([&, i]() -> Task<void> {
      auto guard = co_await lock.lock("m-t1");
      co_await critical(i);
      ++finished;
    });
    ASSERT_TRUE(wait_until([&] { return lock.waiting() == static_cast<std::size_t>(i + 1); }));  // arrived, queued
  }
  EXPECT_EQ(finished.load(), 0);
  open = true;
  ASSERT_TRUE(wait_until([&] { return finished.load() == kWaiters + 1; }));
  std::vector<int> want{-1};
  for (int i = 0; i < kWaiters; ++i) want.push_back(i);
  std::lock_guard g(mu);
  EXPECT_EQ(order, want);
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(lock.held(), 0u);
  EXPECT_EQ(lock.waiting(), 0u);
}

// A waiter resumes on its own executor (here: another io_context on another thread), not on the releaser's.
TEST(AsyncKeyLock, AWaiterResumesOnItsOwnExecutor) {
  AsyncKeyLock lock;
  AsyncRunner holder_side(1), waiter_side(1);
  std::atomic<bool> open{false}, held{false}, on_own{false}, done{false};
  holder_side.spawn([&]() -> Task<void> {
    auto guard = co_await lock.lock("k");
    held = true;
    co_await until_open(open);
  });
  ASSERT_TRUE(wait_until([&] { return held.load(); }));
  waiter_side.spawn([&]() -> Task<void> {
    auto guard = co_await lock.lock("k");
    on_own = waiter_side.io().get_executor().running_in_this_thread() &&
             !holder_side.io().get_executor().running_in_this_thread();
    done = true;
  });
  ASSERT_TRUE(wait_until([&] { return lock.waiting() == 1; }));
  open = true;
  ASSERT_TRUE(wait_until([&] { return done.load(); }));
  EXPECT_TRUE(on_own.load());
}

// The holder releases on every path: an exception, an early return, an explicit unlock(); a moved guard releases
// once.
TEST(AsyncKeyLock, ReleasedOnEveryPathOutOfTheHolder) {
  AsyncKeyLock lock;
  AsyncRunner runner(2);
  std::atomic<int> caught{0};
  runner.run([&]() -> Task<int> {
    try {
      auto guard = co_await lock.lock("k");
      throw std::runtime_error("store failed");
    } catch (const std::runtime_error&) {
      ++caught;
    }
    co_return 0;
  }());
  EXPECT_EQ(caught.load(), 1);
  EXPECT_EQ(lock.held(), 0u);

  auto early = [&](bool fail) -> Task<int> {
    auto guard = co_await lock.lock("k");
    if (fail) co_return -1;  // an error path
    co_return 1;
  };
  EXPECT_EQ(runner.run(early(true)), -1);
  EXPECT_EQ(lock.held(), 0u);
  EXPECT_EQ(runner.run(early(false)), 1);
  EXPECT_EQ(lock.held(), 0u);

  runner.run([&]() -> Task<int> {
    auto guard = co_await lock.lock("k");
    AsyncKeyLock::Guard moved = std::move(guard);
    EXPECT_FALSE(guard.owns_lock());
    EXPECT_TRUE(moved.owns_lock());
    moved.unlock();
    moved.unlock();  // idempotent
    EXPECT_EQ(lock.held(), 0u);
    auto again = co_await lock.lock("k");  // free again at once
    co_return 0;
  }());
  EXPECT_EQ(lock.held(), 0u);
}

// While one key is held, other keys are free, and a waiter behind a holder that fails still gets the key.
TEST(AsyncKeyLock, KeysAreIndependentAndAFailingHolderHandsOver) {
  AsyncKeyLock lock;
  AsyncRunner runner(2);
  std::atomic<bool> open{false}, held{false}, got_other{false}, waiter_got{false};
  runner.spawn([&]() -> Task<void> {
    try {
      auto guard = co_await lock.lock("a");
      held = true;
      co_await until_open(open);
      throw std::runtime_error("failed while holding");
    } catch (const std::runtime_error&) {
    }
  });
  ASSERT_TRUE(wait_until([&] { return held.load(); }));
  runner.spawn([&]() -> Task<void> {
    auto guard = co_await lock.lock("b");
    got_other = true;
  });
  ASSERT_TRUE(wait_until([&] { return got_other.load(); }));
  runner.spawn([&]() -> Task<void> {
    auto guard = co_await lock.lock("a");
    waiter_got = true;
  });
  ASSERT_TRUE(wait_until([&] { return lock.waiting() == 1; }));
  EXPECT_FALSE(waiter_got.load());
  open = true;
  ASSERT_TRUE(wait_until([&] { return waiter_got.load(); }));
  ASSERT_TRUE(wait_until([&] { return lock.held() == 0; }));
}

// Many coroutines on 4 threads hammering a few keys: mutual exclusion per key holds and nothing is lost.
TEST(AsyncKeyLock, ExclusiveUnderContentionOnSeveralThreads) {
  constexpr int kTasks = 400;
  AsyncKeyLock lock;
  AsyncRunner runner(4);
  std::array<std::atomic<int>, 4> inside{};
  std::atomic<int> violations{0}, done{0};
  for (int i = 0; i < kTasks; ++i) {
    runner.spawn([&, i]() -> Task<void> {
      const int k = i % 4;
      auto guard = co_await lock.lock("key" + std::to_string(k));
      if (++inside[k] != 1) ++violations;
      co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
      --inside[k];
      ++done;
    });
  }
  ASSERT_TRUE(wait_until([&] { return done.load() == kTasks; }));
  EXPECT_EQ(violations.load(), 0);
  ASSERT_TRUE(wait_until([&] { return lock.held() == 0; }));
}

}  // namespace
}  // namespace txv

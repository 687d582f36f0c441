// White-box tests of the group-commit writer: batching, per-item savepoints,
// lost transactions, exceptions, stop(), and asynchronous completion (posted to
// the handler's executor, never awaited by the writer).
#include "store/sqlite/write_queue.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "common/async.h"
#include "common/async_test_runner.h"

namespace txv::store::sqlite {
namespace {

class WriteQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-wq-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto conn = Connection::open(dir_ + "/q.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::seconds(5));
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY)").ok());
    queue_ = std::make_unique<WriteQueue>(std::move(*conn), 1024);
  }
  void TearDown() override {
    queue_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static WriteQueue::Work insert(std::int64_t x) {
    return [x](Connection& c) -> Status {
      Query q(c, "INSERT INTO t (x) VALUES (?)");
      q.bind(1, x);
      return q.run();
    };
  }

  std::vector<std::int64_t> rows() {
    std::vector<std::int64_t> out;
    Status st = queue_->submit_blocking([&](Connection& c) -> Status {
      Query q(c, "SELECT x FROM t ORDER BY x");
      for (;;) {
        auto row = q.step();
        if (!row.ok()) return row.error();
        if (!*row) return Ok{};
        out.push_back(q.get_int(0));
      }
    });
    EXPECT_TRUE(st.ok());
    return out;
  }

  // Holds the writer inside one item, submits `works` from their own threads
  // one after the other (so the queue order is the order of `works`), then
  // releases the writer so they all commit in the next batch. Returns their
  // statuses.
  std::vector<Status> run_batch_behind_blocker(const std::vector<WriteQueue::Work>& works) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<bool> blocking{false};
    std::thread blocker([&] {
      Status st = queue_->submit_blocking([&](Connection&) -> Status {
        blocking = true;
        released.wait();
        return Ok{};
      });
      EXPECT_TRUE(st.ok());
    });
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!blocking && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_TRUE(blocking.load());

    std::vector<Status> statuses(works.size(), Status(Ok{}));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < works.size(); ++i) {
      threads.emplace_back([&, i] { statuses[i] = queue_->submit_blocking(works[i]); });
      while (queue_->pending() < i + 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    }
    EXPECT_EQ(queue_->pending(), works.size());
    release.set_value();
    blocker.join();
    for (auto& t : threads) t.join();
    return statuses;
  }

  std::string dir_;
  std::unique_ptr<WriteQueue> queue_;
};

TEST_F(WriteQueueTest, CommitsPendingItemsAsOneBatchAndIsolatesAFailingItem) {
  std::vector<WriteQueue::Work> works;
  for (int i = 1; i <= 9; ++i) works.push_back(insert(i));
  // Item 9: changes something, then fails: only its own changes are undone.
  works.push_back([](Connection& c) -> Status {
    if (auto st = c.exec("INSERT INTO t (x) VALUES (100)"); !st.ok()) return st;
    return c.exec("INSERT INTO t (x) VALUES (1)");  // duplicate key
  });
  auto before = queue_->stats();
  auto statuses = run_batch_behind_blocker(works);
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(statuses[i].ok()) << i;
  ASSERT_FALSE(statuses[9].ok());
  EXPECT_EQ(statuses[9].error().code, "conflict");

  auto after = queue_->stats();
  EXPECT_EQ(after.batches - before.batches, 2u);  // the blocker's batch, then all ten together
  EXPECT_EQ(after.largest_batch, 10u);
  EXPECT_EQ(after.items - before.items, 10u);  // blocker + 9; the failing item is not counted
  EXPECT_EQ(rows(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(WriteQueueTest, LostTransactionFailsItsCommittedItemsAndContinues) {
  std::vector<WriteQueue::Work> works;
  works.push_back(insert(1));
  works.push_back(insert(2));
  // Ends the whole transaction under the writer's feet, like SQLite does on an
  // I/O error or a full disk.
  works.push_back([](Connection& c) -> Status {
    (void)c.exec("ROLLBACK");
    return make_error("unavailable", "simulated I/O error");
  });
  works.push_back(insert(3));
  works.push_back(insert(4));
  auto statuses = run_batch_behind_blocker(works);
  // 1 and 2 were applied in the abandoned transaction: not committed.
  ASSERT_FALSE(statuses[0].ok());
  EXPECT_EQ(statuses[0].error().code, "unavailable");
  ASSERT_FALSE(statuses[1].ok());
  EXPECT_EQ(statuses[1].error().code, "unavailable");
  // The failing item keeps its own error.
  ASSERT_FALSE(statuses[2].ok());
  EXPECT_EQ(statuses[2].error().message, "simulated I/O error");
  // The rest of the batch commits in a fresh transaction.
  EXPECT_TRUE(statuses[3].ok());
  EXPECT_TRUE(statuses[4].ok());
  EXPECT_EQ(rows(), (std::vector<std::int64_t>{3, 4}));
}

TEST_F(WriteQueueTest, ExceptionInWorkIsAnInternalErrorForThatItemOnly) {
  std::vector<WriteQueue::Work> works;
  works.push_back(insert(1));
  works.push_back([](Connection&) -> Status { throw std::runtime_error("boom"); });
  works.push_back(insert(2));
  auto statuses = run_batch_behind_blocker(works);
  EXPECT_TRUE(statuses[0].ok());
  ASSERT_FALSE(statuses[1].ok());
  EXPECT_EQ(statuses[1].error().code, "internal");
  EXPECT_TRUE(statuses[2].ok());
  EXPECT_EQ(rows(), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(WriteQueueTest, StopDrainsThenRefuses) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, unavailable{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Status st = queue_->submit_blocking(insert(i));
      if (st.ok()) ++ok;
      if (!st.ok() && st.error().code == "unavailable") ++unavailable;
    });
  }
  queue_->stop();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load() + unavailable.load(), 8);
  Status after = queue_->submit_blocking(insert(99));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, "unavailable");
  queue_->stop();  // idempotent
}

// The completion is posted to the handler's own executor: with that executor's
// io_context not running, the item commits (and later items commit too: the
// writer never waits for a completion to run), but the handler runs only once
// the io_context runs, on the thread that runs it.
TEST_F(WriteQueueTest, CompletionIsPostedToTheHandlersExecutorAndNeverAwaited) {
  boost::asio::io_context io;  // not running yet
  std::atomic<int> calls{0};
  std::thread::id handler_thread;
  Status got = make_error("internal", "not called");
  auto before = queue_->stats();
  queue_->submit(insert(1), boost::asio::bind_executor(io, [&](Status st) {
                   got = std::move(st);
                   handler_thread = std::this_thread::get_id();
                   ++calls;
                 }));
  // The next item commits although the first one's completion has not run.
  EXPECT_TRUE(queue_->submit_blocking(insert(2)).ok());
  EXPECT_GE(queue_->stats().items - before.items, 2u);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(rows(), (std::vector<std::int64_t>{1, 2}));

  io.run();  // runs the posted completion here
  EXPECT_EQ(calls.load(), 1);
  EXPECT_TRUE(got.ok());
  EXPECT_EQ(handler_thread, std::this_thread::get_id());
}

// Awaited from coroutines: many items in flight at once share commits, each
// coroutine gets its own item's status, and a failing item fails alone.
TEST_F(WriteQueueTest, CoroutinesAwaitTheirOwnItems) {
  txv::testing::AsyncRunner runner;
  constexpr int kItems = 200;
  std::atomic<int> ok{0}, conflicts{0}, done{0};
  auto before = queue_->stats();
  for (int i = 0; i < kItems; ++i) {
    runner.spawn([&, i]() -> Task<void> {
      // Every tenth item inserts a key another item also inserts.
      const std::int64_t x = i % 10 == 9 ? i - 1 : i;
      Status st = co_await queue_->submit(insert(x), asio::use_awaitable);
      if (st.ok()) ++ok;
      if (!st.ok() && st.error().code == "conflict") ++conflicts;
      ++done;
    });
  }
  ASSERT_TRUE(txv::testing::wait_until([&] { return done.load() == kItems; }));
  EXPECT_EQ(ok.load(), kItems - kItems / 10);
  EXPECT_EQ(conflicts.load(), kItems / 10);
  auto after = queue_->stats();
  EXPECT_EQ(after.items - before.items, static_cast<std::uint64_t>(kItems - kItems / 10));
  EXPECT_LT(after.batches - before.batches, static_cast<std::uint64_t>(kItems));  // commits were shared
  EXPECT_EQ(rows().size(), static_cast<std::size_t>(kItems - kItems / 10));
}

TEST_F(WriteQueueTest, SubmitAfterStopIsPostedUnavailable) {
  queue_->stop();
  boost::asio::io_context io;
  std::optional<Status> got;
  queue_->submit(insert(1), boost::asio::bind_executor(io, [&](Status st) { got = std::move(st); }));
  EXPECT_FALSE(got.has_value());  // never invoked inline
  io.run();
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().code, "unavailable");
}

TEST_F(WriteQueueTest, StatsRecordTheLongestTransaction) {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    EXPECT_TRUE(queue_
                    ->submit_blocking([&](Connection&) -> Status {
                      entered = true;
                      // Holds the transaction until the test has seen time pass.
                      while (!release.load()) std::this_thread::yield();
                      return Ok{};
                    })
                    .ok());
  });
  ASSERT_TRUE(txv::testing::wait_until([&] { return entered.load(); }));
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(txv::testing::wait_until(
      [&] { return std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(20); }));
  release = true;
  holder.join();
  EXPECT_GE(queue_->stats().longest_transaction, std::chrono::milliseconds(20));
}

}  // namespace
}  // namespace txv::store::sqlite

// Group commit over the single SQLite write connection, asynchronous.
//
// One writer thread owns the write connection. submit(work, token) enqueues a
// work item and returns at once; the item's completion handler is invoked with
// the item's Status once the transaction holding it has committed (or failed).
// The writer takes every pending item (up to max_batch), runs them inside one
// `BEGIN IMMEDIATE ... COMMIT` with a `SAVEPOINT` around each item, and commits
// once: with WAL and synchronous=FULL that is one fsync for the whole batch.
// Then it POSTS each item's completion to that handler's associated executor
// (asio::get_associated_executor): nothing waits on a semaphore, and a
// coroutine that awaited submit() resumes on its own executor. The handler's
// executor counts as having outstanding work until the completion is posted.
//
// An item whose work returns an Error is rolled back to its savepoint alone and
// gets its own Error; the other items of the batch are unaffected.
//
// If SQLite itself abandons the transaction (I/O error, disk full) or COMMIT
// fails, every item of that transaction that had succeeded is answered
// "unavailable" (nothing of it was committed); items of the batch not yet run
// continue in a fresh transaction ("lost transaction").
//
// Bounding: the queue does not split an item. A caller with a lot to write
// (a 1M-entry list) submits it as many bounded items, one after the other,
// so other callers' items commit between them (see SqliteDatabase lists).
//
// Thread-safety: submit(), submit_blocking(), pending() and stats() may be
// called from any thread. Work functions run on the writer thread, one at a
// time, and must not wait for another item (submit_blocking from a work
// function would deadlock). Lifetime: stop() (also run by the destructor)
// drains everything already submitted, joins the thread and closes the
// connection; later submits are answered "unavailable" (posted, never invoked
// inline). A work function may throw: the exception is caught and the item
// answered "internal".
#pragma once

#include <atomic>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/result.h"
#include "store/sqlite/connection.h"

namespace txv::store::sqlite {

class WriteQueue {
 public:
  using Work = std::function<Status(Connection&)>;

  struct Stats {
    std::uint64_t batches = 0;        // committed transactions
    std::uint64_t items = 0;          // items committed successfully
    std::uint64_t largest_batch = 0;  // items in the largest committed transaction
    // Longest time from BEGIN to the end of COMMIT (fsync included) of one
    // transaction: how long the write path was held at most.
    std::chrono::microseconds longest_transaction{0};
  };

  WriteQueue(std::unique_ptr<Connection> conn, std::size_t max_batch);
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Runs `work` (Status(Connection&)) on the writer thread inside the next
  // batch; completes with its Status once the batch has committed (or with the
  // commit's Error). Completion signature: void(Status). Whatever `work`
  // references must live until the completion: awaiting the result at once
  // (`co_await q.submit(w, asio::use_awaitable)`) guarantees that.
  template <typename W, typename CompletionToken>
  auto submit(W work, CompletionToken&& token) {
    static_assert(std::is_invocable_r_v<Status, W&, Connection&>, "work must be Status(Connection&)");
    return boost::asio::async_initiate<CompletionToken, void(Status)>(
        [this](auto&& handler, W w) {
          using H = std::decay_t<decltype(handler)>;
          enqueue(std::make_unique<PostingItem<W, H>>(std::move(w), std::forward<decltype(handler)>(handler)));
        },
        token, std::move(work));
  }

  // Blocking twin of submit() for start-up and the CLI (migrate, sweeps at
  // open): parks the calling thread until the batch has committed. Never call
  // it from an I/O thread or from a work function.
  Status submit_blocking(Work work);

  // Items submitted but not yet picked up by the writer.
  std::size_t pending() const;
  Stats stats() const;
  void stop();

 private:
  struct Item {
    virtual ~Item() = default;
    virtual Status run(Connection& c) = 0;
    // Delivers `status`; called once, on the writer thread (or in submit
    // after stop). Must not run the caller's continuation inline.
    virtual void complete() = 0;
    Status status = Ok{};
  };

  template <typename W, typename H>
  struct PostingItem final : Item {
    PostingItem(W w, H h)
        : work(std::move(w)),
          handler(std::move(h)),
          guard(boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                    boost::asio::execution::outstanding_work.tracked)) {}
    Status run(Connection& c) override { return work(c); }
    void complete() override {
      auto ex = std::move(guard);
      boost::asio::post(ex,
                        [h = std::move(handler), st = std::move(status)]() mutable { std::move(h)(std::move(st)); });
    }
    W work;
    H handler;
    std::decay_t<decltype(boost::asio::prefer(std::declval<boost::asio::associated_executor_t<H>>(),
                                              boost::asio::execution::outstanding_work.tracked))>
        guard;
  };

  void enqueue(std::unique_ptr<Item> item);
  void run();
  void process(std::vector<std::unique_ptr<Item>>& batch);
  Status run_item(Item& item);
  void fail_committed(std::vector<std::unique_ptr<Item>>& batch, std::size_t first, std::size_t end, const Error& why);

  std::unique_ptr<Connection> conn_;
  const std::size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Item>> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex stop_mu_;
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> items_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
  std::atomic<std::int64_t> longest_transaction_us_{0};
};

}  // namespace txv::store::sqlite

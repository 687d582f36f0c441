// Group commit over the single SQLite write connection.
//
// One writer thread owns the write connection. submit() enqueues a work item
// and blocks until the batch holding it has committed (or failed). The writer
// takes every pending item (up to max_batch), runs them inside one
// `BEGIN IMMEDIATE ... COMMIT` with a `SAVEPOINT` around each item, and commits
// once: with WAL and synchronous=FULL that is one fsync for the whole batch.
// An item whose work returns an Error is rolled back to its savepoint alone and
// gets its own Error; the other items of the batch are unaffected.
//
// If SQLite itself abandons the transaction (I/O error, disk full) or COMMIT
// fails, every item of that transaction that had succeeded is answered
// "unavailable" (nothing of it was committed); items of the batch not yet run
// continue in a fresh transaction.
//
// Thread-safety: submit(), pending() and stats() may be called from any thread.
// Work functions run on the writer thread, one at a time, and must not call
// submit() (that would deadlock). Lifetime: stop() (also run by the destructor)
// drains everything already submitted, joins the thread and closes the
// connection; later submit() calls answer "unavailable". A work function may
// throw: the exception is caught and the item answered "internal".
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
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
  };

  WriteQueue(std::unique_ptr<Connection> conn, std::size_t max_batch);
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // Runs `work` on the writer thread inside the next batch and returns its
  // Status once the batch has committed (or the commit's Error).
  Status submit(const Work& work);
  // Items submitted but not yet picked up by the writer.
  std::size_t pending() const;
  Stats stats() const;
  void stop();

 private:
  struct Item {
    const Work* work;
    Status status = Ok{};
    std::binary_semaphore done{0};
  };

  void run();
  void process(std::vector<Item*>& batch);
  Status run_item(Item& item);
  void fail_committed(std::vector<Item*>& batch, std::size_t first, std::size_t end, const Error& why);

  std::unique_ptr<Connection> conn_;
  const std::size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item*> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::mutex stop_mu_;
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> items_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
};

}  // namespace txv::store::sqlite

#include "store/sqlite/write_queue.h"

#include <exception>
#include <future>
#include <optional>
#include <string>

namespace txv::store::sqlite {

WriteQueue::WriteQueue(std::unique_ptr<Connection> conn, std::size_t max_batch)
    : conn_(std::move(conn)), max_batch_(max_batch == 0 ? 1 : max_batch) {
  thread_ = std::thread([this] { run(); });
}

WriteQueue::~WriteQueue() { stop(); }

void WriteQueue::enqueue(std::unique_ptr<Item> item) {
  {
    std::lock_guard lk(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(item));
      cv_.notify_one();
      return;
    }
  }
  item->status = make_error("unavailable", "database is closed");
  item->complete();
}

Status WriteQueue::submit_blocking(Work work) {
  // Wakes the waiting thread directly: it is not an executor's thread, so
  // there is nothing to post to.
  struct BlockingItem final : Item {
    explicit BlockingItem(Work w, std::promise<Status>* p) : work(std::move(w)), promise(p) {}
    Status run(Connection& c) override { return work(c); }
    void complete() override { promise->set_value(std::move(status)); }
    Work work;
    std::promise<Status>* promise;
  };
  std::promise<Status> promise;
  auto result = promise.get_future();
  enqueue(std::make_unique<BlockingItem>(std::move(work), &promise));
  return result.get();
}

std::size_t WriteQueue::pending() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

WriteQueue::Stats WriteQueue::stats() const {
  return Stats{batches_.load(), items_.load(), largest_batch_.load(),
               std::chrono::microseconds(longest_transaction_us_.load())};
}

void WriteQueue::stop() {
  std::lock_guard stop_lk(stop_mu_);
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  conn_.reset();
}

void WriteQueue::run() {
  std::vector<std::unique_ptr<Item>> batch;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    process(batch);
    // Post every completion (each to its own executor), then free the items.
    for (auto& item : batch) item->complete();
    batch.clear();
  }
}

Status WriteQueue::run_item(Item& item) {
  try {
    return item.run(*conn_);
  } catch (const std::exception& e) {
    return make_error("internal", std::string("storage write failed: ") + e.what());
  } catch (...) {
    return make_error("internal", "storage write failed");
  }
}

void WriteQueue::fail_committed(std::vector<std::unique_ptr<Item>>& batch, std::size_t first, std::size_t end,
                                const Error& why) {
  for (std::size_t j = first; j < end; ++j) {
    if (batch[j]->status.ok()) {
      batch[j]->status = make_error("unavailable", "transaction rolled back: " + why.message);
    }
  }
}

void WriteQueue::process(std::vector<std::unique_ptr<Item>>& batch) {
  std::size_t i = 0;
  while (i < batch.size()) {
    const auto started = std::chrono::steady_clock::now();
    if (Status begin = conn_->exec("BEGIN IMMEDIATE"); !begin.ok()) {
      for (std::size_t j = i; j < batch.size(); ++j) batch[j]->status = begin.error();
      return;
    }
    const std::size_t first = i;
    std::optional<Error> lost;  // set when SQLite abandoned the whole transaction
    for (; i < batch.size() && !lost; ++i) {
      Item& item = *batch[i];
      Status st = conn_->exec("SAVEPOINT txv_item");
      if (st.ok()) st = run_item(item);
      if (st.ok()) st = conn_->exec("RELEASE txv_item");
      if (!st.ok()) {
        if (!conn_->in_transaction()) {
          lost = st.error();
        } else if (Status undo = conn_->exec("ROLLBACK TO txv_item; RELEASE txv_item"); !undo.ok()) {
          lost = undo.error();
          if (conn_->in_transaction()) (void)conn_->exec("ROLLBACK");
        }
      }
      item.status = std::move(st);
    }
    if (lost) {
      fail_committed(batch, first, i, *lost);
      continue;
    }
    if (Status commit = conn_->exec("COMMIT"); !commit.ok()) {
      if (conn_->in_transaction()) (void)conn_->exec("ROLLBACK");
      fail_committed(batch, first, i, commit.error());
      continue;
    }
    const auto held = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    std::int64_t prev_us = longest_transaction_us_.load(std::memory_order_relaxed);
    while (held.count() > prev_us &&
           !longest_transaction_us_.compare_exchange_weak(prev_us, held.count(), std::memory_order_relaxed)) {
    }
    std::uint64_t ok_items = 0;
    for (std::size_t j = first; j < i; ++j) ok_items += batch[j]->status.ok() ? 1 : 0;
    batches_.fetch_add(1, std::memory_order_relaxed);
    items_.fetch_add(ok_items, std::memory_order_relaxed);
    std::uint64_t n = i - first;
    std::uint64_t prev = largest_batch_.load(std::memory_order_relaxed);
    while (n > prev && !largest_batch_.compare_exchange_weak(prev, n, std::memory_order_relaxed)) {
    }
  }
}

}  // namespace txv::store::sqlite

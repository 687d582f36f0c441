#include "common/async_key_lock.h"

#include <cassert>
#include <functional>
#include <type_traits>
#include <utility>

namespace txv {

template <class Handler>
struct AsyncKeyLock::WaiterFor final : AsyncKeyLock::Waiter {
  explicit WaiterFor(Handler h) : handler(std::move(h)) {}
  void resume() override {
    auto home = asio::get_associated_executor(handler);
    asio::post(home, std::move(handler));
  }
  Handler handler;
};

AsyncKeyLock::Guard::Guard(Guard&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      shard_(std::exchange(other.shard_, nullptr)),
      key_(std::exchange(other.key_, nullptr)) {}

AsyncKeyLock::Guard& AsyncKeyLock::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    unlock();
    owner_ = std::exchange(other.owner_, nullptr);
    shard_ = std::exchange(other.shard_, nullptr);
    key_ = std::exchange(other.key_, nullptr);
  }
  return *this;
}

void AsyncKeyLock::Guard::unlock() noexcept {
  if (shard_ == nullptr) return;
  owner_->release(*shard_, key_);
  shard_ = nullptr;
  key_ = nullptr;
}

AsyncKeyLock::~AsyncKeyLock() { assert(held() == 0 && "AsyncKeyLock destroyed while a key is held"); }

AsyncKeyLock::Shard& AsyncKeyLock::shard_for(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

std::size_t AsyncKeyLock::held() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.held.size();
  }
  return n;
}

Task<AsyncKeyLock::Guard> AsyncKeyLock::lock(std::string key) {
  Shard& shard = shard_for(key);
  const std::string* free_key = nullptr;
  {
    std::lock_guard lock(shard.mu);
    auto [it, inserted] = shard.held.try_emplace(std::move(key));  // `key` is left intact when not inserted
    if (inserted) free_key = &it->first;
  }
  if (free_key != nullptr) co_return Guard(this, &shard, free_key);  // uncontended: no suspension
  // Held by someone else: queue up. The initiation runs once this coroutine is suspended.
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &shard, &key](auto handler) {
        using Handler = std::decay_t<decltype(handler)>;
        auto waiter = std::make_unique<WaiterFor<Handler>>(std::move(handler));  // allocated before locking
        std::unique_lock lock(shard.mu);
        auto [it, inserted] = shard.held.try_emplace(key);
        if (inserted) {  // released in between: ours already
          lock.unlock();
          waiter->resume();
          return;
        }
        Entry& e = it->second;
        Waiter* raw = waiter.get();
        if (e.tail != nullptr) {
          e.tail->next = std::move(waiter);
        } else {
          e.head = std::move(waiter);
        }
        e.tail = raw;
        waiting_.fetch_add(1, std::memory_order_relaxed);
      },
      asio::use_awaitable);
  // Ours now (handed over by release(), or taken in the initiation); the map keeps the key where it is.
  const std::string* held_key = nullptr;
  {
    std::lock_guard lock(shard.mu);
    held_key = &shard.held.find(key)->first;
  }
  co_return Guard(this, &shard, held_key);
}

void AsyncKeyLock::release(Shard& shard, const std::string* key) noexcept {
  std::unique_ptr<Waiter> next;
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.held.find(*key);
    assert(it != shard.held.end());
    Entry& e = it->second;
    if (e.head) {  // hand over: the key stays held, by the oldest waiter
      next = std::move(e.head);
      e.head = std::move(next->next);
      if (!e.head) e.tail = nullptr;
    } else {
      shard.held.erase(it);
    }
  }
  if (next) {
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    next->resume();
  }
}

}  // namespace txv

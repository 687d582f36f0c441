// An asynchronous lock per key: the decision pipeline's per-(merchant_id,
// transaction_id) idempotency lock, the store's one-change-per-list lock, the
// serialised admin changes.
//
// lock(key) completes at once when nobody holds `key`. Otherwise the calling
// coroutine is suspended (no thread waits) and queued behind the earlier
// waiters for that key; when the holder releases, ownership passes directly
// to the oldest waiter, which is resumed by posting to its own executor. Each
// waiter therefore resumes exactly once, in order of arrival.
//
// The map of held keys is split into shards, each guarded by a std::mutex held
// only for a hash look-up and a queue operation, never across a suspension
// point. A key is held from lock() to the Guard's destruction (or unlock()), on
// every path out of the holder, exceptions included.
//
// Thread-safety: lock() may be called concurrently from any thread. A Guard is
// owned by one coroutine at a time. Lifetime: the AsyncKeyLock must outlive its
// guards and its waiters.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/async.h"

namespace txv {

class AsyncKeyLock {
  struct Shard;

 public:
  // Holds one key; releasing hands it to the next waiter. Move-only.
  class [[nodiscard]] Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    ~Guard() { unlock(); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

    // Releases now (idempotent).
    void unlock() noexcept;
    bool owns_lock() const { return shard_ != nullptr; }

   private:
    friend class AsyncKeyLock;
    Guard(AsyncKeyLock* owner, Shard* shard, const std::string* key) : owner_(owner), shard_(shard), key_(key) {}
    AsyncKeyLock* owner_ = nullptr;
    Shard* shard_ = nullptr;
    const std::string* key_ = nullptr;  // the map's copy of the key (stable while held)
  };

  AsyncKeyLock() = default;
  ~AsyncKeyLock();
  AsyncKeyLock(const AsyncKeyLock&) = delete;
  AsyncKeyLock& operator=(const AsyncKeyLock&) = delete;

  // Completes holding `key`: at once if it is free, else after every earlier
  // waiter for it has had it, resuming the caller on its own executor.
  Task<Guard> lock(std::string key);

  // Keys held and coroutines waiting, now (for tests and gauges).
  std::size_t held() const;
  std::size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

 private:
  // A suspended lock() call; resume() posts its continuation to its own executor.
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void resume() = 0;
    std::unique_ptr<Waiter> next;
  };
  template <class Handler>
  struct WaiterFor;
  struct Entry {  // a held key and its FIFO of waiters
    std::unique_ptr<Waiter> head;
    Waiter* tail = nullptr;
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> held;
  };
  static constexpr std::size_t kShards = 16;

  Shard& shard_for(std::string_view key);
  void release(Shard& shard, const std::string* key) noexcept;

  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> waiting_{0};
};

}  // namespace txv

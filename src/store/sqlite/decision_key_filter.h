// Which (merchant_id, transaction_id) keys a SQLite file may hold: a blocked
// Bloom filter over the keys of stored decisions.
//
// Why: every validate first looks its key up (idempotency), and nearly every
// key is new. With the filter, a key it has never seen is answered "not
// stored" on the calling thread, without the hop to a read thread and back
// (measured: about a quarter of the CPU per decision; BENCHMARKS.md).
//
// Answers: may_contain() false means no add() of that key happened before (no
// false negatives); true means "maybe" (false positives: about 0.6% at
// capacity, 12 bits per key, more beyond it), and the caller reads the store.
//
// Layout: 64-byte blocks; a key sets 6 bits of one block (one cache line per
// look-up), chosen from a 64-bit hash of the key.
//
// Thread-safety: add() and may_contain() may run concurrently from any
// threads (relaxed atomic OR / load per word, release on add and acquire on
// look-up). An add() that happens-before a may_contain() is seen by it.
// Memory: 1.5 bytes per key of capacity (15 MB for 10 M keys).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace txv::store::sqlite {

class DecisionKeyFilter {
 public:
  // Sized for `capacity` keys (at least 1).
  explicit DecisionKeyFilter(std::size_t capacity);

  void add(std::string_view merchant_id, std::string_view transaction_id) noexcept;
  bool may_contain(std::string_view merchant_id, std::string_view transaction_id) const noexcept;

  std::size_t capacity() const { return capacity_; }
  std::size_t added() const { return added_.load(std::memory_order_relaxed); }  // add() calls, repeats included

 private:
  struct alignas(64) Block {
    std::atomic<std::uint64_t> words[8];
  };
  static std::uint64_t hash(std::string_view merchant_id, std::string_view transaction_id) noexcept;

  std::size_t capacity_;
  std::size_t block_count_;
  std::unique_ptr<Block[]> blocks_;
  std::atomic<std::size_t> added_{0};
};

}  // namespace txv::store::sqlite

#include "cache/local/local_velocity_counters.h"

#include <algorithm>
#include <array>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace txv::cache {
namespace velocity_detail {
namespace {

__extension__ using U128 = unsigned __int128;

constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
// Times are stored as 48 bits: [-2^47, 2^47) ms around 1970, about +/- 4462 years.
constexpr std::int64_t kTimeBias = std::int64_t{1} << 47;
constexpr std::int64_t kMinTime = -kTimeBias;
constexpr std::int64_t kMaxTime = kTimeBias - 1;
constexpr std::uint64_t kHiMask = 0xFFFF;
constexpr U128 kCumModulus = U128{1} << 80;
constexpr U128 kCumMask = kCumModulus - 1;
constexpr std::size_t kSweepBucketsPerCall = 2;

std::int64_t sat_sub(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return b > 0 ? kInt64Min : kInt64Max;
  return r;
}

// One event under one key value and currency: its time and the cumulative amount (mod 2^80) up to and including it.
struct Entry {
  std::uint64_t w0;  // (time + kTimeBias) << 16 | bits 64..79 of the cumulative amount
  std::uint64_t lo;  // bits 0..63 of the cumulative amount
};
static_assert(sizeof(Entry) == 16);

std::uint64_t time_word(std::int64_t t) { return static_cast<std::uint64_t>(t + kTimeBias) << 16; }
std::int64_t time_of(const Entry& e) { return static_cast<std::int64_t>(e.w0 >> 16) - kTimeBias; }
U128 cum_of(const Entry& e) { return (U128{e.w0 & kHiMask} << 64) | e.lo; }
void set_cum(Entry& e, U128 c) {
  e.lo = static_cast<std::uint64_t>(c);
  e.w0 = (e.w0 & ~kHiMask) | (static_cast<std::uint64_t>(c >> 64) & kHiMask);
}

// A FIFO-ish sequence with random access, cheap front drops and cheap small instances: a vector with a head index
// while small (a one-event series costs one 16-byte allocation), a std::deque once it holds kSmallMax elements (so
// that neither growth nor compaction ever copies a large series under a lock: a std::deque costs ~600 bytes even
// when nearly empty, which is why it is not used for small series). Valid indices are [lo(), hi()).
template <typename T>
class FrontStore {
 public:
  static constexpr std::size_t kSmallMax = 4096;

  std::size_t lo() const { return big_ ? 0 : head_; }
  std::size_t hi() const { return big_ ? big_->size() : v_.size(); }
  std::size_t size() const { return hi() - lo(); }
  const T& operator[](std::size_t i) const { return big_ ? (*big_)[i] : v_[i]; }
  T& operator[](std::size_t i) { return big_ ? (*big_)[i] : v_[i]; }

  // First index in [lo, hi) whose element does not satisfy `pred` (pred true for a prefix).
  template <typename P>
  std::size_t partition_point(P pred) const {
    std::size_t a = lo(), n = size();
    if (n == 0 || !pred((*this)[a])) return a;  // common: the window holds the whole series
    ++a;
    --n;
    while (n > 0) {
      const std::size_t half = n / 2;
      if (pred((*this)[a + half])) {
        a += half + 1;
        n -= half + 1;
      } else {
        n = half;
      }
    }
    return a;
  }

  // Same as partition_point, searching from the front (exponential then binary search): O(log k) for a prefix of
  // k elements, which is what pruning drops (usually 0 or 1).
  template <typename P>
  std::size_t partition_point_from_front(P pred) const {
    const std::size_t begin = lo(), end = hi();
    std::size_t step = 1, a = begin;
    while (a < end && pred((*this)[a])) {
      const std::size_t b = a + step;
      if (b >= end || !pred((*this)[b])) {
        std::size_t n = std::min(b, end) - (a + 1);  // the answer is in (a, min(b, end)]
        a += 1;
        while (n > 0) {
          const std::size_t half = n / 2;
          if (pred((*this)[a + half])) {
            a += half + 1;
            n -= half + 1;
          } else {
            n = half;
          }
        }
        return a;
      }
      a = b;
      step *= 2;
    }
    return a;
  }

  // May throw std::bad_alloc, leaving the contents unchanged.
  void push_back(const T& x) {
    if (!big_ && size() >= kSmallMax) to_big();
    if (big_) {
      big_->push_back(x);
    } else {
      if (v_.size() == v_.capacity()) v_.reserve(std::max<std::size_t>(1, 2 * v_.capacity()));
      v_.push_back(x);
    }
  }
  // Inserts before index i (lo <= i <= hi). May throw std::bad_alloc, leaving the contents unchanged.
  void insert(std::size_t i, const T& x) {
    if (!big_ && size() >= kSmallMax) {
      i -= head_;
      to_big();
    }
    if (big_) {
      big_->insert(big_->begin() + static_cast<std::ptrdiff_t>(i), x);
    } else {
      v_.insert(v_.begin() + static_cast<std::ptrdiff_t>(i), x);
    }
  }
  void erase(std::size_t i) noexcept {  // T is trivially copyable: shifting does not throw
    if (big_) {
      big_->erase(big_->begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      v_.erase(v_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  void pop_back() noexcept {
    if (big_) {
      big_->pop_back();
    } else {
      v_.pop_back();
    }
  }

  // Drops [lo, new_lo). Amortised O(1) per dropped element; never throws.
  void drop_front(std::size_t new_lo) noexcept {
    if (big_) {
      big_->erase(big_->begin(), big_->begin() + static_cast<std::ptrdiff_t>(new_lo));
      if (big_->size() <= kSmallMax / 4) {
        try {  // back to the compact form; on failure simply stay a deque
          std::vector<T> small(big_->begin(), big_->end());
          v_.swap(small);
          head_ = 0;
          big_.reset();
        } catch (...) {
        }
      }
      return;
    }
    head_ = new_lo;
    if (head_ == v_.size()) {
      head_ = 0;
      if (v_.capacity() > 64) {
        std::vector<T>().swap(v_);
      } else {
        v_.clear();
      }
    } else if (head_ * 2 >= v_.size()) {  // moves at most as many elements as were dropped since the last time
      v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
      if (v_.capacity() > 64 && v_.capacity() > 4 * v_.size()) v_.shrink_to_fit();  // libstdc++: never throws
    }
  }

  std::size_t heap_bytes() const {
    if (!big_) return v_.capacity() * sizeof(T);
    constexpr std::size_t kBlock = 512;  // libstdc++ deque node size for 8/16-byte elements
    return sizeof(*big_) + (big_->size() * sizeof(T) / kBlock + 2) * (kBlock + sizeof(void*));
  }

 private:
  void to_big() {
    auto big = std::make_unique<std::deque<T>>(v_.begin() + static_cast<std::ptrdiff_t>(head_), v_.end());
    std::vector<T>().swap(v_);
    head_ = 0;
    big_ = std::move(big);
  }

  std::vector<T> v_;
  std::size_t head_ = 0;
  std::unique_ptr<std::deque<T>> big_;
};

}  // namespace

// The entries of one currency under one key value, in time order. Entry positions handed to tickets are
// "absolute": dropped + (index - lo()), stable while the front is dropped.
struct CurrencySeries {
  std::uint64_t code = 0;
  std::uint64_t dropped = 0;     // entries ever dropped from the front
  std::uint64_t max_amount = 0;  // largest amount ever recorded: bounds the exact-sum check
  std::uint64_t base_lo = 0;     // cumulative amount before the first live entry
  std::uint64_t base_hi = 0;
  FrontStore<Entry> v;

  U128 base() const { return (U128{base_hi} << 64) | base_lo; }
  U128 last_cum() const { return v.size() > 0 ? cum_of(v[v.hi() - 1]) : base(); }

  // Index of the first live entry with time > cutoff (v.hi() if none).
  std::size_t first_after(std::int64_t cutoff) const {
    if (cutoff < kMinTime) return v.lo();
    const std::uint64_t key = time_word(std::min(cutoff, kMaxTime)) | kHiMask;
    return v.partition_point([key](const Entry& e) { return e.w0 <= key; });
  }

  // Sum of the amounts of entries [i, hi), saturated at INT64_MAX.
  std::int64_t sum_from(std::size_t i) const {
    const std::size_t n = v.hi() - i;
    if (n == 0) return 0;
    const U128 prev = i == v.lo() ? base() : cum_of(v[i - 1]);
    if (U128{n} * max_amount < kCumModulus) {  // the true sum is below 2^80: the modular difference is exact
      const U128 s = (cum_of(v[v.hi() - 1]) - prev) & kCumMask;
      return s > static_cast<U128>(kInt64Max) ? kInt64Max : static_cast<std::int64_t>(s);
    }
    U128 total = 0, p = prev;  // cannot happen with contract amounts (<= 10^15); exact but linear
    for (std::size_t j = i; j < v.hi(); ++j) {
      const U128 c = cum_of(v[j]);
      total += (c - p) & kCumMask;  // one amount (< 2^63)
      p = c;
      if (total >= static_cast<U128>(kInt64Max)) return kInt64Max;
    }
    return static_cast<std::int64_t>(total);
  }

  // Returns the new entry's absolute position. May throw std::bad_alloc, changing nothing.
  std::uint64_t append(std::int64_t t, std::uint64_t amount) {
    Entry e{time_word(t), 0};
    set_cum(e, (last_cum() + amount) & kCumMask);
    v.push_back(e);
    max_amount = std::max(max_amount, amount);
    return dropped + (v.size() - 1);
  }
  // Undoes the last append() (max_amount stays: it is only an upper bound).
  void unappend() noexcept { v.pop_back(); }

  void prune(std::int64_t cutoff) noexcept {
    if (cutoff < kMinTime) return;
    const std::uint64_t key = time_word(std::min(cutoff, kMaxTime)) | kHiMask;
    const std::size_t i = v.partition_point_from_front([key](const Entry& e) { return e.w0 <= key; });
    if (i == v.lo()) return;
    const U128 b = cum_of(v[i - 1]);
    base_lo = static_cast<std::uint64_t>(b);
    base_hi = static_cast<std::uint64_t>(b >> 64);
    dropped += i - v.lo();
    v.drop_front(i);
  }

  // Index of the entry at absolute position `pos`, or nullopt when it is gone (pruned).
  std::optional<std::size_t> locate(std::uint64_t pos) const {
    if (pos < dropped || pos - dropped >= v.size()) return std::nullopt;
    return v.lo() + static_cast<std::size_t>(pos - dropped);
  }
  // Adds `delta` (mod 2^80) to entry i and every later cumulative value: with -amount, the entry's own amount
  // becomes zero. O(hi - i): the entries recorded under this key value and currency since that event.
  void shift_cum(std::size_t i, U128 delta) noexcept {
    for (std::size_t j = i; j < v.hi(); ++j) set_cum(v[j], (cum_of(v[j]) + delta) & kCumMask);
  }
};

// Everything recorded under one (key type, value).
struct Series {
  std::int64_t newest = kInt64Min;  // recorded times are monotonic: an earlier `at` is clamped to this
  std::uint64_t incarnation = 0;    // distinguishes a re-created series from an erased one (for tickets)
  CurrencySeries first;             // the currency the series was created with (usually the only one)
  struct Extra {
    std::vector<CurrencySeries> more;
    FrontStore<std::int64_t> cancelled;  // sorted times of cancelled entries still held
  };
  std::unique_ptr<Extra> extra;  // rarely needed: keeps the common series small

  CurrencySeries* find(std::uint64_t code) {
    if (first.code == code) return &first;
    if (extra) {
      for (auto& c : extra->more) {
        if (c.code == code) return &c;
      }
    }
    return nullptr;
  }
  Extra& ensure_extra() {
    if (!extra) extra = std::make_unique<Extra>();
    return *extra;
  }
  template <typename F>
  void for_each_currency(F&& f) {
    f(first);
    if (extra) {
      for (auto& c : extra->more) f(c);
    }
  }
  template <typename F>
  void for_each_currency(F&& f) const {
    f(first);
    if (extra) {
      for (const auto& c : extra->more) f(c);
    }
  }
  std::size_t cancelled_count() const { return extra ? extra->cancelled.size() : 0; }

  VelocityTotals totals(std::int64_t cutoff, std::uint64_t currency) const {
    VelocityTotals t;
    for_each_currency([&](const CurrencySeries& c) {
      const std::size_t i = c.first_after(cutoff);
      t.count += static_cast<std::int64_t>(c.v.hi() - i);
      if (c.code == currency) t.amount = c.sum_from(i);
    });
    if (cancelled_count() > 0) {
      const auto& cx = extra->cancelled;
      t.count -=
          static_cast<std::int64_t>(cx.hi() - cx.partition_point([cutoff](std::int64_t x) { return x <= cutoff; }));
    }
    return t;
  }

  // The currency's entries, created if needed. May throw std::bad_alloc (an empty currency is harmless).
  CurrencySeries& prepare(std::uint64_t currency) {
    CurrencySeries* c = find(currency);
    if (c == nullptr) {
      auto& more = ensure_extra().more;
      more.emplace_back();
      c = &more.back();
      c->code = currency;
    }
    return *c;
  }

  struct Undo {
    std::int64_t newest;
  };
  // Records one event in `c` (from prepare(), no other prepare() since); returns its absolute position there.
  // May throw std::bad_alloc, changing nothing.
  std::uint64_t record(CurrencySeries& c, std::int64_t at, std::uint64_t amount, Undo* undo = nullptr) {
    if (undo != nullptr) undo->newest = newest;
    const std::int64_t t = std::max(newest, at);
    const std::uint64_t pos = c.append(t, amount);
    newest = t;
    return pos;
  }
  void unrecord(CurrencySeries& c, const Undo& undo) noexcept {
    c.unappend();
    newest = undo.newest;
  }

  // Inserts a cancelled time; returns its index for uncancel_time(). May throw std::bad_alloc, changing nothing.
  std::size_t add_cancelled(std::int64_t t) {
    auto& cx = ensure_extra().cancelled;
    // Cancels arrive in about time order: the insertion point is at or near the end.
    const std::size_t i = cx.partition_point([t](std::int64_t x) { return x <= t; });
    cx.insert(i, t);
    return i;
  }
  void uncancel_time(std::size_t i) noexcept { extra->cancelled.erase(i); }

  void prune(std::int64_t cutoff) noexcept {
    for_each_currency([&](CurrencySeries& c) { c.prune(cutoff); });
    if (cancelled_count() > 0) {
      auto& cx = extra->cancelled;
      cx.drop_front(cx.partition_point_from_front([cutoff](std::int64_t x) { return x <= cutoff; }));
    }
  }

  std::size_t heap_bytes() const {
    std::size_t bytes = first.v.heap_bytes();
    if (extra) {
      bytes += sizeof(Extra) + extra->cancelled.heap_bytes();
      for (const auto& c : extra->more) bytes += sizeof(CurrencySeries) + c.v.heap_bytes();
    }
    return bytes;
  }
};

struct MapKey {
  std::string bytes;  // one byte of key type, then the value
  std::size_t hash = 0;
  bool operator==(const MapKey& o) const { return hash == o.hash && bytes == o.bytes; }
};
struct MapKeyHash {
  std::size_t operator()(const MapKey& k) const noexcept { return k.hash; }
};
using SeriesMap = std::unordered_map<MapKey, Series, MapKeyHash>;

struct alignas(64) Shard {
  std::mutex mu;
  SeriesMap map;
  std::size_t sweep_cursor = 0;
  std::uint64_t ticket_seq = 0;
  std::uint64_t generation = 0;  // bumped when rebuild() replaces the map
};

namespace {

void fill_key(MapKey& k, std::size_t key_index, std::string_view value) {
  k.bytes.clear();
  k.bytes.reserve(value.size() + 1);
  k.bytes.push_back(static_cast<char>(key_index));
  k.bytes.append(value);
  k.hash = std::hash<std::string_view>{}(k.bytes);
}

std::uint32_t shard_of(std::size_t hash) {  // top bits of a remix: independent of the map's bucket index
  const std::uint64_t h =
      (static_cast<std::uint64_t>(hash) ^ (static_cast<std::uint64_t>(hash) >> 32)) * 0x9E3779B97F4A7C15ULL;
  return static_cast<std::uint32_t>(h >> 56);
}
static_assert(LocalVelocityCounters::kShardCount == 256);

std::optional<std::uint64_t> currency_code(std::string_view c) {
  if (c.size() > 7) return std::nullopt;
  std::uint64_t code = c.size();
  for (std::size_t i = 0; i < c.size(); ++i) code |= std::uint64_t{static_cast<unsigned char>(c[i])} << (8 * (i + 1));
  return code;
}

std::optional<Error> check_event(std::int64_t amount, std::string_view currency, std::int64_t at) {
  if (amount < 0) return make_error("internal", "velocity: negative amount");
  if (currency.size() > 7) return make_error("internal", "velocity: currency code longer than 7 bytes");
  if (at < kMinTime || at > kMaxTime) return make_error("internal", "velocity: time out of range");
  return std::nullopt;
}

// Locks distinct shards in ascending index order; unlocks in reverse.
class ShardLocks {
 public:
  ShardLocks(Shard* shards, std::span<const std::uint32_t> ascending) : shards_(shards), idx_(ascending) {
    for (auto i : idx_) shards_[i].mu.lock();
  }
  ~ShardLocks() {
    for (auto it = idx_.rbegin(); it != idx_.rend(); ++it) shards_[*it].mu.unlock();
  }
  ShardLocks(const ShardLocks&) = delete;
  ShardLocks& operator=(const ShardLocks&) = delete;

 private:
  Shard* shards_;
  std::span<const std::uint32_t> idx_;
};

// Drops what is past `cutoff` in a few buckets of the shard; erases key values left with nothing.
void sweep_some(Shard& shard, std::int64_t cutoff, std::size_t buckets) {
  SeriesMap& m = shard.map;
  if (m.empty()) return;
  const std::size_t bucket_count = m.bucket_count();
  for (std::size_t n = 0; n < buckets; ++n) {
    const std::size_t b = shard.sweep_cursor++ % bucket_count;
    for (auto it = m.begin(b); it != m.end(b);) {
      auto next = std::next(it);
      if (it->second.newest <= cutoff) {
        m.erase(m.find(it->first));  // erasing one element leaves other iterators valid
      } else {
        it->second.prune(cutoff);
      }
      it = next;
    }
  }
}

std::size_t approximate_series_bytes(const MapKey& key, const Series& s) {
  constexpr std::size_t kNode = sizeof(void*) + sizeof(MapKey) + sizeof(Series) + 16;  // + malloc header
  std::size_t bytes = kNode + sizeof(void*);                                           // + bucket slot
  if (key.bytes.capacity() > 15) bytes += key.bytes.capacity() + 1 + 16;
  return bytes + s.heap_bytes();
}

}  // namespace

// What cancel() needs: where the event went under each key.
class Ticket final : public VelocityTicketState {
 public:
  struct Ref {
    MapKey key;
    std::uint64_t generation = 0;  // of the shard
    std::uint64_t incarnation = 0;
    std::uint64_t position = 0;
  };
  const LocalVelocityCounters* owner = nullptr;
  std::atomic<bool> cancelled{false};
  std::uint64_t currency = 0;
  std::uint64_t amount = 0;
  std::array<std::optional<Ref>, kVelocityKeyCount> refs;
  std::array<std::uint32_t, kVelocityKeyCount> shards{};  // distinct, ascending
  std::size_t shard_count = 0;

  void add_shard(std::uint32_t s) {
    auto* end = shards.data() + shard_count;
    auto* pos = std::lower_bound(shards.data(), end, s);
    if (pos != end && *pos == s) return;
    std::move_backward(pos, end, end + 1);
    *pos = s;
    ++shard_count;
  }
  std::span<const std::uint32_t> shard_span() const { return {shards.data(), shard_count}; }
};

}  // namespace velocity_detail

using velocity_detail::kInt64Min;
using velocity_detail::sat_sub;
using velocity_detail::Series;
using velocity_detail::SeriesMap;
using velocity_detail::ShardLocks;
using velocity_detail::Ticket;

LocalVelocityCounters::LocalVelocityCounters() : LocalVelocityCounters(LocalVelocityCountersOptions{}) {}

LocalVelocityCounters::LocalVelocityCounters(LocalVelocityCountersOptions options)
    : prune_grace_(std::max(options.prune_grace, std::chrono::milliseconds(0))),
      retention_ms_(std::max<std::int64_t>(options.retention.count(), 0)),
      newest_ms_(kInt64Min),
      shards_(std::make_unique<velocity_detail::Shard[]>(kShardCount)) {}

LocalVelocityCounters::~LocalVelocityCounters() = default;

void LocalVelocityCounters::set_retention(std::chrono::milliseconds retention) {
  retention_ms_.store(std::max<std::int64_t>(retention.count(), 0), std::memory_order_relaxed);
}

std::int64_t LocalVelocityCounters::prune_cutoff() const {
  const std::int64_t newest = newest_ms_.load(std::memory_order_relaxed);
  if (newest == kInt64Min) return kInt64Min;
  return sat_sub(sat_sub(newest, retention_ms_.load(std::memory_order_relaxed)), prune_grace_.count());
}

void LocalVelocityCounters::note_time(std::int64_t at_ms) {
  std::int64_t seen = newest_ms_.load(std::memory_order_relaxed);
  while (at_ms > seen && !newest_ms_.compare_exchange_weak(seen, at_ms, std::memory_order_relaxed)) {
  }
}

Result<VelocityRead> LocalVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                            std::span<const VelocityQuery> queries) {
  const std::int64_t at = input.at.time_since_epoch().count();
  if (auto err = velocity_detail::check_event(input.amount, input.currency, at)) return std::move(*err);
  for (const auto& q : queries) {
    if (static_cast<std::size_t>(q.key) >= kVelocityKeyCount) return make_error("internal", "velocity: unknown key");
    if (q.window_ms <= 0) return make_error("internal", "velocity: window must be positive");
  }
  const std::uint64_t currency = *velocity_detail::currency_code(input.currency);
  const auto amount = static_cast<std::uint64_t>(input.amount);

  try {
    return read_and_record_unchecked(input, queries, at, currency, amount);
  } catch (const std::exception&) {  // std::bad_alloc; a partial recording was undone before it left
    return make_error("internal", "velocity: out of memory");
  }
}

Result<VelocityRead> LocalVelocityCounters::read_and_record_unchecked(const VelocityEventInput& input,
                                                                      std::span<const VelocityQuery> queries,
                                                                      std::int64_t at, std::uint64_t currency,
                                                                      std::uint64_t amount) {
  // Everything that allocates happens before locking, except a map node for a new key value and the growth of the
  // entries; if one of those fails, what this call recorded is undone before the exception leaves.
  VelocityRead out;
  out.totals.resize(queries.size());
  auto ticket = std::make_shared<Ticket>();
  std::array<std::uint32_t, kVelocityKeyCount> shard_of_key{};
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    if (!input.keys[k]) continue;
    auto& ref = ticket->refs[k].emplace();
    velocity_detail::fill_key(ref.key, k, *input.keys[k]);
    shard_of_key[k] = velocity_detail::shard_of(ref.key.hash);
    ticket->add_shard(shard_of_key[k]);
  }
  if (ticket->shard_count == 0) return out;  // no key: nothing to read or record

  note_time(at);
  const std::int64_t prune_at = prune_cutoff();
  std::uint64_t id = 0;
  {
    ShardLocks locks(shards_.get(), ticket->shard_span());
    std::array<Series*, kVelocityKeyCount> series{};
    std::array<velocity_detail::CurrencySeries*, kVelocityKeyCount> target{};
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      if (!ticket->refs[k]) continue;
      auto [it, inserted] = shards_[shard_of_key[k]].map.try_emplace(ticket->refs[k]->key);
      Series& s = it->second;
      if (inserted) {
        s.incarnation = next_incarnation_.fetch_add(1, std::memory_order_relaxed);
        s.first.code = currency;
      } else {
        s.prune(prune_at);
      }
      series[k] = &s;
      target[k] = &s.prepare(currency);
    }
    for (std::size_t i = 0; i < queries.size(); ++i) {
      Series* s = series[static_cast<std::size_t>(queries[i].key)];
      if (s != nullptr) out.totals[i] = s->totals(sat_sub(at, queries[i].window_ms), currency);
    }
    std::array<Series::Undo, kVelocityKeyCount> undo{};
    std::size_t k = 0;
    try {
      for (; k < kVelocityKeyCount; ++k) {
        if (series[k] == nullptr) continue;
        ticket->refs[k]->generation = shards_[shard_of_key[k]].generation;
        ticket->refs[k]->incarnation = series[k]->incarnation;
        ticket->refs[k]->position = series[k]->record(*target[k], at, amount, &undo[k]);
      }
    } catch (...) {  // all or nothing
      while (k-- > 0) {
        if (series[k] != nullptr) series[k]->unrecord(*target[k], undo[k]);
      }
      throw;
    }
    const std::uint32_t first = ticket->shards[0];
    id = (++shards_[first].ticket_seq << 8) | first;
    // Last: may erase series (only ones entirely past retention), so no Series* is used after this.
    for (auto s : ticket->shard_span())
      velocity_detail::sweep_some(shards_[s], prune_at, velocity_detail::kSweepBucketsPerCall);
  }
  ticket->owner = this;
  ticket->currency = currency;
  ticket->amount = amount;
  out.ticket = VelocityTicket{id, std::move(ticket)};
  return out;
}

void LocalVelocityCounters::cancel(const VelocityTicket& ticket) {
  if (ticket.id == 0 || !ticket.state) return;
  auto* t = dynamic_cast<Ticket*>(ticket.state.get());
  if (t == nullptr || t->owner != this) return;
  if (t->cancelled.exchange(true)) return;  // idempotent, also across copies of the ticket
  try {
    ShardLocks locks(shards_.get(), t->shard_span());
    struct Target {
      Series* series;
      velocity_detail::CurrencySeries* entries;
      std::size_t index;            // of the entry
      std::size_t cancelled_index;  // of its time in the cancelled list
    };
    std::array<Target, kVelocityKeyCount> targets{};
    std::size_t n = 0;
    for (const auto& ref : t->refs) {
      if (!ref) continue;
      velocity_detail::Shard& shard = shards_[velocity_detail::shard_of(ref->key.hash)];
      if (shard.generation != ref->generation) continue;  // rebuilt since
      auto it = shard.map.find(ref->key);
      if (it == shard.map.end() || it->second.incarnation != ref->incarnation) continue;  // erased: event gone
      Series& s = it->second;
      velocity_detail::CurrencySeries* c = s.find(t->currency);
      if (c == nullptr) continue;
      const auto index = c->locate(ref->position);
      if (!index) continue;  // pruned
      targets[n++] = Target{&s, c, *index, 0};
    }
    // First the cancelled times (may throw: undone), then the amounts (cannot fail): all keys or none.
    std::size_t done = 0;
    try {
      for (; done < n; ++done) {
        auto& tg = targets[done];
        tg.cancelled_index = tg.series->add_cancelled(velocity_detail::time_of(tg.entries->v[tg.index]));
      }
    } catch (...) {
      while (done-- > 0) targets[done].series->uncancel_time(targets[done].cancelled_index);
      throw;
    }
    for (std::size_t i = 0; i < n; ++i) {
      targets[i].entries->shift_cum(targets[i].index, velocity_detail::kCumModulus - t->amount);
    }
  } catch (const std::exception&) {
    t->cancelled.store(false);  // out of memory before anything changed: the event still counts; a retry may work
  }
}

namespace {

std::array<const std::string*, kVelocityKeyCount> key_values(const store::VelocityEvent& e) {
  std::array<const std::string*, kVelocityKeyCount> v{};
  auto opt = [](const std::optional<std::string>& o) { return o ? &*o : nullptr; };
  v[static_cast<std::size_t>(VelocityKey::kCard)] = e.card_fingerprint.empty() ? nullptr : &e.card_fingerprint;
  v[static_cast<std::size_t>(VelocityKey::kCustomer)] = opt(e.customer_id);
  v[static_cast<std::size_t>(VelocityKey::kEmail)] = opt(e.email);
  v[static_cast<std::size_t>(VelocityKey::kIp)] = opt(e.ip);
  v[static_cast<std::size_t>(VelocityKey::kDevice)] = opt(e.device_id);
  v[static_cast<std::size_t>(VelocityKey::kMerchant)] = &e.merchant_id;
  return v;
}

}  // namespace

Status LocalVelocityCounters::rebuild(std::span<const store::VelocityEvent> events) {
  try {
    return rebuild_unchecked(events);
  } catch (const std::exception&) {  // std::bad_alloc while building: the state is unchanged
    return make_error("internal", "velocity: out of memory while rebuilding");
  }
}

Status LocalVelocityCounters::rebuild_unchecked(std::span<const store::VelocityEvent> events) {
  for (const auto& e : events) {
    if (auto err = velocity_detail::check_event(e.amount, e.currency, e.at.time_since_epoch().count())) {
      return std::move(*err);
    }
  }
  // Oldest first is expected; sort (stably) if not, so that clamping cannot distort the rebuilt times.
  std::vector<std::size_t> order(events.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto by_time = [&](std::size_t a, std::size_t b) { return events[a].at < events[b].at; };
  if (!std::is_sorted(order.begin(), order.end(), by_time)) std::stable_sort(order.begin(), order.end(), by_time);

  std::int64_t newest = kInt64Min;
  if (!events.empty()) newest = events[order.back()].at.time_since_epoch().count();
  const std::int64_t cutoff =
      newest == kInt64Min
          ? kInt64Min
          : sat_sub(sat_sub(newest, retention_ms_.load(std::memory_order_relaxed)), prune_grace_.count());

  // Built without locks, swapped in under all of them; the old state is freed after unlocking.
  auto fresh = std::make_unique<SeriesMap[]>(kShardCount);
  velocity_detail::MapKey key;  // reused: a map node copies it only for a key value seen for the first time
  for (std::size_t idx : order) {
    const auto& e = events[idx];
    const std::int64_t at = e.at.time_since_epoch().count();
    if (at <= cutoff) continue;
    const std::uint64_t currency = *velocity_detail::currency_code(e.currency);
    const auto values = key_values(e);
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      if (values[k] == nullptr) continue;
      velocity_detail::fill_key(key, k, *values[k]);
      SeriesMap& m = fresh[velocity_detail::shard_of(key.hash)];
      auto it = m.find(key);
      if (it == m.end()) {
        it = m.try_emplace(key).first;
        it->second.incarnation = next_incarnation_.fetch_add(1, std::memory_order_relaxed);
        it->second.first.code = currency;
      }
      (void)it->second.record(it->second.prepare(currency), at, static_cast<std::uint64_t>(e.amount));
    }
  }
  // Shard by shard (a call running concurrently may see some key values rebuilt and others not: rebuild before
  // serving). Each swap invalidates the shard's outstanding tickets through its generation.
  newest_ms_.store(newest, std::memory_order_relaxed);
  for (std::size_t s = 0; s < kShardCount; ++s) {
    std::lock_guard lock(shards_[s].mu);
    shards_[s].map.swap(fresh[s]);
    shards_[s].sweep_cursor = 0;
    ++shards_[s].generation;
  }
  return Ok{};
}

void LocalVelocityCounters::prune() {
  const std::int64_t cutoff = prune_cutoff();
  for (std::size_t s = 0; s < kShardCount; ++s) {
    std::lock_guard lock(shards_[s].mu);
    SeriesMap& m = shards_[s].map;
    for (auto it = m.begin(); it != m.end();) {
      if (it->second.newest <= cutoff) {
        it = m.erase(it);
      } else {
        it->second.prune(cutoff);
        ++it;
      }
    }
  }
}

LocalVelocityStats LocalVelocityCounters::stats() const {
  LocalVelocityStats st;
  for (std::size_t s = 0; s < kShardCount; ++s) {
    std::lock_guard lock(shards_[s].mu);
    const SeriesMap& m = shards_[s].map;
    st.key_values += m.size();
    st.approximate_bytes += m.bucket_count() * sizeof(void*);
    for (const auto& [key, series] : m) {
      series.for_each_currency([&](const velocity_detail::CurrencySeries& c) { st.entries += c.v.size(); });
      st.cancelled += series.cancelled_count();
      st.approximate_bytes += velocity_detail::approximate_series_bytes(key, series);
    }
  }
  return st;
}

}  // namespace txv::cache

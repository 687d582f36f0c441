#include "cache/local/local_velocity_counters.h"

#include <malloc.h>

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
#include <system_error>
#include <thread>
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

// A fixed time bucket of folded events (older than the exact span): its start (a multiple of kBucketMs), the
// cumulative amount (mod 2^80) up to and including it, in the same running sum as the entries, and the cumulative
// count of events folded into the currency (mod 2^64).
struct Bucket {
  std::uint64_t w0;  // (start + kTimeBias) << 16 | bits 64..79 of the cumulative amount
  std::uint64_t lo;
  std::uint64_t ccount;
};
static_assert(sizeof(Bucket) == 24);

std::uint64_t time_word(std::int64_t t) { return static_cast<std::uint64_t>(t + kTimeBias) << 16; }
template <typename E>
std::int64_t time_of(const E& e) {
  return static_cast<std::int64_t>(e.w0 >> 16) - kTimeBias;
}
template <typename E>
U128 cum_of(const E& e) {
  return (U128{e.w0 & kHiMask} << 64) | e.lo;
}
template <typename E>
void set_cum(E& e, U128 c) {
  e.lo = static_cast<std::uint64_t>(c);
  e.w0 = (e.w0 & ~kHiMask) | (static_cast<std::uint64_t>(c >> 64) & kHiMask);
}

// Folded buckets are kBucketMs wide and aligned at multiples of it (so are those of the batch).
constexpr std::int64_t kBucketMs = 60'000;
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
std::int64_t bucket_start(std::int64_t t) { return floor_div(t, kBucketMs) * kBucketMs; }
// The largest x' <= x that ends a bucket (x' + 1 is a multiple of kBucketMs).
std::int64_t align_down(std::int64_t x) {
  if (x <= kMinTime) return x;
  return bucket_start(std::min(x, kMaxTime) + 1) - 1;
}

// A FIFO-ish sequence with random access, cheap front drops and cheap small instances: a vector with a head index
// while small (a one-event series costs one 16-byte allocation), a std::deque once it holds kSmallMax elements (so
// that neither growth nor compaction ever copies a large series under a lock: a std::deque costs ~600 bytes even
// when nearly empty, which is why it is not used for small series). Valid indices are [lo(), hi()).
template <typename T, bool kMayGrowBig = true>
class FrontStore {
 public:
  static constexpr std::size_t kSmallMax = kMayGrowBig ? 4096 : std::numeric_limits<std::size_t>::max();

  // Makes the next n push_back() calls not allocate (small form only; a no-op as a deque). May throw std::bad_alloc,
  // changing nothing.
  void reserve_back(std::size_t n) {
    if (big_ || v_.size() + n <= v_.capacity()) return;
    v_.reserve(std::max(v_.size() + n, 2 * v_.capacity()));
  }

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
  // Inserts [first, first + n) before lo(). Reuses the space of dropped elements when it can; otherwise O(size) in
  // the small form (at most kSmallMax elements) and O(n) as a deque. May throw std::bad_alloc, leaving the contents
  // unchanged.
  void prepend(const T* first, std::size_t n) {
    if (n == 0) return;
    if (!big_ && head_ >= n) {
      std::copy(first, first + n, v_.begin() + static_cast<std::ptrdiff_t>(head_ - n));
      head_ -= n;
      return;
    }
    if (!big_ && size() + n > kSmallMax) to_big();
    if (big_) {
      big_->insert(big_->begin(), first, first + n);
    } else {
      v_.insert(v_.begin() + static_cast<std::ptrdiff_t>(head_), first, first + n);
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

  // Gives back spare capacity after a large drop (a deque frees its blocks as it drops; a vector keeps its
  // capacity). Never throws (a failed shrink keeps the capacity).
  void compact() noexcept {
    try {
      if (big_) {
        if (big_->size() <= kSmallMax / 4) {
          std::vector<T> small(big_->begin(), big_->end());
          v_.swap(small);
          head_ = 0;
          big_.reset();
        }
        return;
      }
      if (head_ > 0 && v_.capacity() > 16) {
        v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
      if (v_.empty()) {
        head_ = 0;
        std::vector<T>().swap(v_);
      } else if (v_.capacity() > 16 && v_.capacity() > 2 * v_.size()) {
        v_.shrink_to_fit();
      }
    } catch (...) {
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

// An event loaded from history: its time and amount.
struct TimedAmount {
  std::int64_t at;
  std::uint64_t amount;
};
// A bucket loaded from history: its start, how many events and their amounts.
struct BucketAdd {
  std::int64_t start;
  std::uint64_t count;
  U128 amount;
  std::uint64_t max_amount;
};

// The events of one currency under one key value, in time order: first the folded buckets (every event stored at or
// before the series' folded_through), then the exact entries: `front` entries loaded from history (replace_all/
// merge_older put them before the others), then the recorded ones. Buckets and entries share one running sum of the
// amounts. Positions handed to tickets number the recorded entries only ("absolute": dropped + (index - lo() -
// front)), so they stay stable while the front is dropped or folded and while history is put in front.
struct CurrencySeries {
  std::uint64_t code = 0;
  std::uint64_t dropped = 0;       // recorded entries ever dropped from the front (pruned or folded)
  std::uint64_t max_amount = 0;    // largest amount ever held: bounds the exact-sum check
  std::uint64_t base_lo = 0;       // cumulative amount before the first entry (bits 0..63) = that of the last bucket
  std::uint64_t base_hi : 16 = 0;  // bits 64..79
  std::uint64_t front : 48 = 0;    // loaded entries at the front
  FrontStore<Entry> v;
  // Folded buckets: cumulative amount and count before the first one (equal to base() and anything when empty).
  std::uint64_t bbase_lo = 0;
  std::uint64_t bbase_hi = 0;
  std::uint64_t bcount_base = 0;
  FrontStore<Bucket, false> b;

  U128 base() const { return (U128{base_hi} << 64) | base_lo; }
  void set_base(U128 x) {
    base_lo = static_cast<std::uint64_t>(x);
    base_hi = static_cast<std::uint64_t>(x >> 64) & kHiMask;
    if (b.size() == 0) set_bbase(x);
  }
  U128 bbase() const { return (U128{bbase_hi} << 64) | bbase_lo; }
  void set_bbase(U128 x) {
    bbase_lo = static_cast<std::uint64_t>(x);
    bbase_hi = static_cast<std::uint64_t>(x >> 64) & kHiMask;
  }
  U128 last_cum() const { return v.size() > 0 ? cum_of(v[v.hi() - 1]) : base(); }
  std::uint64_t last_ccount() const { return b.size() > 0 ? b[b.hi() - 1].ccount : bcount_base; }
  std::uint64_t folded_events() const { return last_ccount() - bcount_base; }

  // Index of the first live entry with time > cutoff (v.hi() if none).
  std::size_t first_after(std::int64_t cutoff) const {
    if (cutoff < kMinTime) return v.lo();
    const std::uint64_t key = time_word(std::min(cutoff, kMaxTime)) | kHiMask;
    return v.partition_point([key](const Entry& e) { return e.w0 <= key; });
  }
  // Index of the first bucket starting after cutoff.
  std::size_t first_bucket_after(std::int64_t cutoff) const {
    if (cutoff < kMinTime) return b.lo();
    const std::uint64_t key = time_word(std::min(cutoff, kMaxTime)) | kHiMask;
    return b.partition_point([key](const Bucket& e) { return e.w0 <= key; });
  }

  // Count and amount of everything after `cutoff` (the caller aligned it to a bucket end when it falls among the
  // buckets). Amount saturated at INT64_MAX.
  void totals_after(std::int64_t cutoff, std::int64_t& count, std::int64_t* amount) const {
    const std::size_t i = first_after(cutoff);
    std::size_t j = b.hi();
    std::uint64_t n = v.hi() - i;
    if (i == v.lo() && b.size() > 0) {
      j = first_bucket_after(cutoff);
      n += last_ccount() - (j == b.lo() ? bcount_base : b[j - 1].ccount);
    }
    count += static_cast<std::int64_t>(n);
    if (amount == nullptr || n == 0) return;
    const U128 prev =
        j < b.hi() ? (j == b.lo() ? bbase() : cum_of(b[j - 1])) : (i == v.lo() ? base() : cum_of(v[i - 1]));
    if (U128{n} * max_amount < kCumModulus) {  // the true sum is below 2^80: the modular difference is exact
      const U128 s = (last_cum() - prev) & kCumMask;
      *amount = s > static_cast<U128>(kInt64Max) ? kInt64Max : static_cast<std::int64_t>(s);
      return;
    }
    // Cannot happen with contract amounts (<= 10^15); exact but linear, and a bucket whose own sum could exceed 2^80
    // saturates.
    U128 total = 0, p = prev;
    for (std::size_t k = j; k < b.hi(); ++k) {
      const std::uint64_t in_bucket = b[k].ccount - (k == b.lo() ? bcount_base : b[k - 1].ccount);
      if (U128{in_bucket} * max_amount >= kCumModulus) {
        *amount = kInt64Max;
        return;
      }
      const U128 c = cum_of(b[k]);
      total += (c - p) & kCumMask;
      p = c;
      if (total >= static_cast<U128>(kInt64Max)) {
        *amount = kInt64Max;
        return;
      }
    }
    for (std::size_t k = i; k < v.hi(); ++k) {
      const U128 c = cum_of(v[k]);
      total += (c - p) & kCumMask;  // one amount (< 2^63)
      p = c;
      if (total >= static_cast<U128>(kInt64Max)) {
        *amount = kInt64Max;
        return;
      }
    }
    *amount = static_cast<std::int64_t>(total);
  }

  // Returns the new entry's absolute position. May throw std::bad_alloc, changing nothing.
  std::uint64_t append(std::int64_t t, std::uint64_t amount) {
    Entry e{time_word(t), 0};
    set_cum(e, (last_cum() + amount) & kCumMask);
    v.push_back(e);
    max_amount = std::max(max_amount, amount);
    return dropped + (v.size() - 1 - front);
  }
  // Puts older events (ascending times, none later than the first live entry, all after the buckets) before the
  // live entries; positions of recorded entries are unchanged. `buf` is scratch. May throw std::bad_alloc, changing
  // nothing.
  void prepend(std::span<const TimedAmount> events, std::vector<Entry>& buf) {
    const std::size_t k = events.size();
    if (k == 0) return;
    buf.resize(k);
    // Never later than the first live entry (replace_all racing live calls): keeps the entries in time order.
    const std::int64_t latest = v.size() > 0 ? time_of(v[v.lo()]) : kMaxTime;
    U128 cum = base();  // the newest loaded entry's cumulative amount is the old base
    std::uint64_t largest = max_amount;
    for (std::size_t i = k; i-- > 0;) {
      Entry e{time_word(std::min(events[i].at, latest)), 0};
      set_cum(e, cum);
      buf[i] = e;
      cum = (cum - events[i].amount) & kCumMask;
      largest = std::max(largest, events[i].amount);
    }
    v.prepend(buf.data(), k);
    base_lo = static_cast<std::uint64_t>(cum);
    base_hi = static_cast<std::uint64_t>(cum >> 64) & kHiMask;
    if (b.size() > 0) {  // the buckets end where the entries begin: shift them (rare: history put between)
      const U128 delta = (cum - cum_of(b[b.hi() - 1])) & kCumMask;
      for (std::size_t j = b.lo(); j < b.hi(); ++j) set_cum(b[j], (cum_of(b[j]) + delta) & kCumMask);
      set_bbase((bbase() + delta) & kCumMask);
    } else {
      set_bbase(cum);
    }
    front += k;
    max_amount = largest;
  }
  // Puts older buckets (ascending starts, none after the first live bucket; one equal to it is merged into it)
  // before the live ones. `buf` is scratch. May throw std::bad_alloc, changing nothing.
  void prepend_buckets(std::span<const BucketAdd> adds, std::vector<Bucket>& buf) {
    std::size_t k = adds.size();
    if (k == 0) return;
    U128 cum = bbase();
    std::uint64_t count = bcount_base;
    std::uint64_t largest = max_amount;
    if (b.size() > 0 && adds[k - 1].start == time_of(b[b.lo()])) {  // the same minute: into the first live bucket
      cum = (cum - adds[k - 1].amount) & kCumMask;
      count -= adds[k - 1].count;
      largest = std::max(largest, adds[k - 1].max_amount);
      --k;
    }
    buf.resize(k);
    for (std::size_t i = k; i-- > 0;) {
      Bucket e{time_word(adds[i].start), 0, count};
      set_cum(e, cum);
      buf[i] = e;
      cum = (cum - adds[i].amount) & kCumMask;
      count -= adds[i].count;
      largest = std::max(largest, adds[i].max_amount);
    }
    b.prepend(buf.data(), k);
    set_bbase(cum);
    bcount_base = count;
    max_amount = largest;
  }
  // Amount of the entry at index i.
  std::uint64_t amount_at(std::size_t i) const {
    const U128 prev = i == v.lo() ? base() : cum_of(v[i - 1]);
    return static_cast<std::uint64_t>((cum_of(v[i]) - prev) & kCumMask);
  }
  // Undoes the last append() (max_amount stays: it is only an upper bound).
  void unappend() noexcept { v.pop_back(); }

  // Drops everything at or before `cutoff` (entries by time, buckets by start: the caller aligns the cutoff to a
  // bucket end when it falls among the buckets).
  void prune(std::int64_t cutoff) noexcept {
    if (cutoff < kMinTime) return;
    const std::uint64_t key = time_word(std::min(cutoff, kMaxTime)) | kHiMask;
    if (b.size() > 0) {
      const std::size_t j = b.partition_point_from_front([key](const Bucket& e) { return e.w0 <= key; });
      if (j != b.lo()) {
        set_bbase(cum_of(b[j - 1]));
        bcount_base = b[j - 1].ccount;
        b.drop_front(j);
      }
    }
    const std::size_t i = v.partition_point_from_front([key](const Entry& e) { return e.w0 <= key; });
    if (i == v.lo()) return;
    set_base(cum_of(v[i - 1]));
    drop_entries(i);
  }
  // Drops entries [lo, i) (already accounted for in base/buckets).
  void drop_entries(std::size_t i) noexcept {
    const std::uint64_t n = i - v.lo();
    const std::uint64_t loaded = std::min<std::uint64_t>(n, front);
    front = front - loaded;
    dropped += n - loaded;
    v.drop_front(i);
  }

  // Buckets that fold(h) would add: allocate them first (may throw std::bad_alloc, changing nothing).
  std::size_t prepare_fold(std::int64_t h) {
    const std::uint64_t key = time_word(std::min(h, kMaxTime)) | kHiMask;
    const std::size_t k = v.partition_point_from_front([key](const Entry& e) { return e.w0 <= key; });
    std::size_t n = 0;
    std::int64_t last = b.size() > 0 ? time_of(b[b.hi() - 1]) : kInt64Min;
    for (std::size_t i = v.lo(); i < k; ++i) {
      const std::int64_t s = bucket_start(time_of(v[i]));
      if (s != last) ++n, last = s;
    }
    b.reserve_back(n);
    return k;
  }
  // Moves the entries [lo, k) (from prepare_fold) into buckets. Never throws.
  void fold(std::size_t k) noexcept {
    if (k == v.lo()) return;
    for (std::size_t i = v.lo(); i < k; ++i) {
      const std::int64_t s = bucket_start(time_of(v[i]));
      if (b.size() > 0 && time_of(b[b.hi() - 1]) == s) {
        Bucket& last = b[b.hi() - 1];
        set_cum(last, cum_of(v[i]));
        ++last.ccount;
      } else {
        Bucket e{time_word(s), 0, last_ccount() + 1};
        set_cum(e, cum_of(v[i]));
        b.push_back(e);  // reserved: does not allocate
      }
    }
    base_lo = static_cast<std::uint64_t>(cum_of(v[k - 1]));
    base_hi = static_cast<std::uint64_t>(cum_of(v[k - 1]) >> 64) & kHiMask;
    drop_entries(k);
  }

  // Index of the recorded entry at absolute position `pos`, or nullopt when it is gone (pruned or folded).
  std::optional<std::size_t> locate(std::uint64_t pos) const {
    if (pos < dropped || pos - dropped >= v.size() - front) return std::nullopt;
    return v.lo() + static_cast<std::size_t>(front + (pos - dropped));
  }
  // Index of the bucket starting at `start`, if held.
  std::optional<std::size_t> bucket_at(std::int64_t start) const {
    const std::size_t j = first_bucket_after(start - 1);
    if (j < b.hi() && time_of(b[j]) == start) return j;
    return std::nullopt;
  }
  // Adds `delta` (mod 2^80) to entry i and every later cumulative value: with -amount, the entry's own amount
  // becomes zero. O(hi - i): the entries recorded under this key value and currency since that event.
  void shift_cum(std::size_t i, U128 delta) noexcept {
    for (std::size_t j = i; j < v.hi(); ++j) set_cum(v[j], (cum_of(v[j]) + delta) & kCumMask);
  }
  // The same from bucket j on, through every entry (a folded event's amount).
  void shift_buckets(std::size_t j, U128 delta) noexcept {
    for (std::size_t k = j; k < b.hi(); ++k) set_cum(b[k], (cum_of(b[k]) + delta) & kCumMask);
    const U128 nb = (base() + delta) & kCumMask;
    base_lo = static_cast<std::uint64_t>(nb);
    base_hi = static_cast<std::uint64_t>(nb >> 64) & kHiMask;
  }
};

// Everything recorded under one (key type, value).
struct Series {
  std::int64_t newest = kInt64Min;  // recorded times are monotonic: an earlier `at` is clamped to this
  std::uint64_t incarnation = 0;    // distinguishes a re-created series from an erased one (for tickets)
  // Every event stored at or before this is in a bucket, every later one an exact entry (a bucket end, or kInt64Min).
  std::int64_t folded_through = kInt64Min;
  std::int64_t pruned_through = kInt64Min;  // everything stored at or before this was dropped
  CurrencySeries first;                     // the currency the series was created with (usually the only one)
  // A recorded entry stored later than its `at` (clamped): where it is and its real time.
  struct Clamp {
    std::uint64_t position;  // of the recorded entry in its currency
    std::int64_t at;         // the event's own time (< the stored time)
    std::int64_t stored;
    std::uint64_t amount;
    std::uint32_t currency;  // 0: first, i + 1: extra->more[i]
    std::uint32_t cancelled;
  };
  struct Extra {
    std::vector<CurrencySeries> more;
    FrontStore<std::int64_t> cancelled;  // sorted stored times of cancelled events still held
    std::vector<Clamp> clamps;           // clamped events still held that a backfill may need, in recording order
  };
  std::unique_ptr<Extra> extra;  // rarely needed: keeps the common series small

  CurrencySeries& currency_at(std::uint32_t i) { return i == 0 ? first : extra->more[i - 1]; }
  const CurrencySeries& currency_at(std::uint32_t i) const { return i == 0 ? first : extra->more[i - 1]; }
  std::uint32_t index_of(const CurrencySeries& c) const {
    return &c == &first ? 0 : static_cast<std::uint32_t>(&c - extra->more.data()) + 1;
  }

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

  // A cutoff among the buckets is moved back to the end of a bucket: a bucket counts when any of it is after the
  // cutoff (the far-edge blur, < kBucketMs); the cancelled times follow the same rule.
  std::int64_t effective(std::int64_t cutoff) const { return cutoff >= folded_through ? cutoff : align_down(cutoff); }

  VelocityTotals totals(std::int64_t raw_cutoff, std::uint64_t currency) const {
    VelocityTotals t;
    const std::int64_t cutoff = effective(raw_cutoff);
    for_each_currency([&](const CurrencySeries& c) {
      std::int64_t amount = 0;
      c.totals_after(cutoff, t.count, c.code == currency ? &amount : nullptr);
      if (c.code == currency) t.amount = amount;
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
    bool clamped;
  };
  // Records one event in `c` (from prepare(), no other prepare() since); returns its absolute position there.
  // May throw std::bad_alloc, changing nothing.
  std::uint64_t record(CurrencySeries& c, std::int64_t at, std::uint64_t amount, Undo& undo, std::int64_t& stored) {
    undo = Undo{newest, false};
    // Never into the folded past (an event more than the exact span late).
    const std::int64_t t = std::max({newest, at, folded_through == kInt64Min ? kInt64Min : folded_through + 1});
    stored = t;
    const std::uint64_t pos = c.append(t, amount);
    if (t != at) {  // clamped: keep its own time for merge_older
      try {
        const std::uint32_t ci = index_of(c);
        ensure_extra().clamps.push_back(Clamp{pos, at, t, amount, ci, 0});
      } catch (...) {
        c.unappend();
        throw;
      }
      undo.clamped = true;
    }
    newest = t;
    return pos;
  }
  void unrecord(CurrencySeries& c, const Undo& undo) noexcept {
    if (undo.clamped) extra->clamps.pop_back();
    c.unappend();
    newest = undo.newest;
  }

  // Marks the ledger record of a cancelled recorded entry, if it was clamped.
  void note_cancelled(std::uint32_t currency, std::uint64_t position) noexcept {
    if (!extra) return;
    auto& cl = extra->clamps;
    for (std::size_t i = cl.size(); i-- > 0;) {  // cancels come soon after recording: near the back
      Clamp& r = cl[i];
      if (r.currency != currency) continue;
      if (r.position == position) r.cancelled = 1;
      if (r.position <= position) return;
    }
  }

  struct Straddler {
    std::int64_t at;
    std::uint64_t amount;
    std::uint64_t currency;
  };
  // Live (not cancelled) clamped entries whose own time is before `until` (their stored time is not, once
  // prune(until - 1) ran): their stored copies must not be merged again.
  void straddlers(std::int64_t until, std::vector<Straddler>& out) const {
    if (!extra) return;
    for (const Clamp& r : extra->clamps) {
      if (r.cancelled != 0 || r.at >= until || r.stored < until) continue;
      out.push_back(Straddler{r.at, r.amount, currency_at(r.currency).code});
    }
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

  void prune(std::int64_t raw_cutoff) noexcept {
    const std::int64_t cutoff = effective(raw_cutoff);
    pruned_through = std::max(pruned_through, cutoff);
    for_each_currency([&](CurrencySeries& c) { c.prune(cutoff); });
    if (!extra) return;
    if (cancelled_count() > 0) {
      auto& cx = extra->cancelled;
      cx.drop_front(cx.partition_point_from_front([cutoff](std::int64_t x) { return x <= cutoff; }));
    }
    // Clamp records are in recording order, whose stored times never decrease: the dropped ones are a prefix.
    auto& cl = extra->clamps;
    std::size_t i = 0;
    while (i < cl.size() && cl[i].stored <= cutoff) ++i;
    if (i != 0) cl.erase(cl.begin(), cl.begin() + static_cast<std::ptrdiff_t>(i));
  }
  std::size_t clamped_count() const { return extra ? extra->clamps.size() : 0; }

  // Folds every entry stored at or before h (a bucket end) into buckets. May throw std::bad_alloc, changing nothing.
  void fold(std::int64_t h) {
    if (h <= folded_through) return;
    std::array<std::size_t, 8> small{};
    std::vector<std::size_t> many;
    const std::size_t currencies = 1 + (extra ? extra->more.size() : 0);
    if (currencies > small.size()) many.resize(currencies);
    std::size_t* ks = currencies > small.size() ? many.data() : small.data();
    for (std::size_t i = 0; i < currencies; ++i) ks[i] = currency_at(static_cast<std::uint32_t>(i)).prepare_fold(h);
    for (std::size_t i = 0; i < currencies; ++i) currency_at(static_cast<std::uint32_t>(i)).fold(ks[i]);
    folded_through = h;
    if (!extra) return;
    // A backfill's boundary is a bucket start: a clamped event whose own time is in the bucket of its stored time
    // can no longer straddle one; drop its record.
    auto& cl = extra->clamps;
    cl.erase(
        std::remove_if(cl.begin(), cl.end(),
                       [h](const Clamp& r) { return r.stored <= h && bucket_start(r.at) == bucket_start(r.stored); }),
        cl.end());
  }

  void compact() noexcept {
    for_each_currency([](CurrencySeries& c) {
      c.v.compact();
      c.b.compact();
    });
    if (extra) {
      extra->cancelled.compact();
      if (extra->clamps.capacity() > 2 * extra->clamps.size()) extra->clamps.shrink_to_fit();
    }
  }

  std::size_t heap_bytes() const {
    std::size_t bytes = first.v.heap_bytes() + first.b.heap_bytes();
    if (extra) {
      bytes += sizeof(Extra) + extra->cancelled.heap_bytes() + extra->clamps.capacity() * sizeof(Clamp);
      for (const auto& c : extra->more) bytes += sizeof(CurrencySeries) + c.v.heap_bytes() + c.b.heap_bytes();
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

// The key kind (VelocityKey index) of a series: the first byte of its map key.
std::size_t kind_of(std::string_view key_bytes) { return static_cast<unsigned char>(key_bytes[0]); }

// Drops what is past its kind's cutoff in a few buckets of the shard; erases key values left with nothing.
void sweep_some(Shard& shard, const KeyCutoffs& cutoffs, std::int64_t fold_at, std::size_t buckets) {
  SeriesMap& m = shard.map;
  if (m.empty()) return;
  const std::size_t bucket_count = m.bucket_count();
  for (std::size_t n = 0; n < buckets; ++n) {
    const std::size_t b = shard.sweep_cursor++ % bucket_count;
    for (auto it = m.begin(b); it != m.end(b);) {
      auto next = std::next(it);
      const std::int64_t cutoff = cutoffs[kind_of(it->first.bytes)];
      if (it->second.newest <= cutoff) {
        m.erase(m.find(it->first));  // erasing one element leaves other iterators valid
      } else {
        it->second.prune(cutoff);
        try {
          it->second.fold(fold_at);
        } catch (...) {  // out of memory: stays exact for now
        }
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
    std::int64_t stored = 0;  // the time it was stored at (its bucket once folded)
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

// Stored decisions turned into per-key-value event lists, built without any lock of the counters. Events older than
// the exact span behind the newest added so far are folded into buckets as they come (stored decisions come oldest
// first), so a batch holds about one exact span of events plus a bucket per key value, currency and minute.
struct FreshEvent {
  std::int64_t at;  // the event's time, or a bucket's start
  std::uint64_t amount_lo;
  std::uint32_t count : 31;  // 1 for an event; a bucket's events; 0: removed (the stored copy of a clamped live entry)
  std::uint32_t bucket : 1;
  std::uint16_t currency;   // index into the batch's currencies
  std::uint16_t amount_hi;  // the event's amount, or the sum of the bucket's, mod 2^80 (as the counters keep sums)

  static FreshEvent make(std::int64_t at, std::uint64_t amount, std::uint16_t currency, bool bucket) {
    FreshEvent x{at, amount, 1, bucket ? 1u : 0u, currency, 0};
    return x;
  }
  U128 amount() const { return (U128{amount_hi} << 64) | amount_lo; }
  void set_amount(U128 a) {
    amount_lo = static_cast<std::uint64_t>(a);
    amount_hi = static_cast<std::uint16_t>(a >> 64);
  }
};
static_assert(sizeof(FreshEvent) == 24);
constexpr std::uint32_t kMaxFreshCount = (1u << 31) - 1;
struct FreshSeries {
  std::vector<FreshEvent> events;
  std::uint64_t max_amount = 0;  // largest single amount added
  std::uint32_t exact_from = 0;  // events before this index are buckets
  bool sorted = true;
};
// A batch's key: short values (a card fingerprint, an e-mail) inline in the map node, so that a lookup touches the
// bucket and the node only (loading is mostly these lookups). Same bytes and hash as MapKey.
struct FreshKey {
  static constexpr std::size_t kInline = 46;
  std::size_t hash = 0;
  std::uint16_t len = 0;
  std::array<char, kInline> small{};
  std::string big;  // when longer than kInline

  void assign(std::size_t key_index, std::string_view value) {
    len = static_cast<std::uint16_t>(std::min<std::size_t>(value.size() + 1, 0xFFFF));
    if (value.size() + 1 <= kInline) {
      big.clear();
      small[0] = static_cast<char>(key_index);
      std::copy(value.begin(), value.end(), small.begin() + 1);
      len = static_cast<std::uint16_t>(value.size() + 1);
    } else {
      big.clear();
      big.push_back(static_cast<char>(key_index));
      big.append(value);
      len = 0xFFFF;
    }
    hash = std::hash<std::string_view>{}(view());
  }
  std::string_view view() const { return len != 0xFFFF ? std::string_view(small.data(), len) : std::string_view(big); }
  bool operator==(const FreshKey& o) const { return hash == o.hash && view() == o.view(); }
};
struct FreshKeyHash {
  std::size_t operator()(const FreshKey& k) const noexcept { return k.hash; }
};
using FreshMap = std::unordered_map<FreshKey, FreshSeries, FreshKeyHash>;

class HistoryBatch final : public VelocityHistory::Batch {
 public:
  HistoryBatch(const LocalVelocityCounters* owner_, const KeyRanges& ranges)
      : owner(owner_), shards(std::make_unique<FreshMap[]>(LocalVelocityCounters::kShardCount)) {
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      keep_from[k] = ranges[k].since.time_since_epoch().count();
      keep_until[k] = ranges[k].until.time_since_epoch().count();
    }
  }

  Status add(std::span<const store::VelocityEvent> events) override {
    if (failed) return make_error("internal", "velocity: the history batch is incomplete");
    for (const auto& e : events) {
      if (auto err = check_event(e.amount, e.currency, e.at.time_since_epoch().count())) return std::move(*err);
    }
    // The chunk's newest time first: every event of it folds against the same target (never beyond what the
    // counters will fold to, since that is computed from the newest of all).
    for (const auto& e : events) newest = std::max(newest, e.at.time_since_epoch().count());
    fold_through = owner->fold_target(newest);
    // Currencies as small indices (an item is 24 bytes).
    try {
      chunk_currency_.resize(events.size());
      for (std::size_t i = 0; i < events.size(); ++i) {
        const std::uint64_t code = *currency_code(events[i].currency);
        auto it = std::find(currencies.begin(), currencies.end(), code);
        if (it == currencies.end()) {
          if (currencies.size() > 0xFFFF) return make_error("internal", "velocity: more than 65536 currencies");
          currencies.push_back(code);
          it = currencies.end() - 1;
        }
        chunk_currency_[i] = static_cast<std::uint16_t>(it - currencies.begin());
      }
    } catch (const std::exception&) {
      failed = true;
      return make_error("internal", "velocity: out of memory while loading history");
    }
    // Two halves of the shards on two threads (each reads the whole chunk and keeps the key values of its half):
    // hashing into the key maps is most of a load's time.
    std::atomic<bool> out_of_memory{false};
    auto run = [&](Worker& w, std::uint32_t lo, std::uint32_t hi) {
      try {
        for (std::size_t i = 0; i < events.size(); ++i) add_one(w, events[i], chunk_currency_[i], lo, hi);
      } catch (const std::exception&) {  // std::bad_alloc
        out_of_memory = true;
      }
    };
    if (events.size() >= kParallelMin && std::thread::hardware_concurrency() > 1) {
      try {
        std::thread helper(run, std::ref(workers_[1]), LocalVelocityCounters::kShardCount / 2,
                           LocalVelocityCounters::kShardCount);
        run(workers_[0], 0, LocalVelocityCounters::kShardCount / 2);
        helper.join();
      } catch (const std::system_error&) {  // no thread: one after the other
        run(workers_[0], 0, LocalVelocityCounters::kShardCount / 2);
        run(workers_[1], LocalVelocityCounters::kShardCount / 2, LocalVelocityCounters::kShardCount);
      }
    } else {
      run(workers_[0], 0, LocalVelocityCounters::kShardCount);
    }
    if (out_of_memory) {  // the batch is unusable from now on
      failed = true;
      return make_error("internal", "velocity: out of memory while loading history");
    }
    count += events.size();
    return Ok{};
  }
  std::size_t size() const override { return count; }
  static constexpr std::size_t kParallelMin = 1024;

  const LocalVelocityCounters* owner;
  std::unique_ptr<FreshMap[]> shards;  // kShardCount
  std::int64_t newest = kInt64Min;
  std::int64_t fold_through = kInt64Min;  // the owner's fold target for `newest`
  std::vector<std::uint64_t> currencies;  // codes, by FreshEvent::currency
  std::size_t count = 0;
  bool failed = false;
  // Key k of an event is kept when keep_from[k] <= at < keep_until[k].
  KeyCutoffs keep_from{};
  KeyCutoffs keep_until{};

 private:
  struct Worker {
    std::string scratch;
    FreshKey key;  // reused: a map node copies it only for a key value seen for the first time
  };
  // Adds the event under its key values whose shard is in [lo, hi).
  void add_one(Worker& w, const store::VelocityEvent& e, std::uint16_t currency, std::uint32_t lo, std::uint32_t hi) {
    const std::int64_t at = e.at.time_since_epoch().count();
    const auto amount = static_cast<std::uint64_t>(e.amount);
    std::array<bool, kVelocityKeyCount> keep{};
    bool any = false;
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      keep[k] = keep_from[k] <= at && at < keep_until[k];
      any = any || keep[k];
    }
    if (!any) return;
    // Keys not kept are left out before the mapping (no lower-casing, no hashing).
    VelocityKeyFields fields = velocity_key_fields(e);
    if (!keep[static_cast<std::size_t>(VelocityKey::kCard)]) fields.card_fingerprint = {};
    if (!keep[static_cast<std::size_t>(VelocityKey::kCustomer)]) fields.customer_id = nullptr;
    if (!keep[static_cast<std::size_t>(VelocityKey::kEmail)]) fields.email = nullptr;
    if (!keep[static_cast<std::size_t>(VelocityKey::kIp)]) fields.ip = nullptr;
    if (!keep[static_cast<std::size_t>(VelocityKey::kDevice)]) fields.device_id = nullptr;
    for_each_velocity_key(fields, w.scratch, [&](VelocityKey k, std::string_view value) {
      if (!keep[static_cast<std::size_t>(k)]) return;  // the merchant, always emitted
      w.key.assign(static_cast<std::size_t>(k), value);
      const std::uint32_t shard = shard_of(w.key.hash);
      if (shard < lo || shard >= hi) return;
      FreshSeries& fs = shards[shard][w.key];
      if (at <= fold_through) {
        const std::int64_t start = bucket_start(at);
        if (!fs.events.empty()) {
          FreshEvent& last = fs.events.back();
          if (last.bucket && last.at == start && last.currency == currency && last.count < kMaxFreshCount) {
            ++last.count;
            last.set_amount(last.amount() + amount);
            fs.max_amount = std::max(fs.max_amount, amount);
            return;
          }
        }
        push(fs, FreshEvent::make(start, amount, currency, true));
        fs.max_amount = std::max(fs.max_amount, amount);
        return;
      }
      push(fs, FreshEvent::make(at, amount, currency, false));
      fs.max_amount = std::max(fs.max_amount, amount);
      maybe_fold(fs);
    });
  }
  static void push(FreshSeries& fs, const FreshEvent& x) {
    if (!fs.events.empty() && fs.events.back().at > x.at) fs.sorted = false;
    const bool all_buckets = fs.exact_from == fs.events.size();
    fs.events.push_back(x);
    if (x.bucket && all_buckets) fs.exact_from = static_cast<std::uint32_t>(fs.events.size());
  }
  // Folds what became old since it was added, when that is at least a quarter of the exact events (amortised O(1)
  // per event; stored decisions come in time order, so usually at once for a key value seen every few minutes).
  void maybe_fold(FreshSeries& fs) const {
    const std::size_t exact = fs.events.size() - fs.exact_from;
    if (exact == 0 || fs.events[fs.exact_from].at > fold_through) return;
    if (fs.sorted) {
      const auto old =
          std::partition_point(fs.events.begin() + static_cast<std::ptrdiff_t>(fs.exact_from), fs.events.end(),
                               [this](const FreshEvent& x) { return x.at <= fold_through; });
      if (static_cast<std::size_t>(old - fs.events.begin()) - fs.exact_from >= (exact + 3) / 4) fold(fs);
    } else if (exact >= 64) {
      fold(fs);
    }
  }
  // Folds the series' exact events at or before fold_through into buckets, in place.
  void fold(FreshSeries& fs) const {
    auto& ev = fs.events;
    std::size_t w = fs.exact_from;
    std::size_t exact_from = w;
    for (std::size_t r = fs.exact_from; r < ev.size(); ++r) {
      FreshEvent x = ev[r];
      if (!x.bucket && x.at <= fold_through) {
        x.bucket = true;
        x.at = bucket_start(x.at);
        if (w > 0 && ev[w - 1].bucket && ev[w - 1].at == x.at && ev[w - 1].currency == x.currency &&
            std::uint32_t{ev[w - 1].count} + std::uint32_t{x.count} <= kMaxFreshCount) {
          ev[w - 1].count += x.count;
          ev[w - 1].set_amount(ev[w - 1].amount() + x.amount());
          continue;
        }
      }
      ev[w++] = x;
      if (x.bucket && exact_from == w - 1) exact_from = w;
    }
    ev.resize(w);
    fs.exact_from = static_cast<std::uint32_t>(exact_from);
  }

  std::array<Worker, 2> workers_;
  std::vector<std::uint16_t> chunk_currency_;
};

// Puts `slice` (ascending times, all older than what `live` holds) in front of the live series, one currency at a
// time (usually there is only one): events stored after the series' folded_through as entries, the rest into
// buckets. Consumes the slice (its items get count 0 as they are handled).
void prepend_slice(Series& live, std::span<FreshEvent> slice, std::span<const std::uint64_t> currencies,
                   std::uint64_t max_amount, std::vector<TimedAmount>& run, std::vector<BucketAdd>& adds,
                   std::vector<Entry>& buf, std::vector<Bucket>& bbuf) {
  // Buckets must end at or before folded_through (the batch folded with the same target: only a defence).
  std::int64_t need = kInt64Min;
  for (const auto& x : slice) {
    if (x.count != 0 && x.bucket) need = std::max(need, x.at + kBucketMs - 1);
  }
  if (need > live.folded_through) live.fold(need);
  for (std::size_t i = 0; i < slice.size(); ++i) {
    if (slice[i].count == 0) continue;
    const std::uint16_t code = slice[i].currency;
    run.clear();
    adds.clear();
    for (std::size_t j = i; j < slice.size(); ++j) {
      const FreshEvent& x = slice[j];
      if (x.currency != code || x.count == 0) continue;
      if (!x.bucket && x.at > live.folded_through) {
        run.push_back({x.at, x.amount_lo});
        continue;
      }
      const std::int64_t start = x.bucket ? x.at : bucket_start(x.at);
      if (!adds.empty() && adds.back().start == start) {
        adds.back().count += x.count;
        adds.back().amount += x.amount();
      } else {
        adds.push_back(BucketAdd{start, x.count, x.amount(), max_amount});
      }
    }
    // Sorted by time, so a bucket may come after an exact event of the same minute only when both are folded:
    // `adds` is ascending.
    CurrencySeries& c =
        live.prepare(currencies[code]);  // may throw: the slice is then left as it was for this currency
    c.prepend(run, buf);
    c.prepend_buckets(adds, bbuf);
    for (std::size_t j = i; j < slice.size(); ++j) {
      if (slice[j].currency == code) slice[j].count = 0;
    }
  }
}

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
      exact_span_(std::max(options.exact_span, std::chrono::milliseconds(0))),
      newest_ms_(kInt64Min),
      shards_(std::make_unique<velocity_detail::Shard[]>(kShardCount)) {
  for (auto& r : retention_ms_) r.store(std::max<std::int64_t>(options.retention.count(), 0));
  complete_from_.fill(kInt64Min);
}

LocalVelocityCounters::~LocalVelocityCounters() = default;

std::int64_t LocalVelocityCounters::cutoff_after(std::int64_t newest, std::size_t key) const {
  if (newest == kInt64Min) return kInt64Min;
  return sat_sub(sat_sub(newest, retention_ms_[key].load()), prune_grace_.count());
}

std::int64_t LocalVelocityCounters::prune_cutoff(std::size_t key) const {
  // Sequentially consistent with set_retention(): see there.
  return cutoff_after(newest_ms_.load(), key);
}

velocity_detail::KeyCutoffs LocalVelocityCounters::prune_cutoffs() const {
  // Sequentially consistent with set_retention(): newest first, then each key's retention.
  velocity_detail::KeyCutoffs out;
  const std::int64_t newest = newest_ms_.load();
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) out[k] = cutoff_after(newest, k);
  return out;
}

std::int64_t LocalVelocityCounters::fold_target(std::int64_t newest) const {
  if (newest == kInt64Min) return kInt64Min;
  const std::int64_t h = sat_sub(sat_sub(newest, exact_span_.count()), prune_grace_.count());
  return h <= velocity_detail::kMinTime ? kInt64Min : velocity_detail::align_down(h);
}

std::int64_t LocalVelocityCounters::fold_cutoff() const { return fold_target(newest_ms_.load()); }

void LocalVelocityCounters::note_time(std::int64_t at_ms) {
  std::int64_t seen = newest_ms_.load(std::memory_order_relaxed);
  while (at_ms > seen && !newest_ms_.compare_exchange_weak(seen, at_ms)) {
  }
}

Task<Result<VelocityRead>> LocalVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                  std::span<const VelocityQuery> queries) {
  co_return record_now(input, queries);
}

Task<Status> LocalVelocityCounters::cancel(const VelocityTicket& ticket) { co_return cancel_now(ticket); }

Result<VelocityRead> LocalVelocityCounters::record_now(const VelocityEventInput& input,
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
  const velocity_detail::KeyCutoffs prune_at = prune_cutoffs();
  const std::int64_t fold_at = fold_cutoff();
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
        s.folded_through = fold_at;
      } else {
        s.prune(prune_at[k]);
        s.fold(fold_at);  // may throw before changing anything (and nothing is recorded yet)
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
        ticket->refs[k]->position = series[k]->record(*target[k], at, amount, undo[k], ticket->refs[k]->stored);
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
      velocity_detail::sweep_some(shards_[s], prune_at, fold_at, velocity_detail::kSweepBucketsPerCall);
  }
  ticket->owner = this;
  ticket->currency = currency;
  ticket->amount = amount;
  out.ticket = VelocityTicket{id, std::move(ticket)};
  return out;
}

Status LocalVelocityCounters::cancel_now(const VelocityTicket& ticket) {
  if (ticket.id == 0 || !ticket.state) return Ok{};
  auto* t = dynamic_cast<Ticket*>(ticket.state.get());
  if (t == nullptr || t->owner != this) return Ok{};
  if (t->cancelled.exchange(true)) return Ok{};  // idempotent, also across copies of the ticket
  try {
    ShardLocks locks(shards_.get(), t->shard_span());
    struct Target {
      Series* series;
      velocity_detail::CurrencySeries* entries;
      std::size_t index;            // of the entry, or of its bucket when folded
      std::size_t cancelled_index;  // of its time in the cancelled list
      std::uint64_t position;
      std::int64_t stored;
      bool folded;
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
      if (const auto index = c->locate(ref->position)) {
        targets[n++] = Target{&s, c, *index, 0, ref->position, ref->stored, false};
        continue;
      }
      // Gone from the entries: folded into the bucket of its stored time, unless pruned.
      if (ref->position >= c->dropped || ref->stored <= s.pruned_through || ref->stored > s.folded_through) continue;
      if (const auto j = c->bucket_at(velocity_detail::bucket_start(ref->stored))) {
        targets[n++] = Target{&s, c, *j, 0, ref->position, ref->stored, true};
      }
    }
    // First the cancelled times (may throw: undone), then the amounts (cannot fail): all keys or none.
    std::size_t done = 0;
    try {
      for (; done < n; ++done) {
        auto& tg = targets[done];
        tg.cancelled_index = tg.series->add_cancelled(tg.stored);
      }
    } catch (...) {
      while (done-- > 0) targets[done].series->uncancel_time(targets[done].cancelled_index);
      throw;
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto& tg = targets[i];
      if (tg.folded) {
        tg.entries->shift_buckets(tg.index, velocity_detail::kCumModulus - t->amount);
        tg.entries->shift_cum(tg.entries->v.lo(), velocity_detail::kCumModulus - t->amount);
      } else {
        tg.entries->shift_cum(tg.index, velocity_detail::kCumModulus - t->amount);
      }
      tg.series->note_cancelled(tg.series->index_of(*tg.entries), tg.position);
    }
  } catch (const std::exception&) {
    t->cancelled.store(false);  // out of memory before anything changed: the event still counts; a retry may work
    return make_error("internal", "velocity: out of memory while cancelling");
  }
  return Ok{};
}

KeyRetention LocalVelocityCounters::retention() const {
  KeyRetention out;
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) out[k] = std::chrono::milliseconds(retention_ms_[k].load());
  return out;
}

KeyRanges LocalVelocityCounters::set_retention(const KeyRetention& retention, domain::TimePoint now) {
  std::lock_guard admin(admin_mu_);
  velocity_detail::KeyCutoffs grown{}, old{};
  bool shrunk = false;
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    grown[k] = std::max<std::int64_t>(retention[k].count(), 0);
    old[k] = retention_ms_[k].exchange(grown[k]);
    shrunk = shrunk || grown[k] < old[k];
  }
  if (shrunk) prune();
  // Which events of key k may be missing: every prune cutoff of key k computed with its old retention was at most
  // newest - old - grace for the newest value read here. (prune_cutoff() reads newest, then the retention; if it
  // read the old retention, that read came before the exchange above in the single total order of these
  // sequentially consistent operations, so its read of newest came before the one below, and newest only grows.)
  // Cutoffs computed with the new retention drop only what is past it.
  const std::int64_t newest = newest_ms_.load();
  KeyRanges out{};
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    if (grown[k] <= old[k]) continue;
    std::int64_t until = complete_from_[k];
    if (newest != kInt64Min) {
      const std::int64_t cut = sat_sub(sat_sub(newest, old[k]), prune_grace_.count());
      until = std::max(until, cut == std::numeric_limits<std::int64_t>::max() ? cut : cut + 1);
    }
    // A bucket start, so that no bucket straddles it (merge_older drops everything before it, whole buckets).
    if (until > velocity_detail::kMinTime && until <= velocity_detail::kMaxTime) {
      until = velocity_detail::align_down(until - 1 + velocity_detail::kBucketMs - 1) + 1;
    }
    const std::int64_t base = newest != kInt64Min ? newest : now.time_since_epoch().count();
    const std::int64_t since = sat_sub(sat_sub(base, grown[k]), prune_grace_.count());
    if (since >= until) continue;
    out[k] = HistoryRange{domain::TimePoint(std::chrono::milliseconds(since)),
                          domain::TimePoint(std::chrono::milliseconds(until))};
  }
  return out;
}

KeyRanges LocalVelocityCounters::set_retention(std::chrono::milliseconds retention, domain::TimePoint now) {
  return set_retention(same_retention(retention), now);
}

std::unique_ptr<VelocityHistory::Batch> LocalVelocityCounters::new_batch(const KeyRanges& ranges) {
  return std::make_unique<velocity_detail::HistoryBatch>(this, ranges);
}

std::unique_ptr<VelocityHistory::Batch> LocalVelocityCounters::new_batch() { return new_batch(all_time()); }

namespace {

Result<velocity_detail::HistoryBatch*> own_batch(const LocalVelocityCounters* self, VelocityHistory::Batch* batch) {
  auto* b = dynamic_cast<velocity_detail::HistoryBatch*>(batch);
  if (b == nullptr || b->owner != self) return make_error("internal", "velocity: a history batch of other counters");
  if (b->failed) return make_error("internal", "velocity: the history batch is incomplete");
  return b;
}

}  // namespace

Status LocalVelocityCounters::replace_all(std::unique_ptr<Batch> batch, const KeyRanges& ranges) {
  auto b = own_batch(this, batch.get());
  if (!b.ok()) return Error(b.error());
  std::lock_guard admin(admin_mu_);
  try {
    const std::int64_t newest = (*b)->newest;
    velocity_detail::KeyCutoffs until, skip_through;
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
      until[k] = velocity_detail::kMaxTime + 1;
      skip_through[k] = cutoff_after(newest, k);
    }
    // First the newest time, so that series created by live calls from here on fold at least as far as the batch.
    note_time(newest);
    for (std::size_t s = 0; s < kShardCount; ++s) {
      SeriesMap old;  // freed after unlocking
      std::lock_guard lock(shards_[s].mu);
      shards_[s].map.swap(old);
      shards_[s].sweep_cursor = 0;
      ++shards_[s].generation;  // invalidates the shard's outstanding tickets
    }
    for (std::size_t k = 0; k < kVelocityKeyCount; ++k) complete_from_[k] = ranges[k].since.time_since_epoch().count();
    std::array<bool, kVelocityKeyCount> all{};
    all.fill(true);
    merge_batch(**b, all, until, skip_through);
    batch.reset();
#ifdef __GLIBC__
    malloc_trim(0);  // the batch's memory back to the OS
#endif
    return Ok{};
  } catch (const std::exception&) {  // std::bad_alloc
    return make_error("internal", "velocity: out of memory while rebuilding");
  }
}

Status LocalVelocityCounters::merge_older(std::unique_ptr<Batch> batch, const KeyRanges& ranges) {
  auto b = own_batch(this, batch.get());
  if (!b.ok()) return Error(b.error());
  std::lock_guard admin(admin_mu_);
  std::array<bool, kVelocityKeyCount> merge{};
  velocity_detail::KeyCutoffs until{}, skip_through{};
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    merge[k] = !ranges[k].empty();
    until[k] = ranges[k].until.time_since_epoch().count();
    skip_through[k] = std::max(sat_sub(ranges[k].since.time_since_epoch().count(), 1), prune_cutoff(k));
  }
  try {
    merge_batch(**b, merge, until, skip_through);
  } catch (const std::exception&) {  // std::bad_alloc
    return make_error("internal", "velocity: out of memory while merging history");
  }
  for (std::size_t k = 0; k < kVelocityKeyCount; ++k) {
    if (merge[k]) complete_from_[k] = ranges[k].since.time_since_epoch().count();
  }
  return Ok{};
}

void LocalVelocityCounters::merge_batch(velocity_detail::HistoryBatch& batch,
                                        const std::array<bool, kVelocityKeyCount>& merge,
                                        const velocity_detail::KeyCutoffs& until_by_key,
                                        const velocity_detail::KeyCutoffs& skip_through_by_key) {
  using velocity_detail::FreshEvent;
  using velocity_detail::FreshMap;
  std::vector<Series::Straddler> straddlers;
  std::vector<velocity_detail::TimedAmount> run;
  std::vector<velocity_detail::BucketAdd> adds;
  std::vector<velocity_detail::Entry> buf;
  std::vector<velocity_detail::Bucket> bbuf;
  run.reserve(kMergeSlice);
  buf.reserve(kMergeSlice);
  const auto by_time = [](const FreshEvent& a, const FreshEvent& b) { return a.at < b.at; };
  for (std::size_t s = 0; s < kShardCount; ++s) {
    FreshMap& fresh = batch.shards[s];
    velocity_detail::Shard& shard = shards_[s];
    for (auto it = fresh.begin(); it != fresh.end();
         it = fresh.erase(it)) {  // each key value's events freed once merged
      const std::size_t kind = velocity_detail::kind_of(it->first.view());
      if (kind >= kVelocityKeyCount || !merge[kind]) continue;  // a key this merge leaves as it is
      const std::int64_t until = until_by_key[kind];
      const std::int64_t skip_through = skip_through_by_key[kind];
      const bool older_only = until <= velocity_detail::kMaxTime;
      const std::int64_t skip_buckets = velocity_detail::align_down(skip_through);
      const velocity_detail::MapKey key{std::string(it->first.view()), it->first.hash};
      std::vector<FreshEvent>& ev = it->second.events;
      if (!it->second.sorted) std::stable_sort(ev.begin(), ev.end(), by_time);
      // Past retention (a bucket when all of it is), or not older than `until` (buckets start at bucket bounds, and
      // so does `until` of a backfill: a bucket before it is wholly before it).
      ev.erase(std::remove_if(ev.begin(), ev.end(),
                              [&](const FreshEvent& e) {
                                return (e.bucket ? e.at <= skip_buckets : e.at <= skip_through) || e.at >= until;
                              }),
               ev.end());
      auto first = ev.begin();
      auto last = ev.end();
      if (first == last) continue;
      std::uint64_t incarnation = 0;
      straddlers.clear();
      {
        std::lock_guard lock(shard.mu);
        auto [live_it, inserted] = shard.map.try_emplace(key);
        Series& live = live_it->second;
        if (inserted) {
          live.incarnation = next_incarnation_.fetch_add(1, std::memory_order_relaxed);
          live.first.code = batch.currencies[first->currency];
          live.folded_through = fold_cutoff();
        } else {
          live.fold(fold_cutoff());
          if (older_only) {
            // What it holds from before `until` is in the batch (stored) or was cancelled: drop it, then count the
            // batch's copy. A clamped entry stamped before `until` but stored after it stays: skip its copy below.
            live.prune(sat_sub(until, 1));
            live.straddlers(until, straddlers);
          }
        }
        const auto& newest_item = *(last - 1);
        live.newest = std::max(live.newest,
                               newest_item.bucket ? newest_item.at + velocity_detail::kBucketMs - 1 : newest_item.at);
        incarnation = live.incarnation;
      }
      for (const auto& st : straddlers) {
        // Its stored copy: an exact event, or counted in the bucket of its time.
        bool found = false;
        for (auto e = std::lower_bound(first, last, FreshEvent::make(st.at, 0, 0, false), by_time);
             e != last && e->at == st.at; ++e) {
          if (!e->bucket && e->count != 0 && e->amount() == st.amount && batch.currencies[e->currency] == st.currency) {
            e->count = 0;
            found = true;
            break;
          }
        }
        if (found) continue;
        const std::int64_t start = velocity_detail::bucket_start(st.at);
        for (auto e = std::lower_bound(first, last, FreshEvent::make(start, 0, 0, false), by_time);
             e != last && e->at == start; ++e) {
          if (e->bucket && e->count != 0 && batch.currencies[e->currency] == st.currency && e->amount() >= st.amount) {
            e->count = e->count - 1;
            e->set_amount(e->amount() - st.amount);
            break;
          }
        }
      }
      // Newest slice first, each in front of the previous one, each under its own lock hold.
      while (first != last) {
        const auto from = last - std::min<std::ptrdiff_t>(last - first, static_cast<std::ptrdiff_t>(kMergeSlice));
        if ((last - 1)->at + (((last - 1)->bucket) ? velocity_detail::kBucketMs - 1 : 0) <= prune_cutoff(kind)) {
          break;  // the rest is past retention
        }
        std::lock_guard lock(shard.mu);
        auto live_it = shard.map.find(key);
        // Swept meanwhile (everything it held was past retention, so is the rest), or erased and re-created.
        if (live_it == shard.map.end() || live_it->second.incarnation != incarnation) break;
        velocity_detail::prepend_slice(live_it->second,
                                       std::span<FreshEvent>(&*from, static_cast<std::size_t>(last - from)),
                                       batch.currencies, it->second.max_amount, run, adds, buf, bbuf);
        last = from;
      }
    }
    FreshMap().swap(fresh);
  }
}

Status LocalVelocityCounters::rebuild(std::span<const store::VelocityEvent> events) {
  auto batch = new_batch();
  if (auto s = batch->add(events); !s.ok()) return s;
  return replace_all(std::move(batch), all_time());
}

void LocalVelocityCounters::prune() {
  const velocity_detail::KeyCutoffs cutoffs = prune_cutoffs();
  const std::int64_t fold_at = fold_cutoff();
  for (std::size_t s = 0; s < kShardCount; ++s) {
    std::lock_guard lock(shards_[s].mu);
    SeriesMap& m = shards_[s].map;
    for (auto it = m.begin(); it != m.end();) {
      const std::int64_t cutoff = cutoffs[velocity_detail::kind_of(it->first.bytes)];
      if (it->second.newest <= cutoff) {
        it = m.erase(it);
      } else {
        it->second.prune(cutoff);
        try {
          it->second.fold(fold_at);
        } catch (...) {  // out of memory: stays exact for now
        }
        it->second.compact();
        ++it;
      }
    }
    // Give back the bucket array of a map that shrank a lot (libstdc++ shrinks on rehash(0)).
    if (m.bucket_count() > 64 && m.bucket_count() > 4 * m.size()) {
      try {
        m.rehash(0);
      } catch (...) {
      }
    }
    shards_[s].sweep_cursor = 0;
  }
#ifdef __GLIBC__
  malloc_trim(0);  // hand the freed pages back to the OS
#endif
}

LocalVelocityStats LocalVelocityCounters::stats() const {
  LocalVelocityStats st;
  for (std::size_t s = 0; s < kShardCount; ++s) {
    std::lock_guard lock(shards_[s].mu);
    const SeriesMap& m = shards_[s].map;
    st.key_values += m.size();
    st.approximate_bytes += m.bucket_count() * sizeof(void*);
    for (const auto& [key, series] : m) {
      const std::size_t kind = velocity_detail::kind_of(key.bytes);
      series.for_each_currency([&](const velocity_detail::CurrencySeries& c) {
        st.entries += c.v.size();
        st.buckets += c.b.size();
        st.folded += c.folded_events();
        st.events_by_key[kind] += c.v.size() + c.folded_events();
      });
      st.cancelled += series.cancelled_count();
      st.clamped += series.clamped_count();
      st.approximate_bytes += velocity_detail::approximate_series_bytes(key, series);
    }
  }
  return st;
}

}  // namespace txv::cache

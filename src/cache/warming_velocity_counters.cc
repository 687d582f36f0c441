#include "cache/warming_velocity_counters.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

namespace txv::cache {

WarmingVelocityCounters::WarmingVelocityCounters(RedisVelocityCounters& redis, StoreVelocityCounters& store,
                                                 WarmingVelocityCountersOptions options)
    : redis_(redis), store_(store), options_(std::move(options)) {}

bool WarmingVelocityCounters::warming() const {
  std::lock_guard lock(mu_);
  return warming_;
}

std::optional<domain::TimePoint> WarmingVelocityCounters::emptied_at() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

void WarmingVelocityCounters::note(domain::TimePoint emptied_at, bool detected, bool reaches) {
  std::lock_guard lock(mu_);
  const bool new_epoch = !epoch_ || *epoch_ != emptied_at;
  epoch_ = emptied_at;
  if (reaches && (!warming_ || new_epoch)) {
    warming_ = true;
    if (options_.on_state) options_.on_state(true, emptied_at, detected);
  } else if (!reaches && warming_) {
    warming_ = false;
    if (options_.on_state) options_.on_state(false, emptied_at, false);
  }
}

Task<Result<VelocityRead>> WarmingVelocityCounters::read_and_record(const VelocityEventInput& input,
                                                                    std::span<const VelocityQuery> queries) {
  RedisVelocityEpoch epoch;
  auto read = co_await redis_.read_and_record(input, queries, &epoch);
  if (!read.ok() || !epoch.known) co_return read;
  std::int64_t longest = 0;
  for (const auto& q : queries) longest = std::max(longest, q.window_ms);
  bool reaches = input.at - std::chrono::milliseconds(longest) < epoch.emptied_at;
  std::optional<domain::TimePoint> until;
  if (reaches) {
    // A fresh deployment (no decision stored before the epoch) has no share to add: no warm-up at all.
    auto end = co_await history_end(epoch.emptied_at);
    if (!end.ok()) {
      if (read->ticket.id != 0) (void)co_await redis_.cancel(read->ticket);  // on error nothing was recorded
      co_return Error(end.error());
    }
    if (*end) {
      until = std::min(epoch.emptied_at, **end);
      reaches = input.at - std::chrono::milliseconds(longest) < *until;
    } else {
      reaches = false;
    }
  }
  note(epoch.emptied_at, epoch.detected, reaches);
  if (!reaches) co_return read;

  // The time before the epoch, from the stored decisions (queries starting at or after it answer zeros unasked).
  auto before = co_await store_.count_before(input, queries, until);
  if (!before.ok()) {
    if (read->ticket.id != 0) (void)co_await redis_.cancel(read->ticket);  // on error nothing was recorded
    co_return Error(before.error());
  }
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i < queries.size() && i < before->totals.size(); ++i) {
    auto& total = read->totals[i];
    const auto& extra = before->totals[i];
    if (!total || !extra) continue;
    total->count += extra->count;
    total->amount = extra->amount > kMax - total->amount ? kMax : total->amount + extra->amount;
  }
  co_return read;
}

Task<Result<std::optional<domain::TimePoint>>> WarmingVelocityCounters::history_end(domain::TimePoint epoch) {
  {
    std::lock_guard lock(mu_);
    if (history_end_epoch_ == epoch) co_return history_end_;
  }
  auto newest = co_await store_.newest_before(epoch);
  if (!newest.ok()) co_return Error(newest.error());
  // Seq order is about time order: decisions of replicas whose clocks differ by up to the margin may be stored in
  // another order than stamped.
  constexpr std::chrono::minutes kClockMargin{1};
  std::optional<domain::TimePoint> end;
  if (*newest) end = **newest + kClockMargin;
  std::lock_guard lock(mu_);
  history_end_epoch_ = epoch;
  history_end_ = end;
  co_return end;
}

Task<Status> WarmingVelocityCounters::cancel(const VelocityTicket& ticket) { co_return co_await redis_.cancel(ticket); }

}  // namespace txv::cache

// GET /v1/stats?window=1h|24h (admin, analyst): the analyst console's
// dashboard. Decisions per bucket and in total, decline and review rates,
// the rules that matched, over decided_at in [since, until) with until = now
// and since the start of the first of the window's buckets (1h: 60 buckets
// of 60 s; 24h: 288 of 300 s; aligned to multiples of the bucket width since
// the epoch, every bucket present, oldest first). Counts come from the
// database (TransactionStore::decision_stats, aggregated there);
// `latency` is this replica's p50/p99 of POST /v1/transactions/validate over
// the same minutes (metrics::LatencyWindow, `scope: "replica"`).
//
// Caching: each window's answer is kept for kCacheFor and shared by every
// caller; when it is stale, one caller per window refreshes it (an
// asynchronous per-window lock: the others suspend, no thread waits, and then
// answer the refreshed copy), so a dashboard polled by many analysts costs one
// database query per window per kCacheFor in this process.
//
// Thread-safety: handlers may run concurrently on any threads. The cache's
// std::mutex is held only to copy an answer in or out, never across a
// co_await.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "api/access.h"
#include "common/async_key_lock.h"
#include "http/router.h"
#include "metrics/latency_window.h"
#include "store/stores.h"

namespace txv::api {

class StatsApi {
 public:
  using Now = std::function<domain::TimePoint()>;
  static constexpr std::chrono::seconds kCacheFor{5};

  // `now` is the wall clock of the windows (tests pass a fixed one).
  StatsApi(store::TransactionStore& store, const metrics::LatencyWindow& latency, Now now = nullptr);

  void register_routes(http::Router& router);

  // 200 with the window's statistics; 422 naming `window` when it is not 1h or 24h
  // (or naming any other query parameter, `unknown_field`).
  Task<http::Response> stats(http::Request& request);

  struct Window {
    std::string_view name;             // "1h" | "24h"
    std::chrono::milliseconds bucket;  // bucket width
    int buckets;                       // how many
  };

 private:
  struct Cached {
    boost::json::object answer;
    std::chrono::steady_clock::time_point at;
  };

  // The cached answer, or a fresh one (at most one refresh per window at a time).
  Task<Result<boost::json::object>> answer(const Window& window);
  Task<Result<boost::json::object>> compute(const Window& window);
  std::optional<boost::json::object> fresh_cached(std::string_view window) const;

  store::TransactionStore& store_;
  const metrics::LatencyWindow& latency_;
  Now now_;
  mutable std::mutex mu_;  // guards cache_
  std::map<std::string, Cached, std::less<>> cache_;
  AsyncKeyLock refreshing_;  // keyed by window name
};

}  // namespace txv::api

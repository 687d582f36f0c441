#include "api/stats_api.h"

#include <array>
#include <cmath>

#include "api/responses.h"
#include "api/transactions_api.h"
#include "domain/time.h"

namespace txv::api {

namespace json = boost::json;
using domain::TimePoint;
using store::Role;

namespace {

using std::chrono::milliseconds;

constexpr std::array<StatsApi::Window, 2> kWindows = {StatsApi::Window{"1h", milliseconds(60'000), 60},
                                                      StatsApi::Window{"24h", milliseconds(300'000), 288}};

// The window a `window` query parameter names ("1h" when absent), or the 422.
Result<const StatsApi::Window*> parse_window(const std::string& query) {
  const StatsApi::Window* window = &kWindows[0];
  std::vector<FieldIssue> issues;
  for (const auto& [key, value] : parse_query(query)) {
    if (key != "window") {
      issues.push_back({key, "unknown_field"});
      continue;
    }
    window = nullptr;
    for (const auto& w : kWindows) {
      if (w.name == value) window = &w;
    }
    if (window == nullptr) issues.push_back({key, "invalid_value"});
  }
  if (!issues.empty()) return make_error("validation_failed", "invalid query parameters", std::move(issues));
  return window;
}

// The start of the window's first bucket: buckets are aligned to multiples of
// their width since the epoch and the last one holds `until`.
TimePoint window_start(const StatsApi::Window& window, TimePoint until) {
  const auto width = window.bucket.count();
  const auto ms = until.time_since_epoch().count();
  const auto last_start = ms - ((ms % width) + width) % width;
  return TimePoint(milliseconds(last_start - width * (window.buckets - 1)));
}

double ratio(std::int64_t part, std::int64_t total) {
  return total == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(total);
}

json::value milliseconds_or_null(const std::optional<double>& ms) {
  if (!ms) return nullptr;
  return std::round(*ms * 1000.0) / 1000.0;
}

json::object render_stats(const StatsApi::Window& window, TimePoint since, TimePoint until,
                          const store::DecisionStats& stats, const metrics::LatencyWindow::Summary& latency) {
  json::array buckets;
  buckets.reserve(stats.buckets.size());
  std::int64_t approve = 0, decline = 0, review = 0;
  for (const auto& b : stats.buckets) {
    buckets.emplace_back(json::object{
        {"at", domain::format_rfc3339(b.at)}, {"approve", b.approve}, {"decline", b.decline}, {"review", b.review}});
    approve += b.approve;
    decline += b.decline;
    review += b.review;
  }
  const std::int64_t total = approve + decline + review;
  json::array rules;
  rules.reserve(stats.rules.size());
  for (const auto& r : stats.rules) {
    rules.emplace_back(json::object{{"rule_id", r.rule_id}, {"mode", r.mode}, {"matches", r.matches}});
  }
  json::object out;
  out["window"] = window.name;
  out["since"] = domain::format_rfc3339(since);
  out["until"] = domain::format_rfc3339(until);
  out["bucket_seconds"] = window.bucket.count() / 1000;
  out["buckets"] = std::move(buckets);
  out["totals"] = json::object{{"approve", approve}, {"decline", decline}, {"review", review}, {"total", total}};
  out["decline_rate"] = ratio(decline, total);
  out["review_rate"] = ratio(review, total);
  out["rules"] = std::move(rules);
  out["latency"] = json::object{{"p50_ms", milliseconds_or_null(latency.p50_ms)},
                                {"p99_ms", milliseconds_or_null(latency.p99_ms)},
                                {"count", latency.count},
                                {"scope", "replica"}};
  return out;
}

}  // namespace

StatsApi::StatsApi(store::TransactionStore& store, const metrics::LatencyWindow& latency, Now now)
    : store_(store), latency_(latency), now_(now ? std::move(now) : Now(domain::now_millis)) {}

void StatsApi::register_routes(http::Router& router) {
  router.add("GET", "/v1/stats", {allow({Role::kAdmin, Role::kAnalyst})},
             [this](http::Request& r) { return stats(r); });
}

Task<http::Response> StatsApi::stats(http::Request& request) {
  auto window = parse_window(request.query);
  if (!window.ok()) co_return error_response(window.error());
  auto out = co_await answer(**window);
  if (!out.ok()) co_return error_response(out.error());
  co_return json_response(200, *out);
}

std::optional<json::object> StatsApi::fresh_cached(std::string_view window) const {
  std::lock_guard lock(mu_);
  auto it = cache_.find(window);
  if (it == cache_.end() || std::chrono::steady_clock::now() - it->second.at >= kCacheFor) return std::nullopt;
  return it->second.answer;
}

Task<Result<json::object>> StatsApi::answer(const Window& window) {
  if (auto hit = fresh_cached(window.name)) co_return std::move(*hit);
  auto guard = co_await refreshing_.lock(std::string(window.name));
  if (auto hit = fresh_cached(window.name)) co_return std::move(*hit);  // refreshed while this one waited
  auto fresh = co_await compute(window);
  if (fresh.ok()) {
    std::lock_guard lock(mu_);
    cache_[std::string(window.name)] = Cached{*fresh, std::chrono::steady_clock::now()};
  }
  co_return fresh;
}

Task<Result<json::object>> StatsApi::compute(const Window& window) {
  const TimePoint until = now_();
  const TimePoint since = window_start(window, until);
  const store::DecisionStatsQuery query{since, until, window.bucket};
  auto stats = co_await store_.decision_stats(query);
  if (!stats.ok()) co_return stats.error();
  const auto latency = latency_.summarize(since, until);
  co_return render_stats(window, since, until, *stats, latency);
}

}  // namespace txv::api

// Process metrics (contract section 7), rendered as Prometheus text.
//
// Thread-safety: every method may be called from any thread. Label sets are
// created on first use and live as long as the Metrics object, so every label
// value must come from a bounded set: HTTP metrics take a route template (or
// "unmatched") and a method mapped to GET HEAD POST PUT DELETE PATCH OPTIONS or
// "other", never a raw path or method string. Never pass a card number or any
// request value other than the bounded label values below.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "metrics/latency_window.h"

namespace txv::metrics {

struct MetricsOptions {
  std::string version;
};

// The `method` label of a request: the method itself when it is one of GET
// HEAD POST PUT DELETE PATCH OPTIONS, else "other".
std::string_view method_label(std::string_view method);

class Metrics {
 public:
  explicit Metrics(const MetricsOptions& options);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void count_decision(const std::string& decision);  // approve | decline | review

  // The HTTP series of one route template, resolved once (e.g. per router
  // entry) so that counting a request takes no lock and allocates nothing.
  class HttpRoute;
  // `route` is a route template ("/v1/transactions/{merchant_id}/{transaction_id}")
  // or "unmatched", never a raw path. The reference stays valid as long as this object.
  HttpRoute& http_route(std::string_view route);
  // `method` may be any string: it is mapped by method_label().
  void observe_http_request(HttpRoute& route, std::string_view method, int status, double seconds);
  void observe_http_request(std::string_view route, std::string_view method, int status, double seconds);

  // A failed accept(2) on the listener, by reason: emfile | enfile | enobufs | enomem | other.
  void count_accept_error(std::string_view reason);

  void count_rule_match(const std::string& rule_id, const std::string& mode);

  // The route whose answered decisions (POST, status 200) are recorded in
  // validate_latency() by observe_http_request, with their duration.
  static constexpr std::string_view kValidateRoute = "/v1/transactions/validate";
  // This process's rolling per-minute record of POST /v1/transactions/validate
  // durations over the last 24 h (GET /v1/stats `latency`, scope "replica").
  const LatencyWindow& validate_latency() const { return validate_latency_; }
  void count_cache_error();
  void count_unhandled_exception();
  void set_db_pool(int idle, int in_use);
  // Replica mode: 1 while the shared cache (Redis) is unreachable and decisions go on without it.
  void set_cache_degraded(bool degraded);
  // One round trip to Redis / PostgreSQL (a pipelined batch counts once), in seconds. Thread-safe.
  void observe_redis_round_trip(double seconds);
  void observe_db_round_trip(double seconds);

  // Called at the start of render() so gauges that are read on demand (pool
  // state) are fresh.
  void set_before_render(std::function<void(Metrics&)> hook);

  std::string render();

 private:
  prometheus::Counter& http_counter(HttpRoute& route, std::size_t method, int status);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& rule_matches_;
  prometheus::Family<prometheus::Gauge>& db_pool_;
  prometheus::Family<prometheus::Counter>& accept_errors_;
  prometheus::Counter& cache_errors_;
  prometheus::Gauge& cache_degraded_;
  prometheus::Histogram& redis_round_trip_;
  prometheus::Histogram& db_round_trip_;
  prometheus::Counter& unhandled_exceptions_;
  prometheus::Counter* decision_counters_[3];
  std::array<prometheus::Counter*, 5> accept_error_counters_{};
  std::function<void(Metrics&)> before_render_;
  LatencyWindow validate_latency_;

  std::mutex http_mu_;  // guards http_routes_ and inserts into an HttpRoute's table
  std::map<std::string, std::unique_ptr<HttpRoute>, std::less<>> http_routes_;
};

}  // namespace txv::metrics

// Process metrics (contract section 7), rendered as Prometheus text.
//
// Thread-safety: every method may be called from any thread. Label sets are
// created on first use and live as long as the Metrics object. Never pass a
// card number or any request value other than the bounded label values below.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>

namespace txv::metrics {

struct MetricsOptions {
  std::string version;
};

class Metrics {
 public:
  explicit Metrics(const MetricsOptions& options);

  void count_decision(const std::string& decision);  // approve | decline | review
  // route is the route template ("/v1/transactions/{merchant_id}/{transaction_id}"), never a raw path.
  void observe_http_request(const std::string& route, const std::string& method, int status, double seconds);
  void count_rule_match(const std::string& rule_id, const std::string& mode);
  void count_cache_error();
  void count_unhandled_exception();
  void set_db_pool(int idle, int in_use);

  // Called at the start of render() so gauges that are read on demand (pool
  // state) are fresh.
  void set_before_render(std::function<void(Metrics&)> hook);

  std::string render();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_duration_;
  prometheus::Family<prometheus::Counter>& rule_matches_;
  prometheus::Family<prometheus::Gauge>& db_pool_;
  prometheus::Counter& cache_errors_;
  prometheus::Counter& unhandled_exceptions_;
  prometheus::Counter* decision_counters_[3];
  std::function<void(Metrics&)> before_render_;
};

}  // namespace txv::metrics

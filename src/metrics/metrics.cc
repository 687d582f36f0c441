#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

namespace txv::metrics {
namespace {
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  return kBuckets;
}
}  // namespace

Metrics::Metrics(const MetricsOptions& options)
    : registry_(std::make_shared<prometheus::Registry>()),
      decisions_(prometheus::BuildCounter()
                     .Name("txv_decisions_total")
                     .Help("Decisions given, by outcome (replays not counted)")
                     .Register(*registry_)),
      http_requests_(prometheus::BuildCounter()
                         .Name("txv_http_requests_total")
                         .Help("HTTP requests by route template, method and status")
                         .Register(*registry_)),
      http_duration_(prometheus::BuildHistogram()
                         .Name("txv_http_request_duration_seconds")
                         .Help("HTTP request duration by route template")
                         .Register(*registry_)),
      rule_matches_(prometheus::BuildCounter()
                        .Name("txv_rule_matches_total")
                        .Help("Rule matches by rule id and mode")
                        .Register(*registry_)),
      db_pool_(prometheus::BuildGauge()
                   .Name("txv_db_pool_connections")
                   .Help("Database connections by state (idle, in_use)")
                   .Register(*registry_)),
      cache_errors_(prometheus::BuildCounter()
                        .Name("txv_cache_errors_total")
                        .Help("Errors talking to the cache back-end")
                        .Register(*registry_)
                        .Add({})),
      unhandled_exceptions_(prometheus::BuildCounter()
                                .Name("txv_unhandled_exceptions_total")
                                .Help("Requests answered 500 by the last-resort handler")
                                .Register(*registry_)
                                .Add({})) {
  prometheus::BuildGauge()
      .Name("txv_build_info")
      .Help("Build information")
      .Register(*registry_)
      .Add({{"version", options.version}})
      .Set(1);
  const char* names[] = {"approve", "decline", "review"};
  for (int i = 0; i < 3; ++i) decision_counters_[i] = &decisions_.Add({{"decision", names[i]}});
  db_pool_.Add({{"state", "idle"}});
  db_pool_.Add({{"state", "in_use"}});
}

void Metrics::count_decision(const std::string& decision) {
  if (decision == "approve") {
    decision_counters_[0]->Increment();
  } else if (decision == "decline") {
    decision_counters_[1]->Increment();
  } else {
    decision_counters_[2]->Increment();
  }
}

void Metrics::observe_http_request(const std::string& route, const std::string& method, int status, double seconds) {
  http_requests_.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}}).Increment();
  http_duration_.Add({{"route", route}}, latency_buckets()).Observe(seconds);
}

void Metrics::count_rule_match(const std::string& rule_id, const std::string& mode) {
  rule_matches_.Add({{"rule_id", rule_id}, {"mode", mode}}).Increment();
}

void Metrics::count_cache_error() { cache_errors_.Increment(); }
void Metrics::count_unhandled_exception() { unhandled_exceptions_.Increment(); }

void Metrics::set_db_pool(int idle, int in_use) {
  db_pool_.Add({{"state", "idle"}}).Set(idle);
  db_pool_.Add({{"state", "in_use"}}).Set(in_use);
}

void Metrics::set_before_render(std::function<void(Metrics&)> hook) { before_render_ = std::move(hook); }

std::string Metrics::render() {
  if (before_render_) before_render_(*this);
  std::string text = prometheus::TextSerializer().Serialize(registry_->Collect());
  // A family without samples is not serialised; keep every contract metric
  // discoverable from the first scrape.
  if (text.find("# TYPE txv_rule_matches_total") == std::string::npos) {
    text += "# HELP txv_rule_matches_total Rule matches by rule id and mode\n# TYPE txv_rule_matches_total counter\n";
  }
  return text;
}

}  // namespace txv::metrics

#include "metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>

#include "logging/bug.h"

namespace txv::metrics {
namespace {
const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& round_trip_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                                   0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  return kBuckets;
}

constexpr std::array<std::string_view, 8> kMethodLabels = {"GET",    "HEAD",  "POST",    "PUT",
                                                           "DELETE", "PATCH", "OPTIONS", "other"};
constexpr std::size_t kOtherMethod = kMethodLabels.size() - 1;

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i < kOtherMethod; ++i) {
    if (method == kMethodLabels[i]) return i;
  }
  return kOtherMethod;
}

constexpr std::array<std::string_view, 5> kAcceptReasons = {"emfile", "enfile", "enobufs", "enomem", "other"};
}  // namespace

std::string_view method_label(std::string_view method) { return kMethodLabels[method_index(method)]; }

// The series of one route template. The (method, status) → counter table is
// read without a lock: a slot's counter is stored before its key is published
// (release), and readers load the key first (acquire). Inserts take http_mu_.
// A full table still works: the family's own (locked) lookup answers.
class Metrics::HttpRoute {
 public:
  explicit HttpRoute(std::string route) : route_(std::move(route)) {}

  static constexpr std::size_t kSlots = 64;
  struct Slot {
    std::atomic<std::uint32_t> key{0};
    std::atomic<prometheus::Counter*> counter{nullptr};
  };

  static std::uint32_t key(std::size_t method, int status) {
    return static_cast<std::uint32_t>((method + 1) * 1000 + static_cast<std::size_t>(std::clamp(status, 0, 999)));
  }

  prometheus::Counter* find(std::uint32_t k) const {
    std::size_t start = (k * 2654435761u) % kSlots;
    for (std::size_t i = 0; i < kSlots; ++i) {
      const Slot& s = slots_[(start + i) % kSlots];
      std::uint32_t got = s.key.load(std::memory_order_acquire);
      if (got == k) return s.counter.load(std::memory_order_relaxed);
      if (got == 0) return nullptr;
    }
    return nullptr;
  }

  // Caller holds Metrics::http_mu_.
  void insert(std::uint32_t k, prometheus::Counter* counter) {
    std::size_t start = (k * 2654435761u) % kSlots;
    for (std::size_t i = 0; i < kSlots; ++i) {
      Slot& s = slots_[(start + i) % kSlots];
      if (s.key.load(std::memory_order_relaxed) != 0) continue;
      s.counter.store(counter, std::memory_order_relaxed);
      s.key.store(k, std::memory_order_release);
      return;
    }
  }

  const std::string& route() const { return route_; }
  prometheus::Histogram* duration = nullptr;
  LatencyWindow* latency = nullptr;  // set for kValidateRoute only

 private:
  std::string route_;
  std::array<Slot, kSlots> slots_;
};

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
      accept_errors_(prometheus::BuildCounter()
                         .Name("txv_accept_errors_total")
                         .Help("Failed accepts on the listener by reason (emfile: out of file descriptors)")
                         .Register(*registry_)),
      cache_errors_(prometheus::BuildCounter()
                        .Name("txv_cache_errors_total")
                        .Help("Errors talking to the cache back-end")
                        .Register(*registry_)
                        .Add({})),
      cache_degraded_(prometheus::BuildGauge()
                          .Name("txv_cache_degraded")
                          .Help("1 while the shared cache (Redis) is unreachable and decisions go on without it")
                          .Register(*registry_)
                          .Add({})),
      redis_round_trip_(prometheus::BuildHistogram()
                            .Name("txv_redis_round_trip_seconds")
                            .Help("Round trips to Redis (a pipelined batch counts once)")
                            .Register(*registry_)
                            .Add({}, round_trip_buckets())),
      db_round_trip_(prometheus::BuildHistogram()
                         .Name("txv_db_round_trip_seconds")
                         .Help("Round trips to PostgreSQL (a pipelined batch counts once)")
                         .Register(*registry_)
                         .Add({}, round_trip_buckets())),
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
  for (std::size_t i = 0; i < kAcceptReasons.size(); ++i) {
    accept_error_counters_[i] = &accept_errors_.Add({{"reason", std::string(kAcceptReasons[i])}});
  }
  db_pool_.Add({{"state", "idle"}});
  db_pool_.Add({{"state", "in_use"}});
}

Metrics::~Metrics() = default;

void Metrics::count_decision(const std::string& decision) {
  if (decision == "approve") {
    decision_counters_[0]->Increment();
  } else if (decision == "decline") {
    decision_counters_[1]->Increment();
  } else {
    decision_counters_[2]->Increment();
  }
}

Metrics::HttpRoute& Metrics::http_route(std::string_view route) {
  std::lock_guard lock(http_mu_);
  auto it = http_routes_.find(route);
  if (it != http_routes_.end()) return *it->second;
  auto entry = std::make_unique<HttpRoute>(std::string(route));
  entry->duration = &http_duration_.Add({{"route", std::string(route)}}, latency_buckets());
  if (route == kValidateRoute) entry->latency = &validate_latency_;
  return *http_routes_.emplace(std::string(route), std::move(entry)).first->second;
}

prometheus::Counter& Metrics::http_counter(HttpRoute& route, std::size_t method, int status) {
  std::uint32_t k = HttpRoute::key(method, status);
  if (prometheus::Counter* c = route.find(k)) return *c;
  std::lock_guard lock(http_mu_);
  if (prometheus::Counter* c = route.find(k)) return *c;
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, status).ptr;
  prometheus::Counter& c = http_requests_.Add(
      {{"route", route.route()}, {"method", std::string(kMethodLabels[method])}, {"status", std::string(digits, end)}});
  route.insert(k, &c);
  return c;
}

void Metrics::observe_http_request(HttpRoute& route, std::string_view method, int status, double seconds) {
  const std::size_t method_i = method_index(method);
  http_counter(route, method_i, status).Increment();
  route.duration->Observe(seconds);
  if (route.latency != nullptr && status == 200 && kMethodLabels[method_i] == "POST") {
    route.latency->record(LatencyWindow::Clock::now(), seconds);
  }
}

void Metrics::observe_http_request(std::string_view route, std::string_view method, int status, double seconds) {
  observe_http_request(http_route(route), method, status, seconds);
}

void Metrics::count_accept_error(std::string_view reason) {
  std::size_t i = 0;
  while (i + 1 < kAcceptReasons.size() && kAcceptReasons[i] != reason) ++i;
  accept_error_counters_[i]->Increment();
}

void Metrics::count_rule_match(const std::string& rule_id, const std::string& mode) {
  rule_matches_.Add({{"rule_id", rule_id}, {"mode", mode}}).Increment();
}

void Metrics::count_cache_error() { cache_errors_.Increment(); }
void Metrics::set_cache_degraded(bool degraded) { cache_degraded_.Set(degraded ? 1 : 0); }
void Metrics::observe_redis_round_trip(double seconds) { redis_round_trip_.Observe(seconds); }
void Metrics::observe_db_round_trip(double seconds) { db_round_trip_.Observe(seconds); }
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
  // Process-wide (logging/bug.h), so any layer can report one without wiring.
  text +=
      "# HELP txv_bugs_total Programmer errors met and survived (logged with their place)\n"
      "# TYPE txv_bugs_total counter\ntxv_bugs_total ";
  text += std::to_string(logging::bug_counter().load(std::memory_order_relaxed));
  text += "\n";
  return text;
}

}  // namespace txv::metrics

// Section 7: /livez, /readyz, /startupz, /metrics (no auth).
#pragma once

#include <atomic>
#include <functional>

#include "http/router.h"
#include "metrics/metrics.h"
#include "store/stores.h"

namespace txv::api {

// Process lifecycle flags, written by main and read by the probes.
struct Lifecycle {
  std::atomic<bool> started{false};   // migrations ran and rules are loaded
  std::atomic<bool> draining{false};  // SIGTERM received
};

// A dependency check for /readyz: "ok" or a short reason. Asynchronous: a
// database ping is a round trip.
using ReadinessCheck = std::function<Task<std::string>()>;

class HealthApi {
 public:
  HealthApi(Lifecycle& lifecycle, metrics::Metrics& metrics, ReadinessCheck database, ReadinessCheck cache);
  void register_routes(http::Router& router);

 private:
  Lifecycle& lifecycle_;
  metrics::Metrics& metrics_;
  ReadinessCheck database_;
  ReadinessCheck cache_;
};

}  // namespace txv::api

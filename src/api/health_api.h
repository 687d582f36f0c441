// Section 7: /livez, /readyz, /startupz, /metrics (no auth).
#pragma once

#include <atomic>
#include <cstdint>
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

// Whether this replica can persist: readiness follows the last writes (503
// while they fail, 200 once one succeeds), so a load balancer stops sending
// decisions to a replica whose disk is full or whose database turned
// read-only. Both back-ends answer those "unavailable"; failures that say
// nothing about persisting (a conflict, a value one request got wrong: "internal")
// are not recorded, so one bad request cannot take a replica out. Thread-safe.
class WriteHealth {
 public:
  void record(const Status& outcome) {
    if (outcome.ok()) {
      failing_.store(false, std::memory_order_relaxed);
    } else if (outcome.error().code == ErrorCode::kUnavailable) {
      failing_.store(true, std::memory_order_relaxed);
    }
  }
  bool failing() const { return failing_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> failing_{false};
};

// A dependency check for /readyz: "ok" or a short reason. Asynchronous: a
// database ping is a round trip.
using ReadinessCheck = std::function<Task<std::string>()>;

class HealthApi {
 public:
  // `writes` may be null (no write tracking). While it reports failing, a
  // /readyz also tries `probe_write` (one at a time, at most one a second,
  // since /readyz needs no key), so readiness comes back once the store can
  // persist again even with no traffic.
  HealthApi(Lifecycle& lifecycle, metrics::Metrics& metrics, ReadinessCheck database, ReadinessCheck cache,
            WriteHealth* writes = nullptr, ReadinessCheck probe_write = {});
  void register_routes(http::Router& router);

 private:
  Lifecycle& lifecycle_;
  metrics::Metrics& metrics_;
  ReadinessCheck database_;
  ReadinessCheck cache_;
  WriteHealth* writes_;
  ReadinessCheck probe_write_;
  std::atomic<bool> probing_{false};
  std::atomic<std::int64_t> last_probe_ms_{0};  // steady clock
};

}  // namespace txv::api

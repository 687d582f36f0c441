// Back-end registry of the velocity counter contract suite
// (velocity_counters_contract_test.cc).
//
// Every back-end returned by contract_backends() runs every contract test,
// unchanged, through the asynchronous VelocityCounters interface only. Adding a
// back-end (e.g. Redis) means adding a factory to
// velocity_counters_contract_backends.cc; the tests do not change. Tests use
// key values unique to the test, so a shared server may serve several tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/velocity_counters.h"

namespace txv::cache::contract {

// One counters instance for one test; the destructor releases it.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual VelocityCounters& counters() = 0;
};

struct BackendFactory {
  std::string name;  // test-name suffix: letters, digits, '_'
  // How far the far edge of a window may be blurred, as a fraction of the
  // window (the contract allows up to 1/60 for a bucketed implementation; 0:
  // exact, and an event exactly one window old is outside).
  double far_edge_blur = 0;
  // A fresh instance; nullptr when the back-end is not available here (e.g.
  // no Redis server configured): its tests are then skipped.
  std::function<std::unique_ptr<Backend>()> make;
  // Windows up to this long (ms) are exact even when far_edge_blur is not 0
  // (a back-end that buckets only long windows).
  std::int64_t exact_window_max_ms = 0;
  double blur_of(std::int64_t window_ms) const { return window_ms <= exact_window_max_ms ? 0.0 : far_edge_blur; }
};

std::vector<BackendFactory> contract_backends();

}  // namespace txv::cache::contract

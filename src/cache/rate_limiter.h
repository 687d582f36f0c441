// Per-API-key request budget (contract section 2): token bucket with
// rate = TXV_RATE_LIMIT requests/second and burst = 2 x rate (at least 1,
// so a rate below 0.5/s still admits a request). The local
// implementation is exact for one process; a shared implementation (Redis)
// makes the budget common to every replica.
//
// Thread-safety: try_acquire may be called concurrently.
// Errors: a back-end failure answers allowed=true (fail open) and sets
// backend_error so the caller can count it in txv_cache_errors_total.
#pragma once

#include <string>

#include "common/async.h"

namespace txv::cache {

struct RateDecision {
  bool allowed = true;
  int retry_after_seconds = 0;  // when !allowed: whole seconds until a token is available (>= 1)
  bool backend_error = false;
};

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Asynchronous (a shared back-end answers over the network); the local one completes at once.
  virtual Task<RateDecision> try_acquire(const std::string& key_id) = 0;
};

}  // namespace txv::cache

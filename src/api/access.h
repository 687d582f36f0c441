// Authentication + role + rate limit in front of every /v1/ handler.
#pragma once

#include <initializer_list>
#include <variant>

#include "api/auth.h"
#include "cache/rate_limiter.h"
#include "http/message.h"
#include "metrics/metrics.h"

namespace txv::api {

class AccessControl {
 public:
  // rate_limiter may be null (TXV_RATE_LIMIT=0).
  AccessControl(Authenticator& auth, cache::RateLimiter* rate_limiter, metrics::Metrics& metrics);

  // The caller's principal, or the response to send instead (401, 403, 429
  // with Retry-After, 503).
  std::variant<Principal, http::Response> check(const http::Request& request,
                                                std::initializer_list<store::Role> allowed);

 private:
  Authenticator& auth_;
  cache::RateLimiter* rate_limiter_;
  metrics::Metrics& metrics_;
};

// In a handler with an `access_` member and a `request` parameter: answers the
// denial (401/403/429/503) or binds `principal` for the rest of the handler.
#define TXV_REQUIRE(...)                                                                  \
  auto txv_access = access_.check(request, {__VA_ARGS__});                                \
  if (auto* denied = std::get_if<http::Response>(&txv_access)) return std::move(*denied); \
  const auto& principal = std::get<Principal>(txv_access);                                \
  (void)principal

}  // namespace txv::api

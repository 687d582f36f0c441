// Authentication, role and rate limit in front of every /v1/ route, run on the
// request's headers before any body byte is read (the http::Admission hook):
// an unauthenticated client can make the server read at most the headers and
// the 64 KiB default body limit never applies to it, because a refused request
// is answered without reading its body.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "api/auth.h"
#include "api/sessions.h"
#include "cache/rate_limiter.h"
#include "http/message.h"
#include "http/router.h"
#include "metrics/metrics.h"

namespace txv::api {

// RouteOptions::access for a route open to these roles (a bit per role).
constexpr std::uint32_t allow(std::initializer_list<store::Role> roles) {
  std::uint32_t bits = 0;
  for (auto r : roles) bits |= 1u << static_cast<unsigned>(r);
  return bits;
}

class AccessControl {
 public:
  // rate_limiter may be null (TXV_RATE_LIMIT=0); sessions may be null (no
  // console sessions: only Bearer keys).
  AccessControl(Authenticator& auth, cache::RateLimiter* rate_limiter, metrics::Metrics& metrics,
                Sessions* sessions = nullptr);

  // The admission hook: nullopt when the request may go on (request.principal
  // is then set), else the answer (401 with WWW-Authenticate, 403, 429 with
  // Retry-After, 503). A request without an Authorization header but with the
  // session cookie is authenticated by its session (sessions.h), CSRF check
  // included; a refused session also removes the cookie.
  Task<std::optional<http::Response>> admit(http::Request& request, const http::RouteOptions& route);

 private:
  Authenticator& auth_;
  cache::RateLimiter* rate_limiter_;
  metrics::Metrics& metrics_;
  Sessions* sessions_;
};

// The principal admit() attached to the request. Only for routes registered
// with a non-zero access (the dispatcher never runs their handler otherwise).
const Principal& principal_of(const http::Request& request);

}  // namespace txv::api

#include "api/access.h"

#include "api/responses.h"

namespace txv::api {

AccessControl::AccessControl(Authenticator& auth, cache::RateLimiter* rate_limiter, metrics::Metrics& metrics)
    : auth_(auth), rate_limiter_(rate_limiter), metrics_(metrics) {}

std::variant<Principal, http::Response> AccessControl::check(const http::Request& request,
                                                             std::initializer_list<store::Role> allowed) {
  auto principal = auth_.authenticate(request);
  if (!principal.ok()) {
    auto r = error_response(principal.error());
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"txv\"");
    return r;
  }
  if (rate_limiter_ != nullptr) {
    auto d = rate_limiter_->try_acquire(principal->key_id);
    if (d.backend_error) metrics_.count_cache_error();
    if (!d.allowed) {
      auto r = error_response(make_error("rate_limited", "this API key is over its request budget"));
      r.headers.emplace_back("Retry-After", std::to_string(d.retry_after_seconds));
      return r;
    }
  }
  if (auto s = require_role(*principal, allowed); !s.ok()) return error_response(s.error());
  return std::move(principal).value();
}

}  // namespace txv::api

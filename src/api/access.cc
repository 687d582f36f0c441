#include "api/access.h"

#include <any>

#include "api/responses.h"
#include "logging/bug.h"

namespace txv::api {

AccessControl::AccessControl(Authenticator& auth, cache::RateLimiter* rate_limiter, metrics::Metrics& metrics,
                             Sessions* sessions)
    : auth_(auth), rate_limiter_(rate_limiter), metrics_(metrics), sessions_(sessions) {}

Task<std::optional<http::Response>> AccessControl::admit(http::Request& request, const http::RouteOptions& route) {
  const bool by_session =
      sessions_ != nullptr && request.header("authorization") == nullptr && Sessions::has_cookie(request);
  Result<Principal> principal = make_error("unauthorized", "not authenticated");
  if (by_session) {
    principal = co_await sessions_->resume(request);
  } else {
    principal = co_await auth_.authenticate(request);
  }
  if (!principal.ok()) {
    auto r = error_response(principal.error());
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"txv\"");
    if (r.status == 401 && by_session) r.headers.emplace_back("Set-Cookie", sessions_->expired_cookie());
    co_return r;
  }
  if (rate_limiter_ != nullptr) {
    auto d = co_await rate_limiter_->try_acquire(principal->key_id);
    if (d.backend_error) metrics_.count_cache_error();
    if (!d.allowed) {
      auto r = error_response(make_error("rate_limited", "this API key is over its request budget"));
      r.headers.emplace_back("Retry-After", std::to_string(d.retry_after_seconds));
      co_return r;
    }
  }
  if ((route.access & (1u << static_cast<unsigned>(principal->role))) == 0) {
    co_return error_response(make_error(
        "forbidden",
        std::string("this API key's role (") + store::to_string(principal->role) + ") may not use this endpoint"));
  }
  request.principal = std::move(principal).value();
  co_return std::nullopt;
}

const Principal& principal_of(const http::Request& request) {
  const Principal* p = std::any_cast<Principal>(&request.principal);
  // The dispatcher runs a protected route's handler only after admit() set
  // it; should that ever fail, the fallback may act for no merchant at all.
  static const Principal kNobody{"", "", store::Role::kValidator, std::string(), std::nullopt};
  if (TXV_BUG_IF(p == nullptr, "handler of a protected route ran without a principal")) return kNobody;
  return *p;
}

}  // namespace txv::api

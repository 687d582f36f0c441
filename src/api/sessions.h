// Console sessions (contract section 13): a sign-in with an admin or analyst
// key gives a session token in the HttpOnly cookie `txv_session` and a CSRF
// token the page sends back as `X-CSRF-Token` on every unsafe method.
//
// Only hashes reach the store (store::SessionStore): the token's SHA-256 as
// the session's id, and the key's secret hash (never the key). A session acts
// with its key's role and merchant scope, read through the Authenticator on
// every request (cached for AuthenticatorOptions::recheck_after), so revoking
// the key ends its sessions within that second on every replica.
//
// A session ends `lifetime` after sign-in, or `idle_timeout` after its last
// use. Use is recorded at most once per `touch_every`, so the idle end is
// exact to within that (a session idle for 30 min minus up to a minute may end).
//
// Thread-safety: every method may be called concurrently; no lock is held.
// Errors: unauthorized (no such session, ended, key revoked), forbidden (CSRF
// token missing or wrong on an unsafe method; a key without a console role),
// unavailable (the session store cannot be read: never let through).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "common/async.h"
#include "common/result.h"
#include "http/message.h"
#include "store/stores.h"

namespace txv::api {

struct SessionOptions {
  std::chrono::milliseconds lifetime{std::chrono::hours(12)};
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(30)};
  std::chrono::milliseconds touch_every{std::chrono::minutes(1)};
  bool secure_cookie = false;  // TLS on: the cookie gets `Secure`
};

constexpr std::string_view kSessionCookie = "txv_session";

struct StartedSession {
  std::string token;  // the cookie's value; never stored
  std::string csrf_token;
  store::Role role = store::Role::kAnalyst;
  domain::TimePoint expires_at{};
};

class Sessions {
 public:
  Sessions(SessionOptions options, Authenticator& keys, store::SessionStore& store);

  // Signs in with an API key. Errors: unauthorized (unknown or revoked key),
  // forbidden (a validator key), unavailable.
  Task<Result<StartedSession>> start(std::string_view api_key);

  // The principal of a request that carries the session cookie and no
  // Authorization header; checks both ends, the key, and the CSRF token of
  // an unsafe method.
  Task<Result<Principal>> resume(const http::Request& request);

  // Ends the session (idempotent).
  Task<Status> end(const SessionRef& session);

  // Whether the request carries the session cookie at all.
  static bool has_cookie(const http::Request& request);

  // Set-Cookie values: one that stores `token`, one that removes the cookie.
  std::string cookie(const StartedSession& session) const;
  std::string expired_cookie() const;

 private:
  SessionOptions options_;
  Authenticator& keys_;
  store::SessionStore& store_;
};

}  // namespace txv::api

// Handlers of contract section 13's sessions endpoint: sign in with an API
// key, read and end the current session. Request/response mapping only; the
// rules are in sessions.h.
#pragma once

#include "api/access.h"
#include "api/sessions.h"
#include "http/router.h"

namespace txv::api {

class SessionsApi {
 public:
  explicit SessionsApi(Sessions& sessions) : sessions_(sessions) {}

  void register_routes(http::Router& router);

  // POST /v1/sessions {"api_key"} (no authentication: the key is the proof)
  // → 201 {"csrf_token", "role", "expires_at"} and the cookie.
  Task<http::Response> sign_in(http::Request& request);
  // GET /v1/sessions/current → 200 {"csrf_token", "role", "name",
  // "merchant_id", "expires_at"}; 404 for a request made with a Bearer key.
  Task<http::Response> current(http::Request& request);
  // DELETE /v1/sessions/current → 204 and the cookie removed.
  Task<http::Response> sign_out(http::Request& request);

  // A sign-in body holds one key: nothing larger is read.
  static constexpr std::size_t kMaxSignInBody = 1024;

 private:
  Sessions& sessions_;
};

}  // namespace txv::api

// GET /console/ (contract section 13): the analyst console's files, with the
// headers a page that holds a session needs: a strict Content-Security-Policy
// (no inline script, nothing from another origin, no framing),
// X-Content-Type-Options, Referrer-Policy. Hashed files under assets/ are
// cached for a year (their names change with their content); the rest is
// revalidated (ETag, 304). No authentication: the page signs in through
// POST /v1/sessions.
#pragma once

#include "console/console_assets.h"
#include "http/router.h"

namespace txv::api {

class ConsoleApi {
 public:
  // `assets` must outlive the routes.
  explicit ConsoleApi(const console::AssetSet& assets) : assets_(assets) {}

  void register_routes(http::Router& router);

  static constexpr const char* kContentSecurityPolicy =
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

 private:
  http::Response serve(const http::Request& request, const std::string& path) const;

  const console::AssetSet& assets_;
};

}  // namespace txv::api

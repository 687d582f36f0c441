#include "api/console_api.h"

#include "api/responses.h"

namespace txv::api {
namespace {

bool is_hashed_asset(const std::string& path) { return path.rfind("assets/", 0) == 0; }

void add_security_headers(http::Response& r) {
  r.headers.emplace_back("Content-Security-Policy", ConsoleApi::kContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace

void ConsoleApi::register_routes(http::Router& router) {
  // "/console" and "/console/" are the same route (the router ignores a final '/').
  router.add("GET", "/console", {},
             [this](http::Request& r) -> Task<http::Response> { co_return serve(r, "index.html"); });
  router.add("GET", "/console/{file}", {},
             [this](http::Request& r) -> Task<http::Response> { co_return serve(r, r.path_params["file"]); });
  router.add("GET", "/console/assets/{file}", {}, [this](http::Request& r) -> Task<http::Response> {
    co_return serve(r, "assets/" + r.path_params["file"]);
  });
}

http::Response ConsoleApi::serve(const http::Request& request, const std::string& path) const {
  // A look-up in memory, never a file name: no path can reach outside the set.
  const console::Asset* asset = assets_.find(path);
  if (asset == nullptr) {
    auto r = error_response(make_error("not_found", "no such console file"));
    add_security_headers(r);
    return r;
  }
  http::Response r;
  r.content_type = asset->content_type;
  r.headers.emplace_back("ETag", asset->etag);
  r.headers.emplace_back("Cache-Control", is_hashed_asset(path) ? "public, max-age=31536000, immutable" : "no-cache");
  add_security_headers(r);
  const std::string* match = request.header("if-none-match");
  if (match != nullptr && *match == asset->etag) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.body = asset->body;
  return r;
}

}  // namespace txv::api

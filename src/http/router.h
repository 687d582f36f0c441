// Maps (method, path) to a handler through route templates such as
// "/v1/transactions/{merchant_id}/{transaction_id}". Built once at start-up,
// then read concurrently (no mutation after the server starts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/async.h"
#include "http/message.h"

namespace txv::http {

// A handler is a coroutine on the connection's executor; it never blocks the
// I/O thread (it awaits the store, the counters, ... instead).
using Handler = std::function<Task<Response>(Request&)>;

// What the transport needs to know about a route before it reads the body.
struct RouteOptions {
  // Who may call the route, opaque to http/: passed to the admission hook
  // (dispatcher.h), which interprets it (the api layer: a bit set of roles;
  // 0 = public, no authentication).
  std::uint32_t access = 0;
  // The body limit once the request was admitted; before admission, and for
  // a request that is refused, nothing beyond the headers is read.
  std::size_t max_body_bytes = 64 * 1024;
};

struct RouteInfo {
  std::string method;
  std::string route;
};

class Router {
 public:
  void add(const std::string& method, const std::string& route, RouteOptions options, Handler handler);

  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Handler* handler = nullptr;
    const RouteOptions* options = nullptr;
    std::string_view route;  // the template, owned by the router
    std::string allow;       // for kMethodNotAllowed: the methods the path accepts, "GET, HEAD, POST"
    std::size_t index = 0;   // for kFound: the route's position in routes(), for handler()/options()
  };
  // Fills request.path_params (percent-decoded) on success.
  Match match(Request& request) const;

  std::vector<RouteInfo> routes() const;
  std::size_t size() const { return entries_.size(); }
  // The route at `index` (a Match::index), in registration order.
  const Handler& handler(std::size_t index) const { return entries_.at(index).handler; }
  const RouteOptions& options(std::size_t index) const { return entries_.at(index).options; }
  const std::string& route(std::size_t index) const { return entries_.at(index).route; }

 private:
  struct Entry {
    std::string method;
    std::string route;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    RouteOptions options;
    Handler handler;
  };
  std::vector<Entry> entries_;
};

std::string percent_decode(std::string_view s, bool plus_as_space = false);

}  // namespace txv::http

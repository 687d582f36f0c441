// Maps (method, path) to a handler through route templates such as
// "/v1/transactions/{merchant_id}/{transaction_id}". Built once at start-up,
// then read concurrently (no mutation after the server starts).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/message.h"

namespace txv::http {

// A handler may block (database commits); it runs on a server thread.
using Handler = std::function<Response(Request&)>;

struct RouteInfo {
  std::string method;
  std::string route;
};

class Router {
 public:
  void add(const std::string& method, const std::string& route, Handler handler);

  enum class MatchKind { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    MatchKind kind = MatchKind::kNotFound;
    const Handler* handler = nullptr;
    std::string route;
    std::string allow;  // for kMethodNotAllowed: the methods the path accepts, "GET, HEAD, POST"
  };
  // Fills request.path_params (percent-decoded) on success.
  Match match(Request& request) const;

  std::vector<RouteInfo> routes() const;

 private:
  struct Entry {
    std::string method;
    std::string route;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    Handler handler;
  };
  std::vector<Entry> entries_;
};

std::string percent_decode(std::string_view s, bool plus_as_space = false);

}  // namespace txv::http

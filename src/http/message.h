// Transport-neutral request and response seen by handlers. Handlers never see
// Beast types, so they can be tested without a socket.
#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace txv::http {

struct Request {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // decoded path without the query
  std::string query;                           // raw query string without '?'
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote_address;
  std::string request_id;
  std::string route;  // the matched route template, set by the router
  std::map<std::string, std::string> path_params;
  // Set by the admission hook (dispatcher.h) on the headers, before the body
  // is read: who is asking (the api layer's Principal). Opaque to http/.
  std::any principal;
  // Kept by the dispatcher between its two phases (dispatcher.h), not for handlers:
  // the matched route's index in the router (kNoRoute: none) and when the
  // headers were complete (the start of the request's measured duration).
  static constexpr std::size_t kNoRoute = static_cast<std::size_t>(-1);
  std::size_t route_index = kNoRoute;
  std::chrono::steady_clock::time_point received_at{};

  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace txv::http

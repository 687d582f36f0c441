#include "http/router.h"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <string_view>

namespace txv::http {
namespace {
template <class Vector>
void split_path(std::string_view path, Vector& out) {
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
}
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool is_parameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}
}  // namespace

std::string percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else if (plus_as_space && s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void Router::add(const std::string& method, const std::string& route, RouteOptions options, Handler handler) {
  Entry e{method, route, {}, options, std::move(handler)};
  split_path(route, e.segments);
  entries_.push_back(std::move(e));
}

Router::Match Router::match(Request& request) const {
  // Split on the raw path so an encoded '/' inside a parameter stays inside it.
  boost::container::small_vector<std::string_view, 16> segments;
  split_path(request.path, segments);
  auto fits = [&](const Entry& e) {
    if (e.segments.size() != segments.size()) return false;
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (!is_parameter(e.segments[i]) && e.segments[i] != segments[i]) return false;
    }
    return true;
  };
  bool path_known = false;
  for (std::size_t index = 0; index < entries_.size(); ++index) {
    const Entry& e = entries_[index];
    if (!fits(e)) continue;
    path_known = true;
    if (e.method != request.method && !(request.method == "HEAD" && e.method == "GET")) continue;
    request.path_params.clear();
    for (std::size_t i = 0; i < segments.size(); ++i) {
      if (is_parameter(e.segments[i])) {
        request.path_params[e.segments[i].substr(1, e.segments[i].size() - 2)] = percent_decode(segments[i]);
      }
    }
    request.route = e.route;
    Match m;
    m.kind = MatchKind::kFound;
    m.handler = &e.handler;
    m.options = &e.options;
    m.route = e.route;
    m.index = index;
    return m;
  }
  if (!path_known) return Match{};
  std::vector<std::string> allowed;
  for (const auto& e : entries_) {
    if (!fits(e)) continue;
    allowed.push_back(e.method);
    if (e.method == "GET") allowed.emplace_back("HEAD");
  }
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  Match m;
  m.kind = MatchKind::kMethodNotAllowed;
  for (const auto& method : allowed) m.allow += (m.allow.empty() ? "" : ", ") + method;
  return m;
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& e : entries_) out.push_back({e.method, e.route});
  return out;
}

}  // namespace txv::http

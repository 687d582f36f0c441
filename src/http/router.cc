#include "http/router.h"

#include <algorithm>

namespace txv::http {
namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
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
  return out;
}
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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

void Router::add(const std::string& method, const std::string& route, Handler handler) {
  entries_.push_back(Entry{method, route, split_path(route), std::move(handler)});
}

Router::Match Router::match(Request& request) const {
  // Split on the raw path so an encoded '/' inside a parameter stays inside it.
  auto segments = split_path(request.path);
  std::vector<std::string> allowed;
  for (const auto& e : entries_) {
    if (e.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& want = e.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params[want.substr(1, want.size() - 2)] = percent_decode(segments[i]);
      } else {
        ok = want == segments[i];
      }
    }
    if (!ok) continue;
    allowed.push_back(e.method);
    if (e.method == "GET") allowed.emplace_back("HEAD");
    if (e.method != request.method && !(request.method == "HEAD" && e.method == "GET")) continue;
    request.path_params = std::move(params);
    request.route = e.route;
    return Match{MatchKind::kFound, &e.handler, e.route, ""};
  }
  if (allowed.empty()) return Match{MatchKind::kNotFound, nullptr, "", ""};
  std::sort(allowed.begin(), allowed.end());
  allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  return Match{MatchKind::kMethodNotAllowed, nullptr, "", allow};
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& e : entries_) out.push_back({e.method, e.route});
  return out;
}

}  // namespace txv::http

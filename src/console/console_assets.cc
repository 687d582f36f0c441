#include "console/console_assets.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace txv::console {
namespace {

// FNV-1a, 64 bits: a validator for caches, not a security property.
std::string etag_of(std::string_view body) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string content_type_for(std::string_view path) {
  struct Type {
    std::string_view extension, content_type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& t : kTypes) {
    if (ends_with(path, t.extension)) return std::string(t.content_type);
  }
  return "application/octet-stream";
}

void AssetSet::add(std::string path, std::string body) {
  Asset a;
  a.content_type = content_type_for(path);
  a.etag = etag_of(body);
  a.body = std::move(body);
  assets_.insert_or_assign(std::move(path), std::move(a));
}

const Asset* AssetSet::find(std::string_view path) const {
  auto it = assets_.find(path);
  return it == assets_.end() ? nullptr : &it->second;
}

Result<AssetSet> console_assets_from_directory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "index.html", ec)) {
    return make_error("invalid_configuration", "TXV_CONSOLE_DIR: no index.html in " + dir);
  }
  AssetSet set;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in && !in.eof())
      return make_error("invalid_configuration", "TXV_CONSOLE_DIR: cannot read " + it->path().string());
    set.add(fs::relative(it->path(), dir, ec).generic_string(), std::move(body).str());
  }
  if (ec) return make_error("invalid_configuration", "TXV_CONSOLE_DIR: cannot list " + dir + ": " + ec.message());
  return set;
}

}  // namespace txv::console

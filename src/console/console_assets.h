// The analyst console's files (contract section 13): the compiled single-page
// application of console/, embedded in the binary at build time
// (embed_console.cmake), or read from a directory at start-up
// (TXV_CONSOLE_DIR, for working on the console without relinking).
//
// An AssetSet is built once at start-up and then only read: safe to share
// between threads without locking.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace txv::console {

struct Asset {
  std::string body;
  std::string content_type;  // from the file name's extension
  std::string etag;          // a quoted strong validator of the body
};

class AssetSet {
 public:
  // `path` relative to the console's root, e.g. "index.html", "assets/index-3f2a.js".
  void add(std::string path, std::string body);
  const Asset* find(std::string_view path) const;
  std::size_t size() const { return assets_.size(); }
  // Whether the set is the placeholder of a build without the console.
  bool placeholder() const { return placeholder_; }
  void mark_placeholder() { placeholder_ = true; }

 private:
  std::map<std::string, Asset, std::less<>> assets_;
  bool placeholder_ = false;
};

// The files embedded at build time; without a console build (console/dist
// absent when the binary was built) one index.html saying how to build it.
AssetSet embedded_console_assets();

// Every regular file under `dir` (blocking: start-up only). Errors:
// invalid_configuration when `dir` is missing or has no index.html.
Result<AssetSet> console_assets_from_directory(const std::string& dir);

// The Content-Type for a file name (text types with charset=utf-8;
// application/octet-stream when unknown).
std::string content_type_for(std::string_view path);

}  // namespace txv::console

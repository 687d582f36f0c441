// A minimal blocking HTTP/1.1 client for the CLI commands that talk to a
// running server (contract section 1: `--url`, key from TXV_API_KEY). One
// connection per request; http:// and https:// (TLS 1.2+, the system's CA
// certificates, host name verified).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"

namespace txv::cli {

struct HttpAnswer {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  // Errors: "usage" for a URL that is not http(s)://host[:port][/prefix].
  static Result<std::unique_ptr<HttpClient>> create(const std::string& base_url,
                                                    std::chrono::seconds timeout = std::chrono::seconds(120));
  virtual ~HttpClient() = default;
  // POSTs a JSON body to base_url's path + `path` with `Authorization: Bearer key`.
  // Errors: "unavailable" when the server cannot be reached or the exchange fails.
  virtual Result<HttpAnswer> post_json(const std::string& path, const std::string& body, const std::string& key) = 0;
  // Any method ("GET", "POST", "PUT", "DELETE"); a non-empty body is sent as
  // JSON, a non-empty `if_match` as the If-Match header.
  virtual Result<HttpAnswer> send(const std::string& method, const std::string& path, const std::string& body,
                                  const std::string& key, const std::string& if_match = "") = 0;
};

}  // namespace txv::cli

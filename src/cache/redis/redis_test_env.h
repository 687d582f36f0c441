// Test helper: the Redis server of the integration tests (scripts/test-servers.sh writes TXV_TEST_REDIS_URL).
// Without TXV_TEST_REDIS_URL the Redis tests are skipped, unless TXV_REQUIRE_INTEGRATION=1 (make test), where a
// missing server is a failure: a skipped suite must not pass for a green one.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cache/redis/redis_client.h"

namespace txv::cache::testing {

inline std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

inline bool integration_required() {
  auto v = env("TXV_REQUIRE_INTEGRATION");
  return v && *v == "1";
}

// The URL of the test server, or nullopt after recording a failure (required) or nothing (optional).
inline std::optional<std::string> redis_test_url(const char* var = "TXV_TEST_REDIS_URL") {
  auto url = env(var);
  if (!url && integration_required()) {
    // A fatal failure (FAIL() inside a lambda): the test body must not run, and the test must not count as skipped.
    [var] {
      FAIL() << var << " is not set but TXV_REQUIRE_INTEGRATION=1 (run scripts/test-servers.sh start DIR and "
             << "source DIR/env)";
    }();
  }
  return url;
}

// A client of the test server (nullptr when there is none; see redis_test_url()).
inline std::unique_ptr<RedisClient> redis_test_client(RedisClientOptions options = {}) {
  auto url = redis_test_url();
  if (!url) return nullptr;
  options.url = *url;
  auto client = RedisClient::create(std::move(options));
  if (!client.ok()) {
    [&client] { FAIL() << client.error().message; }();
    return nullptr;
  }
  return std::move(client).value();
}

}  // namespace txv::cache::testing

// Skips the test when there is no server (the helper recorded a failure first if one is required).
#define TXV_REDIS_OR_SKIP(client)                                   \
  do {                                                              \
    if (!(client)) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set"; \
  } while (0)

namespace txv::cache::testing {

// `url` with its password replaced (the URL is redis[s]://[user]:PASSWORD@host...).
inline std::string with_password(const std::string& url, const std::string& password) {
  const auto scheme_end = url.find("://") + 3;
  const auto at = url.find('@', scheme_end);
  const auto colon = url.find(':', scheme_end);
  return url.substr(0, colon + 1) + password + url.substr(at);
}

// `url` with its user set (redis://user:PASSWORD@...).
inline std::string with_user(const std::string& url, const std::string& user) {
  const auto scheme_end = url.find("://") + 3;
  const auto colon = url.find(':', scheme_end);
  return url.substr(0, scheme_end) + user + url.substr(colon);
}

// `url` with its database number replaced (the URL ends with /DB).
inline std::string with_db(const std::string& url, int db) {
  return url.substr(0, url.rfind('/') + 1) + std::to_string(db);
}

}  // namespace txv::cache::testing

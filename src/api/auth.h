// API key authentication and role checks (contract section 2).
//
// Keys are "txv_" + 43 base64url chars (32 random bytes); only the hex SHA-256
// of a key is stored. A presented key is hashed, looked up by hash, and the
// stored hash is compared in constant time. Found keys are cached in process
// (keys are immutable once created; there is no revocation API yet).
//
// Thread-safety: authenticate() is called concurrently.
#pragma once

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "http/message.h"
#include "store/stores.h"

namespace txv::api {

struct Principal {
  std::string key_id;
  std::string name;
  store::Role role = store::Role::kValidator;
  std::optional<std::string> merchant_id;
};

class Authenticator {
 public:
  explicit Authenticator(store::ApiKeyStore& keys);
  // Errors: unauthorized (missing, malformed or unknown key), unavailable.
  Result<Principal> authenticate(const http::Request& request);

 private:
  store::ApiKeyStore& keys_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, store::ApiKey> cache_;  // by secret hash
};

// forbidden unless the principal's role is one of `allowed`.
Status require_role(const Principal& p, std::initializer_list<store::Role> allowed);

// A new secret and the record to store for it.
struct NewApiKey {
  std::string secret;
  store::ApiKey record;
};
NewApiKey generate_api_key(store::Role role, std::optional<std::string> merchant_id, std::string name,
                           domain::TimePoint now);

std::string sha256_hex(std::string_view data);

}  // namespace txv::api

// API key authentication and role checks (contract section 2).
//
// Keys are "txv_" + 43 base64url chars (32 random bytes); only the hex SHA-256
// of a key is stored. A presented key is hashed, looked up by hash, and the
// stored hash is compared in constant time. The scheme name `Bearer` is
// case-insensitive (RFC 9110 §11.1).
//
// Keys found are cached in process for recheck_after; after that the next
// request re-reads the key from the store (awaited, never blocking), so a
// revocation made through any process (`txv apikey revoke`) refuses the key
// everywhere within AuthenticatorOptions::recheck_after (1 s). Only keys that exist are cached, so the
// cache holds at most as many entries as there are keys: an unauthenticated
// client cannot grow it.
//
// Thread-safety: authenticate() is called concurrently; its lock is never held
// across a suspension point.
#pragma once

#include <chrono>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "common/async.h"
#include "common/result.h"
#include "http/message.h"
#include "store/stores.h"

namespace txv::api {

// The console session a request came with (contract section 13).
struct SessionRef {
  std::string id_hash;
  std::string csrf_token;
  domain::TimePoint expires_at{};
};

struct Principal {
  std::string key_id;
  std::string name;
  store::Role role = store::Role::kValidator;
  std::optional<std::string> merchant_id;
  // Set when the request was authenticated by a session cookie rather than a
  // Bearer key; the session acts with its key's role and merchant scope.
  std::optional<SessionRef> session;
};

// Whether `p` may act for `merchant_id`: keys without a merchant scope may act
// for every merchant. The one scope check of the API.
bool in_merchant_scope(const Principal& p, std::string_view merchant_id);

struct AuthenticatorOptions {
  std::chrono::milliseconds recheck_after{1000};
  std::chrono::seconds touch_every{60};  // how often last_used_at is written per key
};

class Authenticator {
 public:
  Authenticator(AuthenticatorOptions options, store::ApiKeyStore& keys);
  // Errors: unauthorized (missing, malformed, unknown or revoked key), unavailable.
  Task<Result<Principal>> authenticate(const http::Request& request);
  // The same for a key presented some other way (a sign-in body).
  Task<Result<Principal>> authenticate_secret(std::string_view secret);
  // The key whose secret has this hash (a session's key), with the same cache
  // and revocation check. Errors: unauthorized, unavailable.
  Task<Result<Principal>> authenticate_hash(const std::string& secret_hash);

 private:
  struct Cached {
    store::ApiKey key;
    std::chrono::steady_clock::time_point checked;
    std::chrono::steady_clock::time_point touched;
  };

  AuthenticatorOptions options_;
  store::ApiKeyStore& keys_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, Cached> cache_;  // by secret hash
};

// A new secret and the record to store for it.
struct NewApiKey {
  std::string secret;
  store::ApiKey record;
};
NewApiKey generate_api_key(store::Role role, std::optional<std::string> merchant_id, std::string name,
                           domain::TimePoint now);

std::string sha256_hex(std::string_view data);

// `bytes` random bytes from OpenSSL's CSPRNG, base64url without padding. The
// one source of secrets: API keys, session tokens, CSRF tokens. Throws only
// when the system has no randomness (then nothing secret can be made).
std::string random_base64url(int bytes);

// Whether `secret` is `prefix` and the 43 base64url characters of
// random_base64url(32): the shape of every API key and session token. Anything
// else is refused without a store look-up, so invented secrets cost an
// unauthenticated client's target no database read.
bool has_secret_shape(std::string_view secret, std::string_view prefix);

// Equal secrets (or hashes of them), compared in constant time.
bool same_secret(std::string_view a, std::string_view b);

}  // namespace txv::api

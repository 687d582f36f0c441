#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>

#include "common/hex.h"
#include "domain/time.h"

namespace txv::api {

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex_encode(md, len);
}

std::string random_base64url(int bytes) {
  std::string raw(static_cast<std::size_t>(bytes), '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes) != 1) {
    throw std::runtime_error("no randomness available");  // start-up/CLI only
  }
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out.push_back(kAlphabet[(buffer >> (bits - 6)) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

NewApiKey generate_api_key(store::Role role, std::optional<std::string> merchant_id, std::string name,
                           domain::TimePoint now) {
  NewApiKey k;
  k.secret = "txv_" + random_base64url(32);
  k.record.id = "key_" + random_base64url(9);
  k.record.name = name.empty() ? k.record.id : std::move(name);
  k.record.role = role;
  k.record.merchant_id = std::move(merchant_id);
  k.record.secret_hash = sha256_hex(k.secret);
  k.record.created_at = now;
  return k;
}

bool has_secret_shape(std::string_view secret, std::string_view prefix) {
  if (secret.size() != prefix.size() + 43 || secret.substr(0, prefix.size()) != prefix) return false;
  for (unsigned char c : secret.substr(prefix.size())) {
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool in_merchant_scope(const Principal& p, std::string_view merchant_id) {
  return !p.merchant_id || *p.merchant_id == merchant_id;
}

Authenticator::Authenticator(AuthenticatorOptions options, store::ApiKeyStore& keys) : options_(options), keys_(keys) {}

namespace {

// The secret of "Authorization: Bearer <secret>", the scheme matched
// case-insensitively; nullopt for any other shape.
std::optional<std::string_view> bearer_secret(const std::string* header) {
  if (header == nullptr) return std::nullopt;
  std::string_view h = *header;
  constexpr std::string_view kScheme = "bearer";
  if (h.size() <= kScheme.size() + 1) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return std::nullopt;
  }
  if (h[kScheme.size()] != ' ') return std::nullopt;
  std::string_view secret = h.substr(kScheme.size() + 1);
  while (!secret.empty() && secret.front() == ' ') secret.remove_prefix(1);
  while (!secret.empty() && secret.back() == ' ') secret.remove_suffix(1);
  if (secret.empty()) return std::nullopt;
  return secret;
}

}  // namespace

Task<Result<Principal>> Authenticator::authenticate(const http::Request& request) {
  auto secret = bearer_secret(request.header("authorization"));
  if (!secret) co_return make_error("unauthorized", "missing or malformed Authorization: Bearer <api key>");
  co_return co_await authenticate_secret(*secret);
}

Task<Result<Principal>> Authenticator::authenticate_secret(std::string_view secret) {
  if (!has_secret_shape(secret, "txv_")) co_return make_error("unauthorized", "unknown API key");
  co_return co_await authenticate_hash(sha256_hex(secret));
}

Task<Result<Principal>> Authenticator::authenticate_hash(const std::string& hash) {
  const auto now = std::chrono::steady_clock::now();

  std::optional<store::ApiKey> key;
  bool touch = false;
  {
    std::shared_lock lock(mu_);
    if (auto it = cache_.find(hash); it != cache_.end() && now - it->second.checked < options_.recheck_after) {
      key = it->second.key;
      touch = now - it->second.touched >= options_.touch_every;
    }
  }
  if (!key) {
    auto found = co_await keys_.find_api_key_by_hash(hash);
    if (!found.ok()) co_return Error(found.error());
    std::unique_lock lock(mu_);
    if (!found->has_value()) {
      cache_.erase(hash);
      co_return make_error("unauthorized", "unknown API key");
    }
    key = **found;
    auto [it, inserted] = cache_.try_emplace(hash, Cached{*key, now, {}});
    if (!inserted) it->second.key = *key, it->second.checked = now;
    touch = now - it->second.touched >= options_.touch_every;
  }
  if (!same_secret(key->secret_hash, hash)) {
    co_return make_error("unauthorized", "unknown API key");
  }
  if (key->revoked_at) co_return make_error("unauthorized", "this API key was revoked");
  if (touch) {
    {
      std::unique_lock lock(mu_);
      if (auto it = cache_.find(hash); it != cache_.end()) it->second.touched = now;
    }
    // Best effort: a failed write of last_used_at must not fail the request.
    (void)co_await keys_.touch_api_key(key->id, domain::now_millis());
  }
  co_return Principal{key->id, key->name, key->role, key->merchant_id, std::nullopt};
}

}  // namespace txv::api

#include "api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace txv::api {

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * len, '0');
  for (unsigned i = 0; i < len; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xF];
  }
  return out;
}

namespace {
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
}  // namespace

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

Authenticator::Authenticator(store::ApiKeyStore& keys) : keys_(keys) {}

Result<Principal> Authenticator::authenticate(const http::Request& request) {
  const std::string* header = request.header("authorization");
  static const std::string kBearer = "Bearer ";
  if (header == nullptr || header->size() <= kBearer.size() || header->compare(0, kBearer.size(), kBearer) != 0) {
    return make_error("unauthorized", "missing or malformed Authorization: Bearer <api key>");
  }
  std::string_view secret = std::string_view(*header).substr(kBearer.size());
  if (secret.size() > 256) return make_error("unauthorized", "unknown API key");
  std::string hash = sha256_hex(secret);

  std::optional<store::ApiKey> key;
  {
    std::shared_lock lock(mu_);
    if (auto it = cache_.find(hash); it != cache_.end()) key = it->second;
  }
  if (!key) {
    auto found = keys_.find_api_key_by_hash(hash);
    if (!found.ok()) return Error(found.error());
    if (!found->has_value()) return make_error("unauthorized", "unknown API key");
    key = **found;
    std::unique_lock lock(mu_);
    cache_.emplace(hash, *key);
  }
  if (key->secret_hash.size() != hash.size() || CRYPTO_memcmp(key->secret_hash.data(), hash.data(), hash.size()) != 0) {
    return make_error("unauthorized", "unknown API key");
  }
  return Principal{key->id, key->name, key->role, key->merchant_id};
}

Status require_role(const Principal& p, std::initializer_list<store::Role> allowed) {
  for (auto r : allowed) {
    if (p.role == r) return Ok{};
  }
  return make_error("forbidden",
                    std::string("this API key's role (") + store::to_string(p.role) + ") may not use this endpoint");
}

}  // namespace txv::api

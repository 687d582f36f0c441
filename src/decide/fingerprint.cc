#include "decide/fingerprint.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "common/hex.h"

namespace txv::decide {

Fingerprinter::Fingerprinter(std::string key) : key_(std::move(key)) {}

std::string Fingerprinter::hmac_hex(std::string_view data, std::size_t hex_chars) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return hex_encode(mac, std::min<std::size_t>(hex_chars / 2, len));
}

std::string Fingerprinter::card_number(std::string_view digits) const { return hmac_hex(digits, 32); }

std::string Fingerprinter::token(std::string_view token) const {
  std::string data = "token:";
  data.append(token);
  return hmac_hex(data, 32);
}

std::string Fingerprinter::request_digest(std::string_view canonical_body) const {
  std::string data = "request:";
  data.append(canonical_body);
  return hmac_hex(data, 64);
}

}  // namespace txv::decide

// Keyed card fingerprints: hex(HMAC-SHA-256(key, input))[0:32].
//
// The key is the PAN key (>= 32 bytes). Tokens are fingerprinted with a
// domain prefix ("token:") so a token can never collide with a card number.
// Thread-safety: immutable after construction; fingerprint() is const.
#pragma once

#include <string>
#include <string_view>

namespace txv::decide {

class Fingerprinter {
 public:
  explicit Fingerprinter(std::string key);
  std::string card_number(std::string_view digits) const;
  std::string token(std::string_view token) const;
  // Full 64-hex HMAC of a canonical request body, for idempotency. Keyed
  // because the body holds the card number: an unkeyed hash could be brute
  // forced back to the PAN from the other, known fields.
  std::string request_digest(std::string_view canonical_body) const;

 private:
  std::string hmac_hex(std::string_view data, std::size_t hex_chars) const;
  std::string key_;
};

}  // namespace txv::decide

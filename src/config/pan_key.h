// The secret behind card fingerprints (TXV_PAN_KEY / TXV_PAN_KEY_FILE).
//
// Accepted encodings: hex (64+ hex chars) or base64 (standard or url-safe,
// padding optional) decoding to at least 32 bytes. In embedded mode with no
// key configured, a random 32-byte key is generated on first start into
// `<database directory>/pan.key` (mode 0600) and reused afterwards.
#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "config/config.h"

namespace txv::config {

// Raw key bytes, or invalid_configuration naming TXV_PAN_KEY / TXV_PAN_KEY_FILE.
Result<std::string> decode_pan_key(const std::string& text, const char* setting);
Result<std::string> load_or_create_pan_key(const ServerConfig& config);

}  // namespace txv::config

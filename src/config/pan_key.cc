#include "config/pan_key.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace txv::config {
namespace {

constexpr std::size_t kMinKeyBytes = 32;

std::optional<std::string> from_hex(const std::string& s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    auto nib = [](char c) {
      return c >= '0' && c <= '9'   ? c - '0'
             : c >= 'a' && c <= 'f' ? c - 'a' + 10
             : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                    : -1;
    };
    int hi = nib(s[i]), lo = nib(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::optional<std::string> from_base64(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : s) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+' || c == '-' ? 62
            : c == '/' || c == '_' ? 63
                                   : -1;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

Result<std::string> decode_pan_key(const std::string& raw, const char* setting) {
  std::string text = trim(raw);
  auto bytes = from_hex(text);
  if (!bytes) bytes = from_base64(text);
  if (!bytes || bytes->size() < kMinKeyBytes) {
    return make_error("invalid_configuration",
                      std::string(setting) + ": the key must be at least 32 bytes, hex or base64 encoded");
  }
  return *bytes;
}

Result<std::string> load_or_create_pan_key(const ServerConfig& config) {
  if (config.pan_key) return decode_pan_key(*config.pan_key, "TXV_PAN_KEY");
  std::string path;
  if (config.pan_key_file) {
    path = *config.pan_key_file;
  } else if (config.database_kind == DatabaseKind::kSqlite) {
    auto dir = std::filesystem::path(config.sqlite_path).parent_path();
    path = (dir.empty() ? std::filesystem::path(".") : dir).append("pan.key").string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
      unsigned char key[kMinKeyBytes];
      if (RAND_bytes(key, sizeof key) != 1) {
        return make_error("invalid_configuration", "TXV_PAN_KEY_FILE: no randomness to generate a key");
      }
      static constexpr char kHex[] = "0123456789abcdef";
      std::string hex;
      for (unsigned char b : key) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 0xF]);
      }
      std::string tmp = path + ".tmp";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << hex << "\n";
        if (!out) return make_error("invalid_configuration", "TXV_PAN_KEY_FILE: cannot write " + path);
      }
      ::chmod(tmp.c_str(), 0600);
      std::filesystem::rename(tmp, path, ec);
      if (ec) return make_error("invalid_configuration", "TXV_PAN_KEY_FILE: cannot write " + path);
    }
  } else {
    return make_error("invalid_configuration", "TXV_PAN_KEY: required with a postgres database");
  }
  std::ifstream in(path);
  if (!in) return make_error("invalid_configuration", "TXV_PAN_KEY_FILE: cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return decode_pan_key(ss.str(), "TXV_PAN_KEY_FILE");
}

}  // namespace txv::config

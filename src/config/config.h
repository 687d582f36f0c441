// Server configuration: defaults < YAML file (--config) < environment < flags.
//
// Every setting has one canonical key (the environment variable name, e.g.
// "TXV_LISTEN"); the YAML file uses the same names lower-cased without the
// "TXV_" prefix ("listen", "database_url"), flags use "--listen",
// "--database-url". load_config() validates everything and returns an Error
// whose message is one line naming the setting ("TXV_LISTEN: ...").
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace txv::config {

// The settings of section 1 of the contract, in the order they are documented.
struct SettingInfo {
  const char* env;   // "TXV_LISTEN"
  const char* help;  // one line
};
const std::vector<SettingInfo>& settings();

// yaml key for an env name: "TXV_DATABASE_URL" -> "database_url"
std::string yaml_key(const std::string& env);
// flag name for an env name: "TXV_DATABASE_URL" -> "database-url"
std::string flag_name(const std::string& env);

enum class DatabaseKind { kSqlite, kPostgres };

struct ServerConfig {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8080;
  std::string database_url = "sqlite:./txv-data/txv.db";
  DatabaseKind database_kind = DatabaseKind::kSqlite;
  std::string sqlite_path = "./txv-data/txv.db";  // when kSqlite
  std::optional<std::string> database_read_url;
  std::optional<std::string> redis_url;
  std::optional<std::string> pan_key_file;
  std::optional<std::string> pan_key;
  std::string log_level = "info";
  int threads = 1;
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
  double rate_limit = 0;                   // requests per second per key; 0 = off
  bool decision_traces = true;             // store what each rule saw with every decision (contract section 10)
  std::optional<std::string> console_dir;  // unset: the console embedded at build time
  std::chrono::milliseconds backtest_stale_after{30000};  // a running backtest without progress this long: failed
  std::chrono::milliseconds drain_delay{5000};
  std::chrono::milliseconds grace_period{25000};
};

using RawSettings = std::map<std::string, std::string>;  // env name -> raw text

// Reads the TXV_* variables present in `environ`.
RawSettings settings_from_environment();
// Parses a YAML mapping file; errors name the file and the key.
Result<RawSettings> settings_from_yaml_file(const std::string& path);

// Merges layers (later wins) and validates.
Result<ServerConfig> load_config(const std::vector<RawSettings>& layers_low_to_high);

// "250ms", "5s", "2m", "1h" -> milliseconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(const std::string& text);

}  // namespace txv::config

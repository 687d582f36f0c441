// Parses txv's command line (contract section 1) into a Command. No side
// effects beyond reading the --config file and the environment.
//
//   txv serve [--config FILE] [--listen ...] [--database-url ...] ... [--no-migrate]
//   txv migrate [--config FILE] [--database-url ...]
//   txv apikey create --role admin|analyst|validator [--merchant ID] [--name TEXT]
//   txv apikey list
//   txv apikey revoke ID
//   txv labels import FILE.csv [--url URL]   (key from TXV_API_KEY; labels_import.h)
//   txv rules export [--url URL]               (key from TXV_API_KEY; rules_commands.h)
//   txv rules plan FILE [--since 7d] [--url URL]
//   txv rules apply FILE [--url URL]
//   txv version
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "store/records.h"

namespace txv::cli {

enum class Verb {
  kServe,
  kMigrate,
  kApiKeyCreate,
  kApiKeyList,
  kApiKeyRevoke,
  kLabelsImport,
  kRulesExport,
  kRulesPlan,
  kRulesApply,
  kVersion,
  kHelp
};

// Where the commands that talk to a running server send their requests.
inline constexpr const char* kDefaultServerUrl = "http://127.0.0.1:8080";

struct Command {
  Verb verb = Verb::kHelp;
  config::ServerConfig config;
  bool no_migrate = false;
  store::Role role = store::Role::kValidator;
  std::optional<std::string> merchant_id;
  std::string key_name;
  std::string key_id;                                       // for kApiKeyRevoke
  std::string labels_file;                                  // for kLabelsImport
  std::string server_url = kDefaultServerUrl;               // for kLabelsImport and kRules* (--url)
  std::string rules_file;                                   // for kRulesPlan, kRulesApply
  std::chrono::seconds since = std::chrono::hours(24 * 7);  // for kRulesPlan (--since)
  std::string help_text;                                    // for kHelp: what to print on stdout
};

// Errors: "usage" (exit 2 with the message) or "invalid_configuration".
Result<Command> parse_command_line(int argc, const char* const* argv, const config::RawSettings& environment);

}  // namespace txv::cli

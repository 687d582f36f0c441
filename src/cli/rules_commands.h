// `txv rules export|plan|apply` (contract section 12; docs/rules-as-code.md):
// rules as code against a running server.
//
// - export: GET /v1/rules, the live set as YAML on stdout.
// - plan FILE: the rule-by-rule change from the live set to FILE, then a
//   backtest of FILE's set (POST /v1/backtests, replace_all) over
//   [now - since, now), polled to the end, printed as a table.
// - apply FILE: PUT /v1/rules with If-Match: "<FILE's rules_version>"; nothing
//   is sent when the live set already equals FILE ("nothing to do").
//
// Exit codes: 0 applied / planned / nothing to do, 1 error (bad file, server
// unreachable or refusing), 3 version mismatch (412: the live set changed
// since FILE was exported).
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>

#include "cli/http_client.h"
#include "cli/rules_file.h"

namespace txv::cli {

inline constexpr int kRulesExitOk = 0;
inline constexpr int kRulesExitError = 1;
inline constexpr int kRulesExitVersionMismatch = 3;

// One request to the server: method, path, JSON body (empty for GET) and the
// If-Match header value (empty: none). The key is the caller's business.
using RulesCall = std::function<Result<HttpAnswer>(const std::string& method, const std::string& path,
                                                   const std::string& body, const std::string& if_match)>;

struct RulesPlanOptions {
  std::chrono::seconds since = std::chrono::hours(24 * 7);
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds poll_deadline = std::chrono::minutes(30);
  bool progress = false;  // a progress line on `err` while the backtest runs
  // Waits between polls (tests pass a no-op).
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Parses "7d", "12h", "30m" (a positive count). Errors: "usage".
Result<std::chrono::seconds> parse_since(const std::string& text);

int rules_export(const RulesCall& call, std::ostream& out, std::ostream& err);
int rules_plan(const std::string& file_text, const RulesCall& call, const RulesPlanOptions& options, std::ostream& out,
               std::ostream& err);
int rules_apply(const std::string& file_text, const RulesCall& call, std::ostream& out, std::ostream& err);

// The backtest job's result ({"outcomes", "changes", "rules", "labels"}) as a text table; `names` (rule id ->
// name) labels the rules the result names by id.
std::string format_backtest(const std::string& job_json, const std::map<std::string, std::string>& names = {});

}  // namespace txv::cli

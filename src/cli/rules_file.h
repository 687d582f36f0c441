// Rules as code (contract section 12): the YAML file that `txv rules
// export|plan|apply` read and write, its JSON twin on the wire, and the
// rule-by-rule difference between two sets. Format: docs/rules-as-code.md.
//
//   rules_version: 7          # the version the file was exported from
//   rules:
//     - id: r_123             # absent for a rule to create
//       name: large amounts
//       expression: amount > 100000
//       action: decline
//       code: too_big
//       priority: 10
//       mode: enforce
//
// Rules are written sorted by priority, then id (rules without an id last in
// their priority, by name), keys in the fixed order above; writing a set twice
// gives identical bytes, and any string (quotes, backslashes, '#', ':', unicode,
// newlines) reads back unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace txv::cli {

struct RuleSpec {
  std::string id;  // empty: a new rule
  std::string name;
  std::string expression;
  std::string action;
  std::string code;
  std::int64_t priority = 0;
  std::string mode = "enforce";
  bool operator==(const RuleSpec&) const = default;
};

struct RuleSet {
  std::optional<std::int64_t> rules_version;
  std::vector<RuleSpec> rules;
};

// Sorts by priority, then id (rules with an id first), then name.
void sort_rules(std::vector<RuleSpec>& rules);

// The YAML text of `set` (sorted; ends with a newline).
std::string write_rules_yaml(const RuleSet& set);

// Reads a rules file. Errors ("validation_failed"): the message names the
// 1-based line and column: "line 4, column 5: rule 2: missing key 'code'".
Result<RuleSet> read_rules_yaml(const std::string& text);

// From the body of GET /v1/rules ({"items": [...], "rules_version": N}).
Result<RuleSet> rules_from_json(const std::string& body);

// The JSON array of rules for PUT /v1/rules and POST /v1/backtests (no
// server-managed fields). With `only_ids`, an id not in it is left out.
std::string rules_to_json_array(const std::vector<RuleSpec>& rules, const std::vector<std::string>* only_ids = nullptr);

struct RuleChange {
  enum class Kind { kCreate, kUpdate, kDelete };
  Kind kind = Kind::kCreate;
  RuleSpec rule;                    // the proposed rule (the live one for kDelete)
  std::vector<std::string> fields;  // kUpdate: the keys that differ, in file order
  RuleSpec before;                  // kUpdate: the live rule
};

struct RulesDiff {
  std::vector<RuleChange> changes;  // creates, updates, deletes, each in file order
  std::size_t unchanged = 0;
  bool empty() const { return changes.empty(); }
};

// What replacing `live` by `proposed` changes: a proposed rule whose id is
// live updates it (if a field differs), any other proposed rule is created,
// a live rule the proposal does not name is deleted.
RulesDiff diff_rules(const std::vector<RuleSpec>& live, const std::vector<RuleSpec>& proposed);

// `proposed` with the id of a live rule given to each id-less rule equal to it in every other field, when the
// proposal names that live rule nowhere else (a rule created from the file keeps matching it after an apply,
// so applying the same file twice is "nothing to do").
std::vector<RuleSpec> adopt_live_ids(const std::vector<RuleSpec>& live, std::vector<RuleSpec> proposed);

// Human text: "+ create ...", "~ update ID (name): field: old -> new", "- delete ...",
// and "N unchanged" (or "nothing to change").
std::string format_diff(const RulesDiff& diff);

}  // namespace txv::cli

#include "cli/rules_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace txv::cli {
namespace {

using ::testing::HasSubstr;

RuleSpec rule(std::string id, std::string name, std::string expression, std::int64_t priority,
              std::string action = "decline", std::string code = "c", std::string mode = "enforce") {
  return RuleSpec{std::move(id),   std::move(name), std::move(expression), std::move(action),
                  std::move(code), priority,        std::move(mode)};
}

TEST(RulesFile, WritesSortedByPriorityThenIdWithKeysInFixedOrder) {
  RuleSet set{7,
              {rule("r_b", "b", "amount > 1", 20), rule("r_c", "c", "amount > 2", 10),
               rule("r_a", "a", "amount > 3", 20), rule("", "new", "amount > 4", 10)}};
  EXPECT_EQ(write_rules_yaml(set),
            "rules_version: 7\n"
            "rules:\n"
            "  - id: r_c\n"
            "    name: c\n"
            "    expression: amount > 2\n"
            "    action: decline\n"
            "    code: c\n"
            "    priority: 10\n"
            "    mode: enforce\n"
            "  - name: new\n"
            "    expression: amount > 4\n"
            "    action: decline\n"
            "    code: c\n"
            "    priority: 10\n"
            "    mode: enforce\n"
            "  - id: r_a\n"
            "    name: a\n"
            "    expression: amount > 3\n"
            "    action: decline\n"
            "    code: c\n"
            "    priority: 20\n"
            "    mode: enforce\n"
            "  - id: r_b\n"
            "    name: b\n"
            "    expression: amount > 1\n"
            "    action: decline\n"
            "    code: c\n"
            "    priority: 20\n"
            "    mode: enforce\n");
}

TEST(RulesFile, OutputIsStableWhateverTheInputOrder) {
  RuleSet a{3, {rule("r_1", "x", "amount > 1", 5), rule("r_2", "y", "amount > 2", 5)}};
  RuleSet b{3, {a.rules[1], a.rules[0]}};
  EXPECT_EQ(write_rules_yaml(a), write_rules_yaml(b));
  auto back = read_rules_yaml(write_rules_yaml(a));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(write_rules_yaml(*back), write_rules_yaml(a));
}

TEST(RulesFile, AnyStringRoundTrips) {
  const std::vector<std::string> tricky = {
      R"(customer.email.endsWith("@example.com") && card.bin in ['411111', "5500"])",
      R"(metadata.note == 'it\'s a \\ backslash')",
      "metadata.tag == '#not-a-comment' && merchant.mcc == '5411'",
      "metadata.k == 'a: b' || metadata.k == '- x'",
      "customer.country == 'ÜÅ' && metadata.name == '日本語 ✓'",
      "amount > 1\n  && amount < 5",
      "  leading and trailing spaces  ",
      "true",
      "null",
      "~",
      "123",
      "'single'",
      "\"double\"",
      "{not: a map}",
      "[not, a, list]",
      "&anchor *alias !tag | > %",
      "tab\there",
      "",
  };
  RuleSet set{1, {}};
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    set.rules.push_back(rule("r_" + std::to_string(100 + i), tricky[i], tricky[i], static_cast<std::int64_t>(i),
                             "review", "code_" + std::to_string(i), "shadow"));
  }
  const std::string text = write_rules_yaml(set);
  auto back = read_rules_yaml(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  ASSERT_EQ(back->rules.size(), tricky.size());
  for (std::size_t i = 0; i < tricky.size(); ++i) {
    EXPECT_EQ(back->rules[i].expression, tricky[i]) << text;
    EXPECT_EQ(back->rules[i].name, tricky[i]);
    EXPECT_EQ(back->rules[i], set.rules[i]);
  }
  EXPECT_EQ(back->rules_version, 1);
  EXPECT_EQ(write_rules_yaml(*back), text);
}

TEST(RulesFile, EmptySetRoundTrips) {
  RuleSet set{4, {}};
  const std::string text = write_rules_yaml(set);
  EXPECT_EQ(text, "rules_version: 4\nrules: []\n");
  auto back = read_rules_yaml(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->rules.empty());
  EXPECT_EQ(back->rules_version, 4);
}

TEST(RulesFile, ModeDefaultsToEnforceAndIdIsOptional) {
  auto set = read_rules_yaml(
      "rules:\n  - name: n\n    expression: amount > 1\n    action: review\n    code: big\n"
      "    priority: 3\n");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_FALSE(set->rules_version.has_value());
  ASSERT_EQ(set->rules.size(), 1u);
  EXPECT_EQ(set->rules[0], rule("", "n", "amount > 1", 3, "review", "big", "enforce"));
}

TEST(RulesFile, BadYamlNamesLineAndColumn) {
  auto set = read_rules_yaml("rules_version: 1\nrules:\n  - name: [unclosed\n    code: x\n");
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.error().message, HasSubstr("line "));
  EXPECT_THAT(set.error().message, HasSubstr("column "));
  EXPECT_THAT(set.error().message, HasSubstr("not valid YAML"));
}

TEST(RulesFile, MissingKeyNamesTheRuleAndItsLine) {
  auto set = read_rules_yaml(
      "rules_version: 1\n"
      "rules:\n"
      "  - name: a\n"
      "    expression: amount > 1\n"
      "    action: decline\n"
      "    code: a\n"
      "    priority: 1\n"
      "  - name: b\n"
      "    expression: amount > 2\n"
      "    action: decline\n"
      "    priority: 2\n");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "line 8, column 5: rule 2: missing key 'code'");
}

TEST(RulesFile, RefusesUnknownKeysBadTypesAndDuplicateIds) {
  const std::string base =
      "rules_version: 1\nrules:\n  - name: a\n    expression: x\n    action: decline\n    code: a\n";
  auto unknown = read_rules_yaml(base + "    priority: 1\n    prioirty: 2\n");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "line 8, column 5: rule 1: unknown key 'prioirty'");
  auto bad_int = read_rules_yaml(base + "    priority: high\n");
  ASSERT_FALSE(bad_int.ok());
  EXPECT_THAT(bad_int.error().message, HasSubstr("line 7, column 15: rule 1: priority: expected an integer"));
  auto list_name =
      read_rules_yaml("rules:\n  - name: [a]\n    expression: x\n    action: decline\n    code: a\n    priority: 1\n");
  ASSERT_FALSE(list_name.ok());
  EXPECT_THAT(list_name.error().message, HasSubstr("line 2, column 11: rule 1: name: expected a string"));
  auto dup = read_rules_yaml(
      "rules:\n  - {id: r1, name: a, expression: x, action: decline, code: a, priority: 1}\n"
      "  - {id: r1, name: b, expression: y, action: decline, code: b, priority: 2}\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_THAT(dup.error().message, HasSubstr("line 3, column 5: rule 2: id 'r1' given twice"));
  auto top = read_rules_yaml("rules_version: 1\nrule: []\n");
  ASSERT_FALSE(top.ok());
  EXPECT_THAT(top.error().message, HasSubstr("line 2, column 1: unknown key 'rule'"));
  auto no_rules = read_rules_yaml("rules_version: 1\n");
  ASSERT_FALSE(no_rules.ok());
  EXPECT_THAT(no_rules.error().message, HasSubstr("missing key 'rules'"));
  auto not_map = read_rules_yaml("- a\n");
  ASSERT_FALSE(not_map.ok());
  auto bad_version = read_rules_yaml("rules_version: seven\nrules: []\n");
  ASSERT_FALSE(bad_version.ok());
  EXPECT_THAT(bad_version.error().message, HasSubstr("line 1, column 16: rules_version: expected an integer"));
}

TEST(RulesFile, IgnoresServerManagedFields) {
  auto set = read_rules_yaml(
      "rules:\n  - {id: r1, name: a, expression: x, action: decline, code: a, priority: 1, mode: shadow,"
      " version: 3, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-02T00:00:00Z'}\n");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->rules[0], rule("r1", "a", "x", 1, "decline", "a", "shadow"));
}

TEST(RulesFile, FromServerJson) {
  auto set = rules_from_json(
      R"({"items":[{"id":"r_2","name":"b","expression":"amount > 2","action":"review","code":"b","priority":5,)"
      R"("mode":"shadow","version":2,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"},)"
      R"({"id":"r_1","name":"a","expression":"amount > 1","action":"decline","code":"a","priority":5,"mode":"enforce",)"
      R"("version":1,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}],)"
      R"("rules_version":9})");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->rules_version, 9);
  ASSERT_EQ(set->rules.size(), 2u);
  EXPECT_EQ(set->rules[0], rule("r_1", "a", "amount > 1", 5, "decline", "a", "enforce"));
  EXPECT_EQ(set->rules[1], rule("r_2", "b", "amount > 2", 5, "review", "b", "shadow"));
  EXPECT_FALSE(rules_from_json("[]").ok());
  EXPECT_FALSE(rules_from_json("not json").ok());
}

TEST(RulesFile, ToJsonKeepsOnlyNamedIds) {
  std::vector<RuleSpec> rules = {rule("r_1", "a", "amount > 1", 1), rule("r_new", "b", "amount > 2", 2)};
  const std::vector<std::string> live = {"r_1"};
  auto doc = boost::json::parse(rules_to_json_array(rules, &live)).as_array();
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_EQ(doc[0].as_object().at("id").as_string(), "r_1");
  EXPECT_FALSE(doc[1].as_object().contains("id"));
  EXPECT_EQ(doc[1].as_object().at("priority").as_int64(), 2);
  auto all = boost::json::parse(rules_to_json_array(rules)).as_array();
  EXPECT_EQ(all[1].as_object().at("id").as_string(), "r_new");
  EXPECT_EQ(all[1].as_object().size(), 7u);
}

TEST(RulesDiff, CreatesUpdatesDeletesAndUnchanged) {
  std::vector<RuleSpec> live = {rule("r_1", "same", "amount > 1", 1), rule("r_2", "old name", "amount > 2", 2),
                                rule("r_3", "gone", "amount > 3", 3)};
  std::vector<RuleSpec> proposed = {rule("r_1", "same", "amount > 1", 1),
                                    rule("r_2", "new name", "amount > 20", 2, "review"),
                                    rule("", "fresh", "amount > 4", 4), rule("r_9", "unknown id", "amount > 5", 5)};
  RulesDiff d = diff_rules(live, proposed);
  EXPECT_EQ(d.unchanged, 1u);
  ASSERT_EQ(d.changes.size(), 4u);
  EXPECT_EQ(d.changes[0].kind, RuleChange::Kind::kCreate);
  EXPECT_EQ(d.changes[0].rule.name, "fresh");
  EXPECT_EQ(d.changes[1].kind, RuleChange::Kind::kCreate);
  EXPECT_EQ(d.changes[1].rule.id, "r_9");
  EXPECT_EQ(d.changes[2].kind, RuleChange::Kind::kUpdate);
  EXPECT_EQ(d.changes[2].fields, (std::vector<std::string>{"name", "expression", "action"}));
  EXPECT_EQ(d.changes[3].kind, RuleChange::Kind::kDelete);
  EXPECT_EQ(d.changes[3].rule.id, "r_3");
  const std::string text = format_diff(d);
  EXPECT_THAT(text, HasSubstr("+ create \"fresh\" (decline c, priority 4, enforce)\n"));
  EXPECT_THAT(text, HasSubstr("~ update r_2 \"new name\"\n    name: \"old name\" -> \"new name\"\n"
                              "    expression: \"amount > 2\" -> \"amount > 20\"\n    action: decline -> review\n"));
  EXPECT_THAT(text, HasSubstr("- delete r_3 \"gone\" (decline c, priority 3, enforce)\n"));
  EXPECT_THAT(text, HasSubstr("2 to create, 1 to update, 1 to delete, 1 unchanged\n"));
}

TEST(RulesDiff, IdLessRulesAdoptAnEqualUnnamedLiveRule) {
  std::vector<RuleSpec> live = {rule("r_1", "a", "amount > 1", 1), rule("r_2", "b", "amount > 2", 2),
                                rule("r_3", "b", "amount > 2", 2)};
  // r_2 is named by id elsewhere, so the id-less "b" takes r_3; the id-less "a" differs in mode and takes nothing.
  std::vector<RuleSpec> proposed = {rule("", "b", "amount > 2", 2), rule("r_2", "b", "amount > 2", 2),
                                    rule("", "a", "amount > 1", 1, "decline", "c", "shadow")};
  auto adopted = adopt_live_ids(live, proposed);
  EXPECT_EQ(adopted[0].id, "r_3");
  EXPECT_EQ(adopted[1].id, "r_2");
  EXPECT_EQ(adopted[2].id, "");
  RulesDiff d = diff_rules(live, adopted);
  EXPECT_EQ(d.unchanged, 2u);
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].kind, RuleChange::Kind::kCreate);
  EXPECT_EQ(d.changes[1].kind, RuleChange::Kind::kDelete);
  EXPECT_EQ(d.changes[1].rule.id, "r_1");
}

TEST(RulesDiff, NothingToChange) {
  std::vector<RuleSpec> live = {rule("r_1", "a", "amount > 1", 1, "decline", "c", "shadow")};
  RulesDiff d = diff_rules(live, live);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(format_diff(d), "nothing to change (1 unchanged)\n");
  auto moved = live;
  moved[0].mode = "enforce";
  RulesDiff m = diff_rules(live, moved);
  ASSERT_EQ(m.changes.size(), 1u);
  EXPECT_EQ(m.changes[0].fields, std::vector<std::string>{"mode"});
}

}  // namespace
}  // namespace txv::cli

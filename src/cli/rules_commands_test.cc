#include "cli/rules_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

namespace txv::cli {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr const char* kLive =
    R"({"items":[{"id":"r_big","name":"big","expression":"amount > 100000","action":"decline","code":"too_big",)"
    R"("priority":10,"mode":"enforce","version":1,"created_at":"2026-01-01T00:00:00.000Z",)"
    R"("updated_at":"2026-01-01T00:00:00.000Z"},{"id":"r_old","name":"old","expression":"amount > 5",)"
    R"("action":"review","code":"old","priority":20,"mode":"shadow","version":1,)"
    R"("created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}],"rules_version":4})";

constexpr const char* kDone =
    R"({"id":"bt_1","status":"done","progress":1,"transactions":5,"result":{)"
    R"("outcomes":{"actual":{},"live":{"approve":{"count":4,"amount":{"USD":66000}},)"
    R"("decline":{"count":1,"amount":{"USD":150000}},"review":{"count":0,"amount":{}}},)"
    R"("proposed":{"approve":{"count":3,"amount":{"USD":63000}},"decline":{"count":2,"amount":{"USD":153000}},)"
    R"("review":{"count":0,"amount":{}}}},"changes":{"approve->decline":1},)"
    R"("rules":[{"rule_id":"r_big","matches_live":1,"matches_proposed":1},)"
    R"({"name":"burst","matches_live":0,"matches_proposed":1}],)"
    R"("labels":{"fraud":{"total":2,"stopped_live":1,"stopped_proposed":2},)"
    R"("not_fraud":{"total":1,"stopped_live":0,"stopped_proposed":0},"precision_live":1.0,)"
    R"("precision_proposed":1.0,"recall_live":0.5,"recall_proposed":1.0},"samples":{}}})";

struct Request {
  std::string method, path, body, if_match;
};

// A fake server: GET /v1/rules answers kLive, the backtest runs for `running_polls` polls, PUT answers `put_status`.
struct FakeServer {
  std::vector<Request> requests;
  int running_polls = 2;
  int put_status = 200;
  std::string backtest_end = kDone;
  Result<HttpAnswer> operator()(const std::string& method, const std::string& path, const std::string& body,
                                const std::string& if_match) {
    requests.push_back({method, path, body, if_match});
    if (method == "GET" && path == "/v1/rules") return HttpAnswer{200, kLive};
    if (method == "POST" && path == "/v1/backtests") return HttpAnswer{202, R"({"id":"bt_1","status":"running"})"};
    if (method == "GET" && path == "/v1/backtests/bt_1") {
      if (running_polls-- > 0) return HttpAnswer{200, R"({"id":"bt_1","status":"running","progress":0.5})"};
      return HttpAnswer{200, backtest_end};
    }
    if (method == "PUT" && path == "/v1/rules") {
      if (put_status == 412) {
        return HttpAnswer{412, R"({"error":{"code":"version_mismatch","message":"the rules changed","details":[]}})"};
      }
      if (put_status != 200) return HttpAnswer{put_status, R"({"error":{"code":"internal","message":"boom"}})"};
      return HttpAnswer{200, R"({"items":[],"rules_version":5,"created":1,"updated":1,"deleted":1})"};
    }
    return HttpAnswer{404, R"({"error":{"code":"not_found","message":"no"}})"};
  }
  RulesCall call() {
    return [this](const std::string& m, const std::string& p, const std::string& b, const std::string& i) {
      return (*this)(m, p, b, i);
    };
  }
};

// The live set, edited: r_big's threshold changes, r_old is gone, "burst" is new.
constexpr const char* kEdited =
    "rules_version: 4\n"
    "rules:\n"
    "  - id: r_big\n"
    "    name: big\n"
    "    expression: amount > 140000\n"
    "    action: decline\n"
    "    code: too_big\n"
    "    priority: 10\n"
    "    mode: enforce\n"
    "  - name: burst\n"
    "    expression: velocity('card', '1h').count >= 2\n"
    "    action: decline\n"
    "    code: card_burst\n"
    "    priority: 20\n";

RulesPlanOptions no_wait() {
  RulesPlanOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  return o;
}

TEST(RulesExport, PrintsTheLiveSetAsYaml) {
  FakeServer server;
  std::ostringstream out, err;
  EXPECT_EQ(rules_export(server.call(), out, err), 0) << err.str();
  EXPECT_EQ(out.str().rfind("rules_version: 4\nrules:\n  - id: r_big\n    name: big\n", 0), 0u) << out.str();
  auto back = read_rules_yaml(out.str());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->rules.size(), 2u);
  EXPECT_EQ(back->rules[1].mode, "shadow");
}

TEST(RulesExport, ServerErrorIsExit1) {
  std::ostringstream out, err;
  RulesCall failing = [](const std::string&, const std::string&, const std::string&,
                         const std::string&) -> Result<HttpAnswer> {
    return HttpAnswer{401, R"({"error":{"code":"unauthorized","message":"bad key"}})"};
  };
  EXPECT_EQ(rules_export(failing, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(err.str(), HasSubstr("unauthorized: bad key"));
}

TEST(RulesPlan, PrintsTheChangesAndTheBacktestTable) {
  FakeServer server;
  std::ostringstream out, err;
  auto options = no_wait();
  options.since = std::chrono::hours(2);
  ASSERT_EQ(rules_plan(kEdited, server.call(), options, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("+ create \"burst\" (decline card_burst, priority 20, enforce)"));
  EXPECT_THAT(text, HasSubstr("~ update r_big \"big\"\n    expression: \"amount > 100000\" -> \"amount > 140000\"\n"));
  EXPECT_THAT(text, HasSubstr("- delete r_old \"old\""));
  EXPECT_THAT(text, HasSubstr("1 to create, 1 to update, 1 to delete, 0 unchanged"));
  EXPECT_THAT(text, HasSubstr("backtest over 5 transactions"));
  EXPECT_THAT(text, HasSubstr("approve            4         3        -1   USD 66000"));
  EXPECT_THAT(text, HasSubstr("decline            1         2        +1"));
  EXPECT_THAT(text, HasSubstr("  approve->decline           1"));
  EXPECT_THAT(text, HasSubstr("\nr_big (big)                                          1                 1\n"));
  EXPECT_THAT(text, HasSubstr("\nburst                                                0                 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfraud stopped                1/2       2/2\n"));
  EXPECT_THAT(text, HasSubstr("\nnot_fraud stopped            0/1       0/1\n"));
  EXPECT_THAT(text, HasSubstr("\nprecision                  1.000     1.000\n"));
  EXPECT_THAT(text, HasSubstr("\nrecall                     0.500     1.000\n"));

  // The backtest: the whole file's set, the live id kept, the new rule without one, replace_all.
  ASSERT_GE(server.requests.size(), 3u);
  const auto& post = server.requests[1];
  ASSERT_EQ(post.method, "POST");
  auto body = json::parse(post.body).as_object();
  EXPECT_TRUE(body.at("replace_all").as_bool());
  const auto& rules = body.at("rules").as_array();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].as_object().at("id").as_string(), "r_big");
  EXPECT_FALSE(rules[1].as_object().contains("id"));
  EXPECT_EQ(rules[1].as_object().at("mode").as_string(), "enforce");
  EXPECT_NE(body.at("since").as_string(), body.at("until").as_string());
  // Polled until done: 2 running answers, then done.
  EXPECT_EQ(server.requests.size(), 5u);
  for (const auto& r : server.requests) EXPECT_NE(r.method, "PUT");
}

TEST(RulesPlan, BadFileIsExit1BeforeAnyRequest) {
  FakeServer server;
  std::ostringstream out, err;
  EXPECT_EQ(rules_plan("rules:\n  - name: x\n", server.call(), no_wait(), out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("line 2, column 5: rule 1: missing key 'expression'"));
  EXPECT_TRUE(server.requests.empty());
}

TEST(RulesPlan, FailedBacktestIsExit1) {
  FakeServer server;
  server.backtest_end = R"({"id":"bt_1","status":"failed","progress":0.3})";
  std::ostringstream out, err;
  EXPECT_EQ(rules_plan(kEdited, server.call(), no_wait(), out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("the backtest ended failed"));
}

TEST(RulesPlan, GivesUpAtTheDeadline) {
  FakeServer server;
  server.running_polls = 1000000;
  auto options = no_wait();
  options.poll_deadline = std::chrono::milliseconds(0);
  std::ostringstream out, err;
  EXPECT_EQ(rules_plan(kEdited, server.call(), options, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("did not finish in time"));
}

TEST(RulesApply, NothingToDoSendsNoPut) {
  FakeServer server;
  std::ostringstream exported, out, err;
  ASSERT_EQ(rules_export(server.call(), exported, err), 0);
  EXPECT_EQ(rules_apply(exported.str(), server.call(), out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("nothing to do"));
  for (const auto& r : server.requests) EXPECT_NE(r.method, "PUT");
}

TEST(RulesApply, AnIdLessCopyOfTheLiveSetIsNothingToDo) {
  FakeServer server;
  std::ostringstream exported, out, err;
  ASSERT_EQ(rules_export(server.call(), exported, err), 0);
  std::string text = exported.str();
  for (const char* id : {"  - id: r_big\n    name", "  - id: r_old\n    name"}) {
    text.replace(text.find(id), std::string(id).size(), "  - name");
  }
  ASSERT_EQ(text.find("id:"), std::string::npos) << text;
  EXPECT_EQ(rules_apply(text, server.call(), out, err), 0) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("nothing to do"));
  for (const auto& r : server.requests) EXPECT_NE(r.method, "PUT");
}

TEST(RulesApply, PutsTheWholeSetWithIfMatch) {
  FakeServer server;
  std::ostringstream out, err;
  EXPECT_EQ(rules_apply(kEdited, server.call(), out, err), 0) << err.str();
  ASSERT_EQ(server.requests.back().method, "PUT");
  EXPECT_EQ(server.requests.back().if_match, "\"4\"");
  auto rules = json::parse(server.requests.back().body).as_object().at("rules").as_array();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].as_object().at("id").as_string(), "r_big");
  EXPECT_THAT(out.str(), HasSubstr("applied: 1 created, 1 updated, 1 deleted; rules_version 5"));
}

TEST(RulesApply, VersionMismatchIsExit3) {
  FakeServer server;
  server.put_status = 412;
  std::ostringstream out, err;
  EXPECT_EQ(rules_apply(kEdited, server.call(), out, err), 3);
  EXPECT_THAT(err.str(), HasSubstr("version mismatch"));
}

TEST(RulesApply, OtherErrorsAreExit1) {
  FakeServer server;
  server.put_status = 500;
  std::ostringstream out, err;
  EXPECT_EQ(rules_apply(kEdited, server.call(), out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("internal: boom"));
  std::ostringstream out2, err2;
  std::string no_version = std::string(kEdited).substr(std::string("rules_version: 4\n").size());
  FakeServer untouched;
  EXPECT_EQ(rules_apply(no_version, untouched.call(), out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("no rules_version"));
  EXPECT_TRUE(untouched.requests.empty());
  RulesCall unreachable = [](const std::string&, const std::string&, const std::string&,
                             const std::string&) -> Result<HttpAnswer> {
    return make_error("unavailable", "cannot connect to 127.0.0.1:1: refused");
  };
  std::ostringstream out3, err3;
  EXPECT_EQ(rules_apply(kEdited, unreachable, out3, err3), 1);
  EXPECT_THAT(err3.str(), HasSubstr("cannot connect"));
}

TEST(RulesSince, ParsesDaysHoursMinutes) {
  EXPECT_EQ(*parse_since("7d"), std::chrono::seconds(7 * 86400));
  EXPECT_EQ(*parse_since("12h"), std::chrono::seconds(12 * 3600));
  EXPECT_EQ(*parse_since("30m"), std::chrono::seconds(1800));
  for (const char* bad : {"", "d", "7", "7s", "-1d", "0h", "1.5d", "x7d", "99999999d"}) {
    EXPECT_FALSE(parse_since(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace txv::cli

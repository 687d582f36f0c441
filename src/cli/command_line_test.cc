#include "cli/command_line.h"

#include <gtest/gtest.h>

namespace txv::cli {
namespace {

Result<Command> parse(std::vector<const char*> args, config::RawSettings env = {}) {
  args.insert(args.begin(), "txv");
  return parse_command_line(static_cast<int>(args.size()), args.data(), env);
}

TEST(CommandLine, FlagsWinOverEnvironment) {
  auto c = parse({"serve", "--listen", "127.0.0.1:9999"}, {{"TXV_LISTEN", "127.0.0.1:7777"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->verb, Verb::kServe);
  EXPECT_EQ(c->config.listen_port, 9999);
}

TEST(CommandLine, EnvironmentUsedWithoutFlag) {
  auto c = parse({"serve"}, {{"TXV_LISTEN", "127.0.0.1:7777"}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config.listen_port, 7777);
}

TEST(CommandLine, RulesSubcommands) {
  auto e = parse({"rules", "export", "--url", "http://h:1"});
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->verb, Verb::kRulesExport);
  EXPECT_EQ(e->server_url, "http://h:1");
  auto p = parse({"rules", "plan", "rules.yaml"});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->verb, Verb::kRulesPlan);
  EXPECT_EQ(p->rules_file, "rules.yaml");
  EXPECT_EQ(p->since, std::chrono::hours(24 * 7));
  EXPECT_EQ(p->server_url, kDefaultServerUrl);
  auto p2 = parse({"rules", "plan", "r.yaml", "--since", "36h"});
  ASSERT_TRUE(p2.ok()) << p2.error().message;
  EXPECT_EQ(p2->since, std::chrono::hours(36));
  auto a = parse({"rules", "apply", "r.yaml"});
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->verb, Verb::kRulesApply);
  EXPECT_EQ(a->rules_file, "r.yaml");
  for (std::vector<const char*> bad : {std::vector<const char*>{"rules", "plan", "r.yaml", "--since", "7s"},
                                       std::vector<const char*>{"rules", "apply"}, std::vector<const char*>{"rules"},
                                       std::vector<const char*>{"rules", "apply", "r.yaml", "--since", "7d"}}) {
    auto r = parse(bad);
    ASSERT_FALSE(r.ok()) << bad.size();
    EXPECT_EQ(r.error().code, "usage");
  }
}

TEST(CommandLine, ApiKeyCreate) {
  auto c = parse({"apikey", "create", "--role", "validator", "--merchant", "m-1", "--name", "shop"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->verb, Verb::kApiKeyCreate);
  EXPECT_EQ(c->role, store::Role::kValidator);
  EXPECT_EQ(c->merchant_id, "m-1");
  EXPECT_EQ(c->key_name, "shop");
}

TEST(CommandLine, ValidatorKeysNeedAMerchantAndAdminKeysRefuseOne) {
  auto validator = parse({"apikey", "create", "--role", "validator"});
  ASSERT_FALSE(validator.ok());
  EXPECT_EQ(validator.error().code, "usage");
  EXPECT_NE(validator.error().message.find("--merchant"), std::string::npos);
  auto admin = parse({"apikey", "create", "--role", "admin", "--merchant", "m-1"});
  ASSERT_FALSE(admin.ok());
  EXPECT_NE(admin.error().message.find("--merchant"), std::string::npos);
  EXPECT_FALSE(parse({"apikey", "create", "--role", "validator", "--merchant", "m 1"}).ok());
  EXPECT_TRUE(parse({"apikey", "create", "--role", "admin"}).ok());
  EXPECT_TRUE(parse({"apikey", "create", "--role", "analyst"}).ok());
  EXPECT_TRUE(parse({"apikey", "create", "--role", "analyst", "--merchant", "m-1"}).ok());
}

TEST(CommandLine, ApiKeyListAndRevoke) {
  auto list = parse({"apikey", "list"});
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->verb, Verb::kApiKeyList);
  auto revoke = parse({"apikey", "revoke", "key_abc"});
  ASSERT_TRUE(revoke.ok()) << revoke.error().message;
  EXPECT_EQ(revoke->verb, Verb::kApiKeyRevoke);
  EXPECT_EQ(revoke->key_id, "key_abc");
  EXPECT_FALSE(parse({"apikey", "revoke"}).ok());
}

TEST(CommandLine, BadRoleIsAUsageError) {
  auto c = parse({"apikey", "create", "--role", "root"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "usage");
}

TEST(CommandLine, BadSettingNamesIt) {
  auto c = parse({"serve", "--threads", "zero"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "invalid_configuration");
  EXPECT_EQ(c.error().message.rfind("TXV_THREADS", 0), 0u);
}

TEST(CommandLine, VersionAndMissingVerb) {
  EXPECT_EQ(parse({"version"})->verb, Verb::kVersion);
  EXPECT_FALSE(parse({}).ok());
}

}  // namespace
}  // namespace txv::cli

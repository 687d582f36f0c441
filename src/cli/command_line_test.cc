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

TEST(CommandLine, ApiKeyCreate) {
  auto c = parse({"apikey", "create", "--role", "validator", "--merchant", "m-1", "--name", "shop"});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->verb, Verb::kApiKeyCreate);
  EXPECT_EQ(c->role, store::Role::kValidator);
  EXPECT_EQ(c->merchant_id, "m-1");
  EXPECT_EQ(c->key_name, "shop");
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

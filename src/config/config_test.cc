#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace txv::config {
namespace {

TEST(Config, DefaultsMatchTheContract) {
  auto c = load_config({});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8080);
  EXPECT_EQ(c->database_kind, DatabaseKind::kSqlite);
  EXPECT_EQ(c->sqlite_path, "./txv-data/txv.db");
  EXPECT_FALSE(c->redis_url.has_value());
  EXPECT_EQ(c->log_level, "info");
  EXPECT_GE(c->threads, 1);
  EXPECT_EQ(c->rate_limit, 0);
  EXPECT_EQ(c->drain_delay.count(), 5000);
  EXPECT_EQ(c->grace_period.count(), 25000);
}

TEST(Config, LaterLayersWin) {
  auto c = load_config({{{"TXV_LISTEN", "0.0.0.0:9000"}}, {{"TXV_LISTEN", "127.0.0.1:9100"}}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen_port, 9100);
}

TEST(Config, Ipv6Listen) {
  auto c = load_config({{{"TXV_LISTEN", "[::1]:8081"}}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen_host, "::1");
  EXPECT_EQ(c->listen_port, 8081);
}

struct BadCase {
  const char* key;
  const char* value;
  const char* named;
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, OneLineNamingTheSetting) {
  auto c = load_config({{{GetParam().key, GetParam().value}}});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, "invalid_configuration");
  EXPECT_EQ(c.error().message.rfind(GetParam().named, 0), 0u) << c.error().message;
  EXPECT_EQ(c.error().message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadConfig,
    ::testing::Values(
        BadCase{"TXV_LISTEN", "8080", "TXV_LISTEN"}, BadCase{"TXV_LISTEN", "host:99999", "TXV_LISTEN"},
        BadCase{"TXV_LISTEN", "host:abc", "TXV_LISTEN"}, BadCase{"TXV_DATABASE_URL", "mysql://x", "TXV_DATABASE_URL"},
        BadCase{"TXV_DATABASE_URL", "sqlite:", "TXV_DATABASE_URL"},
        BadCase{"TXV_DATABASE_URL", "postgres://db/txv", "TXV_PAN_KEY"},
        BadCase{"TXV_REDIS_URL", "http://x", "TXV_REDIS_URL"}, BadCase{"TXV_LOG_LEVEL", "verbose", "TXV_LOG_LEVEL"},
        BadCase{"TXV_THREADS", "0", "TXV_THREADS"}, BadCase{"TXV_THREADS", "two", "TXV_THREADS"},
        BadCase{"TXV_RATE_LIMIT", "-1", "TXV_RATE_LIMIT"}, BadCase{"TXV_RATE_LIMIT", "fast", "TXV_RATE_LIMIT"},
        BadCase{"TXV_DECISION_TRACES", "yes", "TXV_DECISION_TRACES"},
        BadCase{"TXV_BACKTEST_STALE_AFTER", "1s", "TXV_BACKTEST_STALE_AFTER"},
        BadCase{"TXV_BACKTEST_STALE_AFTER", "soon", "TXV_BACKTEST_STALE_AFTER"},
        BadCase{"TXV_DRAIN_DELAY", "5", "TXV_DRAIN_DELAY"}, BadCase{"TXV_GRACE_PERIOD", "1s", "TXV_GRACE_PERIOD"},
        BadCase{"TXV_TLS_CERT_FILE", "/x.pem", "TXV_TLS_KEY_FILE"}));

TEST(Config, Durations) {
  EXPECT_EQ(parse_duration("250ms")->count(), 250);
  EXPECT_EQ(parse_duration("5s")->count(), 5000);
  EXPECT_EQ(parse_duration("2m")->count(), 120000);
  EXPECT_EQ(parse_duration("1h")->count(), 3600000);
  EXPECT_FALSE(parse_duration("5").has_value());
  EXPECT_FALSE(parse_duration("s").has_value());
  EXPECT_FALSE(parse_duration("-5s").has_value());
  EXPECT_FALSE(parse_duration("5d").has_value());
}

TEST(Config, YamlUsesLowerCaseKeys) {
  std::string path = ::testing::TempDir() + "/txv-config-test.yaml";
  std::ofstream(path) << "listen: 127.0.0.1:9200\nrate_limit: 50\ndrain_delay: 1s\n";
  auto raw = settings_from_yaml_file(path);
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  auto c = load_config({*raw});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->listen_port, 9200);
  EXPECT_EQ(c->rate_limit, 50);
  EXPECT_EQ(c->drain_delay.count(), 1000);
}

TEST(Config, YamlUnknownKeyIsAnError) {
  std::string path = ::testing::TempDir() + "/txv-config-bad.yaml";
  std::ofstream(path) << "listn: 127.0.0.1:9200\n";
  auto raw = settings_from_yaml_file(path);
  ASSERT_FALSE(raw.ok());
  EXPECT_NE(raw.error().message.find("listn"), std::string::npos);
}

TEST(Config, YamlMissingFile) {
  auto raw = settings_from_yaml_file("/nonexistent/txv.yaml");
  ASSERT_FALSE(raw.ok());
  EXPECT_EQ(raw.error().message.rfind("--config", 0), 0u);
}

TEST(Config, NamesDeriveFromTheEnvironmentVariable) {
  EXPECT_EQ(yaml_key("TXV_DATABASE_URL"), "database_url");
  EXPECT_EQ(flag_name("TXV_DATABASE_URL"), "database-url");
}

}  // namespace
}  // namespace txv::config

// The Redis client against a real server (TXV_TEST_REDIS_URL, TXV_TEST_REDIS_TLS_URL; scripts/test-servers.sh):
// URL parsing, pipelining, AUTH, SELECT, EVALSHA/NOSCRIPT, pub/sub, TLS. The tests that stop or restart the
// server are in redis_fault_test.cc (run serially).
#include "cache/redis/redis_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_test_env.h"
#include "common/async_test_runner.h"

namespace txv::cache {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using txv::cache::testing::redis_test_client;
using txv::cache::testing::redis_test_url;

std::string unique(const std::string& name) {
  static std::atomic<int> serial{0};
  return "txv:test:" + name + ":" + std::to_string(::getpid()) + ":" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ":" + std::to_string(++serial);
}

RedisClientOptions options_for(std::string url, std::chrono::milliseconds timeout = std::chrono::milliseconds(250)) {
  RedisClientOptions o;
  o.url = std::move(url);
  o.command_timeout = timeout;
  return o;
}

// A command's arguments (GCC 12 miscompiles braced lists inside coroutine calls: build them outside).
template <class... A>
std::vector<std::string> cmd(A&&... a) {
  return std::vector<std::string>{std::string(std::forward<A>(a))...};
}

Result<RedisValue> run_command(txv::testing::AsyncRunner& runner, RedisClient& client, std::vector<std::string> args) {
  return runner.run(client.command(std::move(args)));
}

TEST(RedisUrl, ParsesUserPasswordHostPortAndDatabase) {
  auto ep = parse_redis_url("redis://:p%40ss%3Aw0rd@127.0.0.1:6380/2");
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_FALSE(ep->tls);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->user, "");
  EXPECT_EQ(ep->password, "p@ss:w0rd");  // percent-decoded
  EXPECT_EQ(ep->db, 2);
  EXPECT_EQ(ep->redacted(), "redis://:***@127.0.0.1:6380/2");

  auto tls = parse_redis_url("rediss://alice:secret@cache.example.com");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "cache.example.com");
  EXPECT_EQ(tls->port, 6379);
  EXPECT_EQ(tls->user, "alice");
  EXPECT_EQ(tls->password, "secret");
  EXPECT_EQ(tls->db, 0);
  EXPECT_THAT(tls->redacted(), Not(HasSubstr("secret")));

  auto v6 = parse_redis_url("redis://[::1]:7000/");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_EQ(v6->password, "");
  EXPECT_EQ(v6->redacted(), "redis://[::1]:7000/0");
}

TEST(RedisUrl, RefusesBadUrlsWithoutEchoingThePassword) {
  for (const char* bad : {"http://h:1/0", "redis://:topsecret@h:1/x", "redis://:topsecret@h:1/-1", "redis:/nohost",
                          "redis://:topsecret@h:99999/0", "not a url", "redis://:topsecret@h:1/0#frag"}) {
    auto ep = parse_redis_url(bad);
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_EQ(ep.error().code, ErrorCode::kInvalidConfiguration) << bad;
    EXPECT_THAT(ep.error().message, Not(HasSubstr("topsecret"))) << bad;
  }
  auto client = RedisClient::create(options_for("postgres://x"));
  EXPECT_FALSE(client.ok());
}

TEST(RedisUrl, EncodesCommandsAsBinarySafeResp) {
  EXPECT_EQ(encode_redis_command({"SET", "k", std::string("a\0\r\nb", 5)}),
            std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0\r\nb\r\n", 31));
}

// 1,000 calls at once from four threads, each with its own io_context: one connection, every reply to its own
// caller, each completion on the caller's own executor.
TEST(RedisClient, PipelinesConcurrentCallsFromManyThreadsInOrder) {
  std::atomic<int> round_trips{0};
  RedisClientOptions options;
  options.command_timeout = std::chrono::seconds(10);
  options.on_round_trip = [&](double seconds) {
    EXPECT_GE(seconds, 0.0);
    ++round_trips;
  };
  auto client = redis_test_client(options);
  TXV_REDIS_OR_SKIP(client);
  txv::testing::AsyncRunner runner;
  auto id_before = run_command(runner, *client, {"CLIENT", "ID"});
  ASSERT_TRUE(id_before.ok()) << id_before.error().message;

  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  const std::string key = unique("pipeline");
  std::atomic<int> good{0}, wrong{0}, failed{0}, foreign{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context io;
      for (int i = 0; i < kPerThread; ++i) {
        asio::co_spawn(
            io,
            [&, t, i]() -> Task<void> {
              const std::string mine =
                  "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(i % 5 * 100, 'x');
              auto r = co_await client->command(cmd("ECHO", mine));
              if (!io.get_executor().running_in_this_thread()) ++foreign;
              auto n = co_await client->command(cmd("INCR", key));  // every call is also counted by the server
              if (!r.ok() || !n.ok()) {
                ++failed;
              } else if (r->str != mine) {
                ++wrong;
              } else {
                ++good;
              }
            },
            asio::detached);
      }
      io.run();  // returns once its coroutines are done: the client keeps the io_context's work while calls wait
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), kThreads * kPerThread);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(foreign.load(), 0);
  auto count = run_command(runner, *client, {"GET", key});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->str, std::to_string(kThreads * kPerThread));
  auto id_after = run_command(runner, *client, {"CLIENT", "ID"});
  ASSERT_TRUE(id_after.ok());
  EXPECT_EQ(id_after->integer, id_before->integer);  // one connection throughout
  EXPECT_GE(round_trips.load(), 2 * kThreads * kPerThread);
  (void)run_command(runner, *client, {"DEL", key});
}

TEST(RedisClient, AuthFailureIsAClearErrorThatNeverShowsThePassword) {
  auto url = redis_test_url();
  if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
  std::mutex mu;
  std::vector<std::string> logs;
  RedisClientOptions options;
  options.url = txv::cache::testing::with_password(*url, "wrong-Secret-42");
  options.on_log = [&](std::string_view m) {
    std::lock_guard lock(mu);
    logs.emplace_back(m);
  };
  std::atomic<int> errors{0};
  options.on_error = [&] { ++errors; };
  auto client = RedisClient::create(options);
  ASSERT_TRUE(client.ok());
  txv::testing::AsyncRunner runner;
  auto r = runner.run((*client)->ping());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("AUTH failed"));
  EXPECT_THAT(r.error().message, HasSubstr("WRONGPASS"));
  EXPECT_THAT(r.error().message, Not(HasSubstr("wrong-Secret-42")));
  EXPECT_GE(errors.load(), 1);
  client->reset();
  std::lock_guard lock(mu);
  ASSERT_FALSE(logs.empty());
  for (const auto& m : logs) EXPECT_THAT(m, Not(HasSubstr("wrong-Secret-42")));
}

TEST(RedisClient, AuthWithAUserNameUsesTheTwoArgumentForm) {
  auto url = redis_test_url();
  if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
  auto client = RedisClient::create(options_for(txv::cache::testing::with_user(*url, "default")));
  ASSERT_TRUE(client.ok());
  txv::testing::AsyncRunner runner;
  auto who = run_command(runner, **client, {"ACL", "WHOAMI"});
  ASSERT_TRUE(who.ok()) << who.error().message;
  EXPECT_EQ(who->str, "default");
}

TEST(RedisClient, SelectsTheDatabaseOfTheUrl) {
  auto url = redis_test_url();
  if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
  auto db5 = RedisClient::create(options_for(txv::cache::testing::with_db(*url, 5)));
  auto db0 = RedisClient::create(options_for(txv::cache::testing::with_db(*url, 0)));
  ASSERT_TRUE(db5.ok() && db0.ok());
  EXPECT_EQ((*db5)->endpoint().db, 5);
  txv::testing::AsyncRunner runner;
  const std::string key = unique("select");
  ASSERT_TRUE(run_command(runner, **db5, {"SET", key, "in-five", "PX", "60000"}).ok());
  auto in5 = run_command(runner, **db5, {"GET", key});
  auto in0 = run_command(runner, **db0, {"GET", key});
  ASSERT_TRUE(in5.ok() && in0.ok());
  EXPECT_EQ(in5->str, "in-five");
  EXPECT_TRUE(in0->is_nil());
  auto bad = RedisClient::create(options_for(txv::cache::testing::with_db(*url, 999)));
  ASSERT_TRUE(bad.ok());
  auto r = runner.run((*bad)->ping());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("SELECT failed"));
}

TEST(RedisClient, ErrorRepliesAreErrorsAndTheConnectionGoesOn) {
  auto client = redis_test_client();
  TXV_REDIS_OR_SKIP(client);
  txv::testing::AsyncRunner runner;
  auto r = run_command(runner, *client, {"NO-SUCH-COMMAND"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_THAT(r.error().message, HasSubstr("unknown command"));
  auto script_error = runner.run(client->eval(RedisScript("return redis.call('NOPE')"), {}, {}));
  ASSERT_FALSE(script_error.ok());
  EXPECT_EQ(script_error.error().code, ErrorCode::kInternal);
  EXPECT_TRUE(runner.run(client->ping()).ok());
}

TEST(RedisClient, EvalshaLoadsTheScriptAgainAfterScriptFlush) {
  auto client = redis_test_client();
  TXV_REDIS_OR_SKIP(client);
  txv::testing::AsyncRunner runner;
  const RedisScript script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}");
  const std::string key = unique("eval");
  auto first = runner.run(client->eval(script, {key}, {"a\0b", "41"}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->elements.size(), 3u);
  EXPECT_EQ(first->elements[0].str, key);
  EXPECT_EQ(first->elements[2].integer, 42);
  ASSERT_TRUE(run_command(runner, *client, {"SCRIPT", "FLUSH"}).ok());
  auto exists = run_command(runner, *client, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->elements.at(0).integer, 0);
  auto again = runner.run(client->eval(script, {key}, {"b", "1"}));  // NOSCRIPT -> SCRIPT LOAD -> EVALSHA
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->elements[2].integer, 2);
  exists = run_command(runner, *client, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->elements.at(0).integer, 1);
}

TEST(RedisClient, PubSubDeliversToEveryHandlerUntilUnsubscribed) {
  auto client = redis_test_client();
  TXV_REDIS_OR_SKIP(client);
  txv::testing::AsyncRunner runner;
  const std::string channel = unique("channel");
  std::mutex mu;
  std::vector<std::string> got_a, got_b;
  ASSERT_TRUE(runner
                  .run(client->subscribe(channel,
                                         [&](std::string_view ch, std::string_view m) {
                                           EXPECT_EQ(ch, channel);
                                           std::lock_guard lock(mu);
                                           got_a.emplace_back(m);
                                         }))
                  .ok());
  ASSERT_TRUE(runner
                  .run(client->subscribe(channel,
                                         [&](std::string_view, std::string_view m) {
                                           std::lock_guard lock(mu);
                                           got_b.emplace_back(m);
                                         }))
                  .ok());
  const std::string payload("rules changed\0\r\n v42", 21);
  auto n = runner.run(client->publish(channel, payload));
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 1);  // one subscribed connection
  ASSERT_TRUE(txv::testing::wait_until([&] {
    std::lock_guard lock(mu);
    return got_a.size() == 1 && got_b.size() == 1;
  }));
  EXPECT_EQ(got_a[0], payload);
  ASSERT_TRUE(runner.run(client->unsubscribe(channel)).ok());
  ASSERT_TRUE(txv::testing::wait_until([&] {
    auto left = runner.run(client->publish(channel, "after"));
    return left.ok() && *left == 0;
  }));
  std::lock_guard lock(mu);
  EXPECT_EQ(got_a.size(), 1u);
}

// rediss://: the server's certificate is verified with OpenSSL's default paths, which SSL_CERT_FILE points at the
// test CA (scripts/test-all.sh sets it; set here from TXV_TEST_REDIS_CA_FILE too).
TEST(RedisClient, TlsRoundTripWithTheServerCertificateVerified) {
  auto url = redis_test_url("TXV_TEST_REDIS_TLS_URL");
  if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_TLS_URL is not set";
  // The test server's CA is the one to trust (a machine-wide SSL_CERT_FILE may point at the system bundle).
  if (auto ca = txv::cache::testing::env("TXV_TEST_REDIS_CA_FILE")) ::setenv("SSL_CERT_FILE", ca->c_str(), 1);
  RedisClientOptions options;
  options.url = *url;
  options.command_timeout = std::chrono::seconds(10);
  auto client = RedisClient::create(options);
  ASSERT_TRUE(client.ok()) << client.error().message;
  EXPECT_TRUE((*client)->endpoint().tls);
  txv::testing::AsyncRunner runner(4);
  const std::string key = unique("tls");
  const std::string big(200 * 1024, 'z');  // several TLS records each way
  auto set = run_command(runner, **client, {"SET", key, big, "PX", "60000"});
  ASSERT_TRUE(set.ok()) << set.error().message;
  auto back = run_command(runner, **client, {"GET", key});
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->str, big);
  std::atomic<int> good{0};
  for (int i = 0; i < 200; ++i) {
    runner.spawn([&, i]() -> Task<void> {
      auto r = co_await (*client)->command(cmd("ECHO", std::to_string(i)));
      if (r.ok() && r->str == std::to_string(i)) ++good;
    });
  }
  EXPECT_TRUE(txv::testing::wait_until([&] { return good.load() == 200; }));
}

TEST(RedisClient, TlsRefusesAServerItsCaDoesNotVouchFor) {
  auto url = redis_test_url("TXV_TEST_REDIS_TLS_URL");
  if (!url) GTEST_SKIP() << "TXV_TEST_REDIS_TLS_URL is not set";
  // Another CA, made for this test.
  const auto dir = std::filesystem::temp_directory_path() / unique("ca").substr(9);
  std::filesystem::create_directories(dir);
  const std::string ca = (dir / "other-ca.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout '" +
                          (dir / "k.pem").string() + "' -out '" + ca + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  RedisClientOptions options;
  options.url = *url;
  options.tls_ca_file = ca;
  options.command_timeout = std::chrono::seconds(5);
  auto client = RedisClient::create(options);
  ASSERT_TRUE(client.ok()) << client.error().message;
  txv::testing::AsyncRunner runner;
  auto r = runner.run((*client)->ping());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("TLS handshake"));
  EXPECT_THAT(r.error().message, HasSubstr("certificate verify failed"));
  client->reset();
  std::filesystem::remove_all(dir);
}

TEST(RedisClient, CallsFailFastWhileTheServerIsUnreachable) {
  // A port nobody listens on (bound and closed again).
  auto client = RedisClient::create(options_for("redis://127.0.0.1:1/0", std::chrono::seconds(5)));
  ASSERT_TRUE(client.ok());
  txv::testing::AsyncRunner runner;
  auto r = runner.run((*client)->ping());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("connecting"));
  // Backing off now: the next call answers at once with the same error rather than waiting for its deadline.
  const auto start = std::chrono::steady_clock::now();
  auto again = runner.run((*client)->ping());
  ASSERT_FALSE(again.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

}  // namespace
}  // namespace txv::cache

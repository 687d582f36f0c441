// The Redis client and counters when the server misbehaves: paused (SIGSTOP), killed and restarted. These tests
// stop the shared test server (TXV_TEST_REDIS_PID_FILE, TXV_TEST_REDIS_CONF), so CTest runs them serially
// (RUN_SERIAL): no other suite uses the server meanwhile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_client.h"
#include "cache/redis/redis_test_env.h"
#include "cache/redis/redis_velocity_counters.h"
#include "common/async_test_runner.h"
#include "domain/time.h"

namespace txv::cache {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using txv::cache::testing::env;

template <class... A>
std::vector<std::string> cmd(A&&... a) {
  return std::vector<std::string>{std::string(std::forward<A>(a))...};
}

std::string unique(const std::string& name) {
  static std::atomic<int> serial{0};
  return "fault-" + name + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + "-" + std::to_string(++serial);
}

class RedisFault : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = txv::cache::testing::redis_test_url();
    if (!url_) GTEST_SKIP() << "TXV_TEST_REDIS_URL is not set";
    auto pid_file = env("TXV_TEST_REDIS_PID_FILE");
    auto conf = env("TXV_TEST_REDIS_CONF");
    if (!pid_file || !conf) {
      if (txv::cache::testing::integration_required()) {
        FAIL() << "TXV_TEST_REDIS_PID_FILE / TXV_TEST_REDIS_CONF are not set";
      }
      GTEST_SKIP() << "TXV_TEST_REDIS_PID_FILE / TXV_TEST_REDIS_CONF are not set";
    }
    pid_file_ = *pid_file;
    conf_ = *conf;
  }
  void TearDown() override {
    if (paused_ != 0) ::kill(paused_, SIGCONT);
  }

  std::unique_ptr<RedisClient> client(std::chrono::milliseconds timeout = 250ms,
                                      std::chrono::milliseconds stall = 3000ms) {
    RedisClientOptions o;
    o.url = *url_;
    o.command_timeout = timeout;
    o.stall_timeout = stall;
    o.reconnect_max = 200ms;
    auto c = RedisClient::create(o);
    EXPECT_TRUE(c.ok());
    return c.ok() ? std::move(c).value() : nullptr;
  }

  pid_t pid() const {
    std::ifstream in(pid_file_);
    pid_t p = 0;
    in >> p;
    return p;
  }
  void pause() {
    paused_ = pid();
    ASSERT_GT(paused_, 0);
    ASSERT_EQ(::kill(paused_, SIGSTOP), 0);
  }
  void resume() {
    ASSERT_EQ(::kill(paused_, SIGCONT), 0);
    paused_ = 0;
  }
  void kill_server(int sig) {
    const pid_t p = pid();
    ASSERT_GT(p, 0);
    ASSERT_EQ(::kill(p, sig), 0);
    ASSERT_TRUE(txv::testing::wait_until([p] { return ::kill(p, 0) != 0; }, std::chrono::seconds(30)));
  }
  void start_server() {
    // As root the server runs as `postgres`, as scripts/test-servers.sh starts it.
    const std::string command =
        std::string(::geteuid() == 0 ? "runuser -u postgres -- " : "") + "redis-server '" + conf_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  bool wait_for_ping(RedisClient& c, std::chrono::seconds limit = std::chrono::seconds(30)) {
    return txv::testing::wait_until([&] { return runner_.run(c.ping()).ok(); }, limit);
  }

  std::optional<std::string> url_;
  std::string pid_file_, conf_;
  pid_t paused_ = 0;
  txv::testing::AsyncRunner runner_{2};
};

TEST_F(RedisFault, DeadlineAnswersUnavailableWhileTheServerIsPaused) {
  auto c = client(250ms);
  ASSERT_TRUE(c);
  ASSERT_TRUE(runner_.run(c->ping()).ok());
  auto id = runner_.run(c->command(cmd("CLIENT", "ID")));
  ASSERT_TRUE(id.ok());
  pause();
  const auto start = std::chrono::steady_clock::now();
  auto r = runner_.run(c->ping());
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("no reply within 250 ms"));
  EXPECT_GE(took, 240ms);   // it waited for its deadline...
  EXPECT_LT(took, 2900ms);  // ...and not for the server (which is still paused)
  resume();
  ASSERT_TRUE(wait_for_ping(*c));
  auto id_after = runner_.run(c->command(cmd("CLIENT", "ID")));
  ASSERT_TRUE(id_after.ok());
  EXPECT_EQ(id_after->integer, id->integer);  // a slow server is not a dead connection: the late reply was dropped
}

TEST_F(RedisFault, AHungConnectionIsReplacedAfterTheStallTimeout) {
  auto c = client(100ms, 400ms);
  ASSERT_TRUE(c);
  auto id = runner_.run(c->command(cmd("CLIENT", "ID")));
  ASSERT_TRUE(id.ok());
  pause();
  EXPECT_FALSE(runner_.run(c->ping()).ok());
  std::this_thread::sleep_for(1200ms);  // past the stall timeout: the watchdog drops the connection
  resume();
  ASSERT_TRUE(wait_for_ping(*c));
  auto id_after = runner_.run(c->command(cmd("CLIENT", "ID")));
  ASSERT_TRUE(id_after.ok());
  EXPECT_NE(id_after->integer, id->integer);
}

TEST_F(RedisFault, ReconnectsAfterTheServerIsKilledAndRestarted) {
  std::atomic<int> errors{0};
  RedisClientOptions o;
  o.url = *url_;
  o.reconnect_max = 200ms;
  o.on_error = [&] { ++errors; };
  auto created = RedisClient::create(o);
  ASSERT_TRUE(created.ok());
  auto& c = **created;
  const std::string key = unique("survives");
  ASSERT_TRUE(runner_.run(c.command(cmd("SET", key, "1"))).ok());
  kill_server(SIGKILL);
  auto down = runner_.run(c.ping());
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
  EXPECT_GE(errors.load(), 1);
  start_server();
  ASSERT_TRUE(wait_for_ping(c));
  auto r = runner_.run(c.command(cmd("INCR", key)));  // a fresh server (no persistence): the key is gone
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->integer, 1);
}

TEST_F(RedisFault, PubSubResubscribesAfterTheServerRestarts) {
  auto c = client(1000ms);
  ASSERT_TRUE(c);
  const std::string channel = unique("channel");
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> resubscribed{0};
  ASSERT_TRUE(runner_
                  .run(c->subscribe(
                      channel,
                      [&](std::string_view, std::string_view m) {
                        std::lock_guard lock(mu);
                        got.emplace_back(m);
                      },
                      [&] { ++resubscribed; }))
                  .ok());
  ASSERT_TRUE(runner_.run(c->publish(channel, "before")).ok());
  ASSERT_TRUE(txv::testing::wait_until([&] {
    std::lock_guard lock(mu);
    return got.size() == 1;
  }));
  kill_server(SIGTERM);
  start_server();
  ASSERT_TRUE(txv::testing::wait_until([&] { return resubscribed.load() >= 1; }, std::chrono::seconds(30)));
  ASSERT_TRUE(txv::testing::wait_until([&] {
    auto n = runner_.run(c->publish(channel, "after"));
    return n.ok() && *n == 1;
  }));
  ASSERT_TRUE(txv::testing::wait_until([&] {
    std::lock_guard lock(mu);
    return got.size() == 2;
  }));
  std::lock_guard lock(mu);
  EXPECT_EQ(got[1], "after");
}

// A read_and_record whose reply is late (the server is paused after it was sent) answers an Error, and the
// counters then cancel it in the background: once the server resumes and runs it, the cancel follows, and the
// event does not count.
TEST_F(RedisFault, AVelocityRecordThatTimedOutIsCompensated) {
  auto c = client(250ms);
  ASSERT_TRUE(c);
  RedisVelocityCounters counters(*c);
  const std::string card = unique("card");
  VelocityEventInput in;
  in.keys[static_cast<std::size_t>(VelocityKey::kCard)] = card;
  in.amount = 500;
  in.currency = "USD";
  in.at = domain::now_millis();
  const std::vector<VelocityQuery> q{{VelocityKey::kCard, 3600 * 1000}};
  // Connected, and both scripts loaded (an earlier test may have restarted the server): the record is sent before
  // the pause takes hold, and runs as soon as the server resumes.
  VelocityEventInput warm = in;
  warm.keys[static_cast<std::size_t>(VelocityKey::kCard)] = card + "-warm-up";
  auto warmed = runner_.run(counters.read_and_record(warm, q));
  ASSERT_TRUE(warmed.ok()) << warmed.error().message;
  ASSERT_TRUE(runner_.run(counters.cancel(warmed->ticket)).ok());
  pause();
  auto r = runner_.run(counters.read_and_record(in, q));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  resume();
  ASSERT_TRUE(wait_for_ping(*c));  // same connection, FIFO: the record has run by now
  const std::string events = counters.redis_key(VelocityKey::kCard, card, "e");
  ASSERT_TRUE(txv::testing::wait_until(
      [&] {
        auto n = runner_.run(c->command(cmd("ZCARD", events)));
        return n.ok() && n->integer == 0;
      },
      std::chrono::seconds(30)));
  // The record did run (only a record creates the window's hash), and its cancel followed.
  auto ran = runner_.run(c->command(cmd("HEXISTS", counters.redis_key(VelocityKey::kCard, card, "w3600000"), "_")));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->integer, 1);
  in.at += std::chrono::milliseconds(1);
  auto probe = runner_.run(counters.read_and_record(in, q));
  ASSERT_TRUE(probe.ok()) << probe.error().message;
  EXPECT_EQ(probe->totals[0], (VelocityTotals{0, 0}));
}

}  // namespace
}  // namespace txv::cache

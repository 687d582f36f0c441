// The back-ends run by the velocity counter contract suite.
#include "cache/local/local_velocity_counters.h"
#include "cache/redis/redis_client.h"
#include "cache/redis/redis_test_env.h"
#include "cache/redis/redis_velocity_counters.h"
#include "cache/velocity_counters_contract.h"

namespace txv::cache::contract {
namespace {

class LocalBackend final : public Backend {
 public:
  VelocityCounters& counters() override { return counters_; }

 private:
  LocalVelocityCounters counters_;
};

// One client (one connection, one thread) and one counters object per test, on the server of TXV_TEST_REDIS_URL;
// the tests' key values are unique, so they share the server.
class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(std::unique_ptr<RedisClient> client) : client_(std::move(client)), counters_(*client_) {}
  VelocityCounters& counters() override { return counters_; }

 private:
  std::unique_ptr<RedisClient> client_;
  RedisVelocityCounters counters_;
};

std::unique_ptr<Backend> make_redis() {
  // A generous deadline: the suite checks counting, not latency (a loaded CI machine runs it).
  RedisClientOptions options;
  options.command_timeout = std::chrono::seconds(5);
  auto client = cache::testing::redis_test_client(std::move(options));
  if (!client) return nullptr;  // skipped, or failed when TXV_REQUIRE_INTEGRATION=1
  return std::make_unique<RedisBackend>(std::move(client));
}

}  // namespace

std::vector<BackendFactory> contract_backends() {
  return {
      // Exact up to the exact span (1 h), 1-minute buckets beyond: a blur of at most 1/60 of a window > 1 h.
      BackendFactory{"local", 1.0 / 60, [] { return std::make_unique<LocalBackend>(); },
                     std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(1)).count()},
      BackendFactory{"redis", RedisVelocityCounters::kFarEdgeBlur, make_redis},
  };
}

}  // namespace txv::cache::contract

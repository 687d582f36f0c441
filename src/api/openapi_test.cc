// Every route the server registers is in api/openapi.yaml, and vice versa.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "api/backtests_api.h"
#include "api/console_api.h"
#include "api/health_api.h"
#include "api/rules_api.h"
#include "api/sessions_api.h"
#include "api/stats_api.h"
#include "api/transactions_api.h"
#include "cache/local/local_velocity_counters.h"
#include "store/sqlite/sqlite_database.h"

namespace txv::api {
namespace {

std::set<std::string> registered_routes() {
  auto dir = std::filesystem::path(::testing::TempDir()) / "txv-openapi-test";
  std::filesystem::remove_all(dir);
  store::SqliteOptions options;
  options.path = (dir / "txv.db").string();
  auto db = store::open_sqlite_database(options);
  EXPECT_TRUE(db.ok());
  metrics::Metrics metrics({"test"});
  decide::Fingerprinter fingerprinter(std::string(32, 'k'));
  cache::LocalVelocityCounters counters;
  decide::RuleEngine engine({}, counters);
  decide::DecisionPipeline pipeline({}, **db, fingerprinter, engine);
  Lifecycle lifecycle;
  auto ok = []() -> Task<std::string> { co_return std::string("ok"); };
  HealthApi health(lifecycle, metrics, ok, ok);
  TransactionsApi transactions(pipeline, **db, fingerprinter, metrics);
  boost::asio::io_context admin;
  decide::RuleCatalogOptions catalog_options;
  catalog_options.admin = admin.get_executor();
  decide::RuleCatalog catalog(std::move(catalog_options), **db, **db, engine);
  RulesApi rules(**db, **db, **db, engine, catalog, admin.get_executor());
  decide::BacktestJobs jobs({}, **db, nullptr, nullptr);
  BacktestsApi backtests(**db, jobs);
  StatsApi stats(**db, metrics.validate_latency());
  Authenticator keys({}, **db);
  Sessions sessions({}, keys, **db);
  SessionsApi sessions_api(sessions);
  console::AssetSet console_assets;
  ConsoleApi console(console_assets);
  http::Router router;
  health.register_routes(router);
  sessions_api.register_routes(router);
  console.register_routes(router);
  transactions.register_routes(router);
  rules.register_routes(router);
  backtests.register_routes(router);
  stats.register_routes(router);
  std::set<std::string> out;
  for (const auto& r : router.routes()) out.insert(r.method + " " + r.route);
  (*db)->close();
  return out;
}

std::set<std::string> documented_routes() {
  YAML::Node doc = YAML::LoadFile(TXV_OPENAPI_PATH);
  std::set<std::string> out;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::transform(method.begin(), method.end(), method.begin(), ::toupper);
      out.insert(method + " " + path.first.as<std::string>());
    }
  }
  return out;
}

TEST(OpenApi, DocumentAndServerAgreeOnEveryRoute) {
  auto served = registered_routes();
  auto documented = documented_routes();
  for (const auto& r : served) EXPECT_TRUE(documented.count(r)) << "served but not documented: " << r;
  for (const auto& r : documented) EXPECT_TRUE(served.count(r)) << "documented but not served: " << r;
  EXPECT_GE(served.size(), 20u);
}

}  // namespace
}  // namespace txv::api

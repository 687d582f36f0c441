// The only place that creates concrete types and wires them together.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "api/access.h"
#include "api/auth.h"
#include "api/backtests_api.h"
#include "api/console_api.h"
#include "api/health_api.h"
#include "api/responses.h"
#include "api/rules_api.h"
#include "api/sessions.h"
#include "api/sessions_api.h"
#include "api/stats_api.h"
#include "api/transactions_api.h"
#include "cache/degrading_velocity_counters.h"
#include "cache/local/local_rate_limiter.h"
#include "cache/local/local_velocity_counters.h"
#include "cache/redis/redis_client.h"
#include "cache/redis/redis_rate_limiter.h"
#include "cache/redis/redis_session_store.h"
#include "cache/redis/redis_velocity_counters.h"
#include "cache/store_velocity_counters.h"
#include "cache/warming_velocity_counters.h"
#include "cli/command_line.h"
#include "cli/http_client.h"
#include "cli/labels_import.h"
#include "cli/rules_commands.h"
#include "config/pan_key.h"
#include "console/console_assets.h"
#include "decide/backtest_jobs.h"
#include "decide/fingerprint.h"
#include "decide/pipeline.h"
#include "decide/rule_catalog.h"
#include "decide/rule_engine.h"
#include "domain/time.h"
#include "http/dispatcher.h"
#include "http/router.h"
#include "http/server.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "store/postgres/postgres_database.h"
#include "store/sqlite/sqlite_database.h"

#ifndef TXV_VERSION
#define TXV_VERSION "0.0.0-dev"
#endif

namespace {

constexpr int kExitConfig = 2;
// Redis pub/sub channel on which a replica announces a rule or list change.
constexpr const char* kChangesChannel = "txv:changes";

int fail_config(const std::string& message) {
  std::fprintf(stderr, "txv: %s\n", message.c_str());
  return kExitConfig;
}

// Opens the configured database: SQLite (embedded) or PostgreSQL (replica
// mode, retrying an unreachable server for a short budget). `on_round_trip`
// (PostgreSQL) feeds txv_db_round_trip_seconds; empty for the CLI.
txv::Result<std::unique_ptr<txv::store::Database>> open_database(const txv::config::ServerConfig& config,
                                                                 std::function<void(double)> on_round_trip = {}) {
  if (config.database_kind == txv::config::DatabaseKind::kPostgres) {
    txv::store::PostgresOptions options;
    options.url = config.database_url;
    options.read_url = config.database_read_url;
    // Enough connections for the batching writers, reads and admin work of this replica's threads.
    options.pool_size = std::clamp(4 * config.threads, 8, 32);
    options.on_round_trip = std::move(on_round_trip);
    auto db = txv::store::open_postgres_database(options);
    if (!db.ok()) return txv::make_error("invalid_configuration", "TXV_DATABASE_URL: " + db.error().message);
    return db;
  }
  txv::store::SqliteOptions options;
  options.path = config.sqlite_path;
  // Reads run on the store's own threads, one per read connection, while the
  // I/O threads go on; WAL readers do not block each other or the writer.
  options.read_pool_size = std::min(16, std::max(4, 2 * config.threads));
  auto db = txv::store::open_sqlite_database(options);
  if (!db.ok()) {
    return txv::make_error("invalid_configuration", "TXV_DATABASE_URL: " + db.error().message);
  }
  return db;
}

int run_migrate(const txv::cli::Command& cmd) {
  auto db = open_database(cmd.config);
  if (!db.ok()) return fail_config(db.error().message);
  auto migrated = (*db)->migrate();
  (*db)->close();
  if (!migrated.ok()) return fail_config("TXV_DATABASE_URL: migration failed: " + migrated.error().message);
  std::fprintf(stderr, "txv: migrations applied\n");
  return 0;
}

int run_apikey_create(const txv::cli::Command& cmd) {
  auto db = open_database(cmd.config);
  if (!db.ok()) return fail_config(db.error().message);
  if (auto m = (*db)->migrate(); !m.ok()) return fail_config("TXV_DATABASE_URL: " + m.error().message);
  auto key = txv::api::generate_api_key(cmd.role, cmd.merchant_id, cmd.key_name, txv::domain::now_millis());
  auto created = txv::block_on((*db)->create_api_key(key.record));
  (*db)->close();
  if (!created.ok()) {
    std::fprintf(stderr, "txv: cannot store the key: %s\n", created.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", key.secret.c_str());
  std::fprintf(stderr, "txv: created %s key %s (name %s)%s%s\n", txv::store::to_string(cmd.role), key.record.id.c_str(),
               key.record.name.c_str(), cmd.merchant_id ? " for merchant " : "",
               cmd.merchant_id ? cmd.merchant_id->c_str() : "");
  return 0;
}

std::string format_optional_time(const std::optional<txv::domain::TimePoint>& t) {
  return t ? txv::domain::format_rfc3339(*t) : std::string("-");
}

int run_apikey_list(const txv::cli::Command& cmd) {
  auto db = open_database(cmd.config);
  if (!db.ok()) return fail_config(db.error().message);
  if (auto m = (*db)->migrate(); !m.ok()) return fail_config("TXV_DATABASE_URL: " + m.error().message);
  auto keys = txv::block_on((*db)->list_api_keys());
  (*db)->close();
  if (!keys.ok()) {
    std::fprintf(stderr, "txv: cannot list keys: %s\n", keys.error().message.c_str());
    return 1;
  }
  std::printf("%-16s %-20s %-10s %-16s %-24s %-24s %s\n", "ID", "NAME", "ROLE", "MERCHANT", "CREATED", "LAST USED",
              "REVOKED");
  for (const auto& k : *keys) {
    std::printf("%-16s %-20s %-10s %-16s %-24s %-24s %s\n", k.id.c_str(), k.name.c_str(), txv::store::to_string(k.role),
                k.merchant_id.value_or("-").c_str(), txv::domain::format_rfc3339(k.created_at).c_str(),
                format_optional_time(k.last_used_at).c_str(), format_optional_time(k.revoked_at).c_str());
  }
  return 0;
}

int run_apikey_revoke(const txv::cli::Command& cmd) {
  auto db = open_database(cmd.config);
  if (!db.ok()) return fail_config(db.error().message);
  if (auto m = (*db)->migrate(); !m.ok()) return fail_config("TXV_DATABASE_URL: " + m.error().message);
  auto revoked = txv::block_on((*db)->revoke_api_key(cmd.key_id, txv::domain::now_millis()));
  (*db)->close();
  if (!revoked.ok()) {
    std::fprintf(stderr, "txv: cannot revoke %s: %s\n", cmd.key_id.c_str(), revoked.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "txv: revoked %s (name %s); every replica refuses it within 1 s\n", revoked->id.c_str(),
               revoked->name.c_str());
  return 0;
}

// `txv labels import FILE.csv`: exit 0 all rows accepted, 1 some refused or the
// import failed, 2 bad usage (no TXV_API_KEY, bad --url).
int run_labels_import(const txv::cli::Command& cmd) {
  const char* key = std::getenv("TXV_API_KEY");
  if (key == nullptr || *key == '\0') return fail_config("TXV_API_KEY: required (the API key to send the labels with)");
  auto client = txv::cli::HttpClient::create(cmd.server_url);
  if (!client.ok()) return fail_config(client.error().message);
  std::ifstream in(cmd.labels_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "txv: labels import: cannot open %s\n", cmd.labels_file.c_str());
    return 1;
  }
  const std::string secret = key;
  txv::cli::LabelsImportOptions options;
  options.progress = isatty(STDERR_FILENO) == 1;
  return txv::cli::import_labels(
      in, [&](const std::string& body) { return (*client)->post_json("/v1/labels/batch", body, secret); }, options,
      std::cout, std::cerr);
}

// `txv rules export|plan FILE|apply FILE` (contract section 12): exit 0 done or nothing to do, 1 error, 2 bad
// usage (no TXV_API_KEY, bad --url), 3 version mismatch.
int run_rules(const txv::cli::Command& cmd) {
  const char* key = std::getenv("TXV_API_KEY");
  if (key == nullptr || *key == '\0') return fail_config("TXV_API_KEY: required (the API key to talk to the server)");
  auto client = txv::cli::HttpClient::create(cmd.server_url);
  if (!client.ok()) return fail_config(client.error().message);
  const std::string secret = key;
  txv::cli::RulesCall call = [&](const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& if_match) {
    return (*client)->send(method, path, body, secret, if_match);
  };
  if (cmd.verb == txv::cli::Verb::kRulesExport) return txv::cli::rules_export(call, std::cout, std::cerr);
  std::ifstream in(cmd.rules_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "txv: rules: cannot open %s\n", cmd.rules_file.c_str());
    return txv::cli::kRulesExitError;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (cmd.verb == txv::cli::Verb::kRulesApply) return txv::cli::rules_apply(text, call, std::cout, std::cerr);
  txv::cli::RulesPlanOptions options;
  options.since = cmd.since;
  options.progress = isatty(STDERR_FILENO) == 1;
  return txv::cli::rules_plan(text, call, options, std::cout, std::cerr);
}

// A readiness check's answer: "ok" or the failure.
std::string check_text(const txv::Status& s) { return s.ok() ? std::string("ok") : s.error().message; }

// Runs admin work (list uploads, backfills, big renders) below the I/O
// threads' priority, so a large admin call takes spare CPU, not decisions'.
void lower_priority_of_pool(boost::asio::thread_pool& pool, std::size_t threads) {
  for (std::size_t i = 0; i < threads; ++i) {
    boost::asio::post(pool, [] { setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10); });
  }
}

int run_serve(const txv::cli::Command& cmd) {
  const auto& config = cmd.config;
  // Block the shutdown signals before any thread starts so only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  txv::logging::init(config.log_level);
  txv::metrics::Metrics metrics({TXV_VERSION});
  auto db_result = open_database(config, [&metrics](double seconds) { metrics.observe_db_round_trip(seconds); });
  if (!db_result.ok()) return fail_config(db_result.error().message);
  std::unique_ptr<txv::store::Database> db = std::move(db_result).value();
  if (!cmd.no_migrate) {
    if (auto m = db->migrate(); !m.ok()) return fail_config("TXV_DATABASE_URL: migration failed: " + m.error().message);
  }
  auto pan_key = txv::config::load_or_create_pan_key(config);
  if (!pan_key.ok()) return fail_config(pan_key.error().message);

  metrics.set_before_render([&db](txv::metrics::Metrics& m) {
    auto s = db->pool_stats();
    m.set_db_pool(s.idle, s.in_use);
  });
  txv::decide::Fingerprinter fingerprinter(std::move(pan_key).value());
  constexpr std::size_t kAdminThreads = 1;
  boost::asio::thread_pool admin_pool(kAdminThreads);
  lower_priority_of_pool(admin_pool, kAdminThreads);
  // Background loops (the catalog's poll, the counters' recovery) run on their own thread, off the I/O threads;
  // it starts once the server is up.
  boost::asio::io_context background;
  auto background_work = boost::asio::make_work_guard(background);

  // Counters and rate limits: in-process (embedded), or shared by every replica in Redis, falling back to counts
  // from the database while Redis is unreachable.
  std::unique_ptr<txv::cache::RedisClient> redis;
  std::unique_ptr<txv::cache::LocalVelocityCounters> local_counters;
  std::unique_ptr<txv::cache::RedisVelocityCounters> redis_counters;
  std::unique_ptr<txv::cache::StoreVelocityCounters> store_counters;
  std::unique_ptr<txv::cache::WarmingVelocityCounters> warming_counters;
  std::unique_ptr<txv::cache::DegradingVelocityCounters> shared_counters;
  txv::cache::VelocityCounters* counters = nullptr;
  txv::cache::VelocityHistory* history = nullptr;
  if (config.redis_url) {
    txv::cache::RedisClientOptions redis_options;
    redis_options.url = *config.redis_url;
    redis_options.on_round_trip = [&metrics](double seconds) { metrics.observe_redis_round_trip(seconds); };
    redis_options.on_error = [&metrics] { metrics.count_cache_error(); };
    redis_options.on_log = [](std::string_view what) {
      if (what.find("established") != std::string_view::npos) {
        txv::logging::info("redis", {{"state", what}});
      } else {
        txv::logging::warn("redis", {{"state", what}});
      }
    };
    auto client = txv::cache::RedisClient::create(std::move(redis_options));
    if (!client.ok()) return fail_config("TXV_REDIS_URL: " + client.error().message);
    redis = std::move(client).value();
    // The epoch marker tells an emptied Redis (restart without persistence, a new node, FLUSHALL); until the
    // longest window has passed since, counts reaching before it add the stored decisions' share.
    txv::cache::RedisVelocityCountersOptions redis_counter_options;
    redis_counter_options.epoch_key = "txv:v:epoch";
    redis_counters = std::make_unique<txv::cache::RedisVelocityCounters>(*redis, std::move(redis_counter_options));
    store_counters = std::make_unique<txv::cache::StoreVelocityCounters>(*db);
    txv::cache::WarmingVelocityCountersOptions warming;
    warming.on_state = [](bool on, txv::domain::TimePoint emptied_at, bool detected) {
      const std::string at = txv::domain::format_rfc3339(emptied_at);
      if (on) {
        txv::logging::warn(detected ? "cache emptied: Redis lost its counters, velocity made whole from the database"
                                    : "cache warming: Redis was emptied, velocity made whole from the database",
                           {{"emptied_at", at}});
      } else {
        txv::logging::info("cache warm: Redis counters cover every window again", {{"emptied_at", at}});
      }
    };
    warming_counters =
        std::make_unique<txv::cache::WarmingVelocityCounters>(*redis_counters, *store_counters, std::move(warming));
    // A wholly empty Redis at start-up gets its epoch now, before any decision (in the background: an unreachable
    // Redis is noticed by the first decision instead).
    boost::asio::co_spawn(
        redis->executor(),
        [counters = redis_counters.get()]() -> txv::Task<void> {
          (void)co_await counters->mark_epoch_if_empty(txv::domain::now_millis());
        },
        boost::asio::detached);
    txv::cache::DegradingVelocityCountersOptions degrading;
    degrading.replay_to = redis_counters.get();  // a replay needs no count from the database
    degrading.executor = background.get_executor();
    degrading.on_state = [&metrics](bool degraded) {
      metrics.set_cache_degraded(degraded);
      if (degraded) {
        txv::logging::warn("cache degraded: Redis unreachable, velocity from the database", {});
      } else {
        txv::logging::info("cache recovered: Redis counters made whole", {});
      }
    };
    degrading.on_error = [&metrics] { metrics.count_cache_error(); };
    shared_counters = std::make_unique<txv::cache::DegradingVelocityCounters>(*warming_counters, *store_counters,
                                                                              std::move(degrading));
    counters = shared_counters.get();
  } else {
    if (config.database_kind == txv::config::DatabaseKind::kPostgres) {
      txv::logging::warn(
          "TXV_REDIS_URL is not set: velocity counters and rate limits are per process; run one "
          "replica, or set TXV_REDIS_URL to share them",
          {});
    }
    local_counters = std::make_unique<txv::cache::LocalVelocityCounters>();
    counters = local_counters.get();
    history = local_counters.get();
  }
  txv::decide::RuleEngineOptions engine_options;
  engine_options.history = history != nullptr ? db.get() : nullptr;
  engine_options.admin = admin_pool.get_executor();
  engine_options.traces = config.decision_traces;
  engine_options.trace_layouts = db.get();
  txv::decide::RuleEngine engine(std::move(engine_options), *counters, history);
  txv::api::WriteHealth write_health;
  txv::decide::DecisionPipelineOptions pipeline_options;
  pipeline_options.on_store_write = [&write_health](const txv::Status& s) { write_health.record(s); };
  txv::decide::DecisionPipeline pipeline(std::move(pipeline_options), *db, fingerprinter, engine);
  txv::api::Authenticator authenticator({}, *db);
  std::unique_ptr<txv::cache::RateLimiter> rate_limiter;
  if (config.rate_limit > 0 && redis) {
    rate_limiter = std::make_unique<txv::cache::RedisRateLimiter>(
        *redis, txv::cache::RedisRateLimiterOptions{config.rate_limit, "txv:rl:"});
  } else if (config.rate_limit > 0) {
    rate_limiter =
        std::make_unique<txv::cache::LocalRateLimiter>(txv::cache::LocalRateLimiterOptions{config.rate_limit, {}});
  }
  // Console sessions (contract section 13): in Redis when replicas share one, else in the database.
  std::unique_ptr<txv::cache::RedisSessionStore> redis_sessions;
  if (redis)
    redis_sessions = std::make_unique<txv::cache::RedisSessionStore>(*redis, txv::cache::RedisSessionStoreOptions{});
  txv::store::SessionStore& session_store =
      redis_sessions ? static_cast<txv::store::SessionStore&>(*redis_sessions) : *db;
  txv::api::SessionOptions session_options;
  session_options.secure_cookie = config.tls_cert_file.has_value();
  txv::api::Sessions sessions(session_options, authenticator, session_store);
  txv::api::SessionsApi sessions_api(sessions);
  txv::api::AccessControl access(authenticator, rate_limiter.get(), metrics, &sessions);
  txv::api::Lifecycle lifecycle;
  txv::api::HealthApi health(
      lifecycle, metrics, [&db]() -> txv::Task<std::string> { co_return check_text(co_await db->ping()); },
      [&redis, &shared_counters]() -> txv::Task<std::string> {
        if (!redis) co_return std::string("ok");
        // Decisions go on without Redis (velocity from the database): degraded, still ready. Degraded too while
        // the counters still replay what they missed, though Redis answers again.
        if (shared_counters->degraded()) co_return std::string("degraded");
        auto s = co_await redis->ping();
        co_return s.ok() ? std::string("ok") : std::string("degraded");
      },
      &write_health, [&db]() -> txv::Task<std::string> { co_return check_text(co_await db->probe_write()); });
  txv::api::TransactionsApi transactions(pipeline, *db, fingerprinter, metrics);
  txv::decide::RuleCatalogOptions catalog_options;
  catalog_options.admin = admin_pool.get_executor();
  if (redis) {
    // Other replicas hear of a change at once; the version poll is the fallback when a message is lost.
    catalog_options.announce = [&redis] {
      boost::asio::co_spawn(
          redis->executor(), [&redis]() -> txv::Task<void> { (void)co_await redis->publish(kChangesChannel, "1"); },
          boost::asio::detached);
    };
  }
  txv::decide::RuleCatalog catalog(std::move(catalog_options), *db, *db, engine);
  txv::api::RulesApi rules_api(*db, *db, *db, engine, catalog, admin_pool.get_executor());
  // Backtests (contract section 11): replayed from the stored decisions on a worker thread of their own, at the
  // lowest CPU priority; the jobs are rows of the database (any replica answers for any job). Stopped (this
  // replica's jobs stored failed) before the database closes.
  txv::decide::BacktestJobsOptions backtest_options;
  // Embedded (SQLite): this process is the only one, so a job still running at start-up was the previous
  // process's. With PostgreSQL other replicas may be running theirs: only stale ones are failed.
  backtest_options.sole_runner = config.database_kind != txv::config::DatabaseKind::kPostgres;
  backtest_options.stale_after = config.backtest_stale_after;
  txv::decide::BacktestJobs backtests(
      std::move(backtest_options), *db,
      [&db](txv::domain::TimePoint since, txv::domain::TimePoint until, const txv::decide::ReplaySink& sink) {
        return db->scan_decisions(since, until, 4096, sink);
      },
      [&engine](const std::string& name) { return engine.list(name); });
  txv::api::BacktestsApi backtests_api(*db, backtests);
  if (auto s = backtests.recover(); !s.ok()) {
    txv::logging::warn("backtests", {{"recover", s.error().message}});  // readers still fail them once stale
  }
  txv::api::StatsApi stats_api(*db, metrics.validate_latency());
  if (auto s = txv::block_on(catalog.load_all()); !s.ok())
    return fail_config("TXV_DATABASE_URL: cannot load rules: " + s.error().message);
  if (auto s = engine.rebuild_counters(); !s.ok()) {
    return fail_config("TXV_DATABASE_URL: cannot rebuild velocity counters: " + s.error().message);
  }

  txv::console::AssetSet console_assets;
  if (config.console_dir) {
    auto loaded = txv::console::console_assets_from_directory(*config.console_dir);
    if (!loaded.ok()) return fail_config(loaded.error().message);
    console_assets = std::move(loaded).value();
  } else {
    console_assets = txv::console::embedded_console_assets();
  }
  txv::api::ConsoleApi console_api(console_assets);

  txv::http::Router router;
  health.register_routes(router);
  sessions_api.register_routes(router);
  console_api.register_routes(router);
  transactions.register_routes(router);
  rules_api.register_routes(router);
  backtests_api.register_routes(router);
  stats_api.register_routes(router);
  txv::http::Dispatcher dispatcher(
      router, metrics, [](int status, const txv::Error& e) { return txv::api::error_response(status, e); },
      [&access](txv::http::Request& r, const txv::http::RouteOptions& route) { return access.admit(r, route); });

  txv::http::ServerOptions server_options;
  server_options.host = config.listen_host;
  server_options.port = config.listen_port;
  // One I/O thread per core: handlers are coroutines and never block one.
  server_options.threads = config.threads;
  server_options.tls_cert_file = config.tls_cert_file;
  server_options.tls_key_file = config.tls_key_file;
  txv::http::Server server(server_options, dispatcher);
  if (auto s = server.start(); !s.ok()) return fail_config(s.error().message);

  std::thread background_thread([&background] { background.run(); });
  catalog.start(background.get_executor());
  if (redis) {
    boost::asio::co_spawn(
        redis->executor(),
        [&redis, &catalog]() -> txv::Task<void> {
          (void)co_await redis->subscribe(
              kChangesChannel, [&catalog](std::string_view, std::string_view) { catalog.notify(); },
              [&catalog] { catalog.notify(); });
        },
        boost::asio::detached);
  }

  lifecycle.started = true;
  txv::logging::info("txv serving", {{"version", TXV_VERSION},
                                     {"listen", config.listen_host + ":" + std::to_string(server.bound_port())},
                                     {"database", config.database_kind == txv::config::DatabaseKind::kSqlite
                                                      ? std::string_view("sqlite")
                                                      : std::string_view("postgres")},
                                     {"cache", redis ? std::string_view("redis") : std::string_view("local")},
                                     {"tls", config.tls_cert_file.has_value()}});

  int received = 0;
  sigwait(&signals, &received);
  auto grace_deadline = std::chrono::steady_clock::now() + config.grace_period;
  lifecycle.draining = true;
  txv::logging::info("shutdown: draining", {{"signal", static_cast<long long>(received)},
                                            {"drain_delay_ms", static_cast<long long>(config.drain_delay.count())}});
  // Keep accepting while the load balancer deregisters this replica.
  std::this_thread::sleep_for(config.drain_delay);
  server.stop_accepting();
  bool idle = server.wait_idle(grace_deadline);
  catalog.stop();
  if (shared_counters) shared_counters->stop();
  background_work.reset();
  background_thread.join();
  backtests.stop();  // this replica's queued and running backtests stored failed
  db->close();       // commits what is pending
  server.stop();
  redis.reset();  // ends the subscription (its handler points at the catalog) and the client's thread
  admin_pool.join();
  txv::logging::info("shutdown: done", {{"in_flight_finished", idle}});
  return idle ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  auto cmd = txv::cli::parse_command_line(argc, argv, txv::config::settings_from_environment());
  if (!cmd.ok()) return fail_config(cmd.error().message);
  try {
    switch (cmd->verb) {
      case txv::cli::Verb::kHelp:
        std::fputs(cmd->help_text.c_str(), stdout);
        return 0;
      case txv::cli::Verb::kVersion:
        std::printf("txv %s\n", TXV_VERSION);
        return 0;
      case txv::cli::Verb::kMigrate:
        return run_migrate(*cmd);
      case txv::cli::Verb::kApiKeyCreate:
        return run_apikey_create(*cmd);
      case txv::cli::Verb::kApiKeyList:
        return run_apikey_list(*cmd);
      case txv::cli::Verb::kApiKeyRevoke:
        return run_apikey_revoke(*cmd);
      case txv::cli::Verb::kLabelsImport:
        return run_labels_import(*cmd);
      case txv::cli::Verb::kRulesExport:
      case txv::cli::Verb::kRulesPlan:
      case txv::cli::Verb::kRulesApply:
        return run_rules(*cmd);
      case txv::cli::Verb::kServe:
        return run_serve(*cmd);
    }
  } catch (const std::exception& e) {
    // Start-up failures only; the request path never throws past the dispatcher.
    std::fprintf(stderr, "txv: fatal: %s\n", e.what());
    return 1;
  }
  return 0;
}

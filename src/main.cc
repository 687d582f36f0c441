// The only place that creates concrete types and wires them together.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "api/access.h"
#include "api/auth.h"
#include "api/health_api.h"
#include "api/responses.h"
#include "api/rules_api.h"
#include "api/transactions_api.h"
#include "cache/local/local_rate_limiter.h"
#include "cache/local/local_velocity_counters.h"
#include "cli/command_line.h"
#include "config/pan_key.h"
#include "decide/fingerprint.h"
#include "decide/pipeline.h"
#include "decide/rule_engine.h"
#include "domain/time.h"
#include "http/dispatcher.h"
#include "http/router.h"
#include "http/server.h"
#include "logging/log.h"
#include "metrics/metrics.h"
#include "store/sqlite/sqlite_database.h"

#ifndef TXV_VERSION
#define TXV_VERSION "0.0.0-dev"
#endif

namespace {

constexpr int kExitConfig = 2;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxListUploadBytes = 128 * 1024 * 1024;

int fail_config(const std::string& message) {
  std::fprintf(stderr, "txv: %s\n", message.c_str());
  return kExitConfig;
}

// Opens the configured database, retrying a failing open for a short budget.
txv::Result<std::unique_ptr<txv::store::Database>> open_database(const txv::config::ServerConfig& config) {
  if (config.database_kind != txv::config::DatabaseKind::kSqlite) {
    return txv::make_error("invalid_configuration",
                           "TXV_DATABASE_URL: postgres is not supported by this build yet (use sqlite:PATH)");
  }
  txv::store::SqliteOptions options;
  options.path = config.sqlite_path;
  // Handlers read (idempotency look-ups) from many threads at once; WAL readers do not block each other.
  options.read_pool_size = std::min(64, std::max(16, 4 * config.threads));
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
  auto created = (*db)->create_api_key(key.record);
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
  auto db_result = open_database(config);
  if (!db_result.ok()) return fail_config(db_result.error().message);
  std::unique_ptr<txv::store::Database> db = std::move(db_result).value();
  if (!cmd.no_migrate) {
    if (auto m = db->migrate(); !m.ok()) return fail_config("TXV_DATABASE_URL: migration failed: " + m.error().message);
  }
  auto pan_key = txv::config::load_or_create_pan_key(config);
  if (!pan_key.ok()) return fail_config(pan_key.error().message);

  txv::metrics::Metrics metrics({TXV_VERSION});
  metrics.set_before_render([&db](txv::metrics::Metrics& m) {
    auto s = db->pool_stats();
    m.set_db_pool(s.idle, s.in_use);
  });
  txv::decide::Fingerprinter fingerprinter(std::move(pan_key).value());
  txv::cache::LocalVelocityCounters counters;
  txv::decide::RuleEngine engine({[&db](txv::domain::TimePoint since) { return db->velocity_events_since(since); }, {}},
                                 counters);
  txv::decide::DecisionPipeline pipeline({}, *db, fingerprinter, engine);
  txv::api::Authenticator authenticator(*db);
  std::unique_ptr<txv::cache::RateLimiter> rate_limiter;
  if (config.rate_limit > 0) {
    rate_limiter =
        std::make_unique<txv::cache::LocalRateLimiter>(txv::cache::LocalRateLimiterOptions{config.rate_limit, {}});
  }
  txv::api::AccessControl access(authenticator, rate_limiter.get(), metrics);
  txv::api::Lifecycle lifecycle;
  txv::api::HealthApi health(
      lifecycle, metrics,
      [&db] {
        auto s = db->ping();
        return s.ok() ? std::string("ok") : s.error().message;
      },
      [] { return std::string("ok"); });
  txv::api::TransactionsApi transactions(access, pipeline, *db, fingerprinter, metrics);
  txv::api::RulesApi rules_api(access, *db, *db, *db, engine);
  if (auto s = rules_api.load_all(); !s.ok())
    return fail_config("TXV_DATABASE_URL: cannot load rules: " + s.error().message);
  if (auto s = engine.rebuild_counters(); !s.ok()) {
    return fail_config("TXV_DATABASE_URL: cannot rebuild velocity counters: " + s.error().message);
  }

  txv::http::Router router;
  health.register_routes(router);
  transactions.register_routes(router);
  rules_api.register_routes(router);
  txv::http::Dispatcher dispatcher(router, metrics,
                                   [](int status, const txv::Error& e) { return txv::api::error_response(status, e); });

  txv::http::ServerOptions server_options;
  server_options.host = config.listen_host;
  server_options.port = config.listen_port;
  // Handlers block while their decision is committed: many threads per core.
  server_options.threads = std::min(4096, std::max(128, 64 * config.threads));
  server_options.tls_cert_file = config.tls_cert_file;
  server_options.tls_key_file = config.tls_key_file;
  // List uploads may carry up to 1,000,000 entries; every other body keeps the 64 KiB limit.
  server_options.body_limit_for = [](std::string_view method, std::string_view target) -> std::size_t {
    bool list_upload = (method == "PUT" || method == "POST") && target.rfind("/v1/lists/", 0) == 0;
    return list_upload ? kMaxListUploadBytes : kMaxBodyBytes;
  };
  txv::http::Server server(
      server_options, [&dispatcher](txv::http::Request& r) { return dispatcher(r); },
      [&dispatcher](int status, const std::string& remote) { return dispatcher.transport_error(status, remote); });
  if (auto s = server.start(); !s.ok()) return fail_config(s.error().message);

  lifecycle.started = true;
  txv::logging::info("txv serving", {{"version", TXV_VERSION},
                                     {"listen", config.listen_host + ":" + std::to_string(server.bound_port())},
                                     {"database", config.database_kind == txv::config::DatabaseKind::kSqlite
                                                      ? std::string_view("sqlite")
                                                      : std::string_view("postgres")},
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
  db->close();  // commits what is pending
  server.stop();
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

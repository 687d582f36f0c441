#include "store/postgres/test_schema.h"

#include <cstdlib>
#include <random>

#include "common/hex.h"

namespace txv::store::pg::testing {

std::optional<std::string> test_database_url() {
  const char* url = std::getenv("TXV_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

bool integration_required() {
  const char* v = std::getenv("TXV_REQUIRE_INTEGRATION");
  return v != nullptr && std::string(v) == "1";
}

Result<std::unique_ptr<TestSchema>> TestSchema::create(const std::string& url) {
  std::random_device rd;
  unsigned char bytes[8];
  for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  std::string name = "txv_t_" + hex_encode(bytes, sizeof bytes);
  ConnectConfig config;
  config.url = url;
  auto admin = BlockingConnection::open(config);
  if (!admin.ok()) return admin.error();
  if (auto r = (*admin)->exec("CREATE SCHEMA " + name, "creating a test schema"); !r.ok()) return r.error();
  if (auto r = (*admin)->exec("SELECT set_config('search_path', $1, false)", {text(name)}, "setting search_path");
      !r.ok()) {
    return r.error();
  }
  return std::unique_ptr<TestSchema>(new TestSchema(url, std::move(name), std::move(*admin)));
}

TestSchema::TestSchema(std::string url, std::string name, std::unique_ptr<BlockingConnection> admin)
    : url_(std::move(url)), name_(std::move(name)), admin_(std::move(admin)) {}

TestSchema::~TestSchema() {
  (void)admin_->exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE", "dropping a test schema");
}

PostgresOptions TestSchema::options() const {
  PostgresOptions o;
  o.url = url_;
  o.schema = name_;
  o.pool_size = 8;
  o.connect_retry_budget = std::chrono::seconds(10);
  return o;
}

Result<PgResult> TestSchema::exec(const std::string& sql, const std::vector<Param>& params) {
  return admin_->exec(sql, params, "test statement");
}

}  // namespace txv::store::pg::testing

// The back-ends run by the storage contract suite.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "store/postgres/postgres_database.h"
#include "store/postgres/test_schema.h"
#include "store/sqlite/sqlite_database.h"
#include "store/store_contract_test.h"

namespace txv::store::contract {
namespace {

// A fresh directory per test; the database lives two levels below it so that
// opening also exercises the mkdir -p of the parent directory.
class SqliteBackend : public Backend {
 public:
  SqliteBackend() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "txv-store-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~SqliteBackend() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  Result<std::unique_ptr<Database>> open() override {
    if (dir_.empty()) return make_error("unavailable", "could not create a temporary directory");
    SqliteOptions options;
    options.path = (std::filesystem::path(dir_) / "data" / "sub" / "txv.db").string();
    options.read_pool_size = 4;
    return open_sqlite_database(options);
  }

 private:
  std::string dir_;
};

// A fresh schema per test on the server of TXV_TEST_DATABASE_URL, dropped
// with the back-end.
class PostgresBackend : public Backend {
 public:
  explicit PostgresBackend(std::unique_ptr<pg::testing::TestSchema> schema) : schema_(std::move(schema)) {}
  Result<std::unique_ptr<Database>> open() override { return open_postgres_database(schema_->options()); }

 private:
  std::unique_ptr<pg::testing::TestSchema> schema_;
};

// Stands for a back-end that must run here but cannot: every test fails
// (opening answers `why`) instead of being skipped.
class MissingBackend : public Backend {
 public:
  explicit MissingBackend(std::string why) : why_(std::move(why)) {}
  Result<std::unique_ptr<Database>> open() override { return make_error("unavailable", why_); }

 private:
  std::string why_;
};

std::unique_ptr<Backend> make_postgres_backend() {
  auto url = pg::testing::test_database_url();
  if (!url) {
    if (!pg::testing::integration_required()) return nullptr;  // skipped
    return std::make_unique<MissingBackend>("TXV_REQUIRE_INTEGRATION=1 but TXV_TEST_DATABASE_URL is not set");
  }
  auto schema = pg::testing::TestSchema::create(*url);
  if (!schema.ok()) return std::make_unique<MissingBackend>(schema.error().message);
  return std::make_unique<PostgresBackend>(std::move(*schema));
}

}  // namespace

std::vector<BackendFactory> contract_backends() {
  return {
      BackendFactory{"sqlite", [] { return std::make_unique<SqliteBackend>(); }},
      BackendFactory{"postgres", [] { return make_postgres_backend(); }},
  };
}

}  // namespace txv::store::contract

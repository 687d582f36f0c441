// Test support for the PostgreSQL back-end: the server under test and one
// throw-away schema per test (the contract suite and postgres_store_test).
//
// The server is TXV_TEST_DATABASE_URL (scripts/test-servers.sh starts one).
// Unset: the tests skip, unless TXV_REQUIRE_INTEGRATION=1 (as `make test`
// sets), in which case they must fail. A TestSchema creates
// `txv_t_<random hex>` on creation and drops it (CASCADE) on destruction;
// databases opened with options() live in it. Not thread-safe; for tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_database.h"

namespace txv::store::pg::testing {

// TXV_TEST_DATABASE_URL, or nullopt when unset or empty.
std::optional<std::string> test_database_url();
// TXV_REQUIRE_INTEGRATION=1.
bool integration_required();

class TestSchema {
 public:
  static Result<std::unique_ptr<TestSchema>> create(const std::string& url);
  ~TestSchema();
  TestSchema(const TestSchema&) = delete;
  TestSchema& operator=(const TestSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  // url + schema, small pools and timeouts suited to tests.
  PostgresOptions options() const;
  // Runs `sql` on an admin connection of its own whose search_path is the schema.
  Result<PgResult> exec(const std::string& sql, const std::vector<Param>& params = {});

 private:
  TestSchema(std::string url, std::string name, std::unique_ptr<BlockingConnection> admin);
  std::string url_;
  std::string name_;
  std::unique_ptr<BlockingConnection> admin_;
};

}  // namespace txv::store::pg::testing

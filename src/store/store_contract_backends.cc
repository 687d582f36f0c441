// The back-ends run by the storage contract suite.
#include <stdlib.h>

#include <filesystem>
#include <string>

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

}  // namespace

std::vector<BackendFactory> contract_backends() {
  return {
      BackendFactory{"sqlite", [] { return std::make_unique<SqliteBackend>(); }},
  };
}

}  // namespace txv::store::contract

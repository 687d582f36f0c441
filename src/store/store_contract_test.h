// Back-end registry of the storage contract suite (store_contract_test.cc).
//
// Every back-end returned by contract_backends() runs every contract test. A
// back-end provides isolated storage per test: a fresh SQLite file, a fresh
// PostgreSQL schema, ... Adding a back-end means adding a factory to
// store_contract_backends.cc; the tests themselves do not change.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "store/stores.h"

namespace txv::store::contract {

// One isolated storage instance for one test; the destructor removes it.
class Backend {
 public:
  virtual ~Backend() = default;
  // Opens a Database on this instance's storage, not migrated. May be called
  // again after the previous Database was closed (or in a forked child): the
  // new one sees everything the earlier ones committed.
  virtual Result<std::unique_ptr<Database>> open() = 0;
};

struct BackendFactory {
  std::string name;  // test-name suffix: letters, digits, '_'
  // A fresh isolated instance; nullptr when the back-end is not available here
  // (e.g. no PostgreSQL server configured): its tests are then skipped.
  std::function<std::unique_ptr<Backend>()> make;
};

std::vector<BackendFactory> contract_backends();

}  // namespace txv::store::contract

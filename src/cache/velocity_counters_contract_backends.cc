// The back-ends run by the velocity counter contract suite.
#include "cache/local/local_velocity_counters.h"
#include "cache/velocity_counters_contract.h"

namespace txv::cache::contract {
namespace {

class LocalBackend final : public Backend {
 public:
  VelocityCounters& counters() override { return counters_; }

 private:
  LocalVelocityCounters counters_;
};

}  // namespace

std::vector<BackendFactory> contract_backends() {
  return {
      BackendFactory{"local", 0.0, [] { return std::make_unique<LocalBackend>(); }},
  };
}

}  // namespace txv::cache::contract

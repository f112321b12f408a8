#include "sim/scenarios/scenario.h"

namespace giambio::sim {

Scenario echo_scenario();
Scenario chat_scenario();
Scenario kv_scenario();
Scenario tls_scenario();

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario>* const all =
      new std::vector<Scenario>{echo_scenario(), chat_scenario(), kv_scenario(), tls_scenario()};
  return *all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& scenario : scenarios()) {
    if (scenario.name == name) return &scenario;
  }
  return nullptr;
}

}  // namespace giambio::sim

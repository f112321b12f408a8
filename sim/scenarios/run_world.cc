#include "sim/scenarios/run_world.h"

#include <exception>
#include <utility>

namespace giambio::sim {

WorldOptions world_options(const RunSettings& settings, const Faults& faults) {
  WorldOptions options{.seed = settings.seed,
                       .faults = faults,
                       .swarm = settings.swarm,
                       .keep_trace = settings.trace_out != nullptr};
  options.only_faults = settings.only_faults;
  return options;
}

absl::Duration workload_duration(const RunSettings& settings, absl::Duration fallback) {
  return settings.simulated > absl::ZeroDuration() ? settings.simulated : fallback;
}

RunResult run_world(World& world, std::function<Task<>()> control, const RunSettings& settings) {
  RunResult result;
  result.world = world.describe();
  try {
    world.run(std::move(control));
  } catch (const CheckFailure& e) {
    result.ok = false;
    result.failure = e.what();
    result.details = e.details;
    result.failed_at = world.elapsed();
  } catch (const std::exception& e) {
    result.ok = false;
    result.failure = e.what();
    result.failed_at = world.elapsed();
  }
  result.fingerprint = world.fingerprint();
  result.simulated = world.elapsed();
  result.faults = world.faults_drawn();
  for (const auto& [site, state] : world.buggify_sites()) {
    if (state.fired > 0) result.buggified.push_back(site);
  }
  if (settings.trace_out != nullptr) world.trace().write_chrome_json(*settings.trace_out);
  return result;
}

}  // namespace giambio::sim

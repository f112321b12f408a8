// sim/scenarios/run_world.h: what every scenario does around its World (private to scenarios/).
#ifndef SIM_SCENARIOS_RUN_WORLD_H_
#define SIM_SCENARIOS_RUN_WORLD_H_

#include <functional>

#include "giambio/task.h"
#include "sim/scenarios/scenario.h"
#include "sim/world.h"

namespace giambio::sim {

// The world options for `settings` on top of a scenario's own faults.
WorldOptions world_options(const RunSettings& settings, const Faults& faults);

// How long the workload runs: --simulated if given, else the scenario's `fallback`.
absl::Duration workload_duration(const RunSettings& settings, absl::Duration fallback);

// Runs `world` with `control`, turns an exception (a CheckFailure, a deadlock, a program's
// error) into a failed result at its virtual time, writes the trace if asked.
RunResult run_world(World& world, std::function<Task<>()> control, const RunSettings& settings);

}  // namespace giambio::sim

#endif  // SIM_SCENARIOS_RUN_WORLD_H_

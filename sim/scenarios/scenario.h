// sim/scenarios/scenario.h: the built-in simulation scenarios of //tools:simulate.
//
// A scenario is an ordinary giambio program (its servers and clients would run unchanged on
// io_uring) set in a World with faults, plus a checker that says whether the run was correct.
//
//   const Scenario* kv = find_scenario("kv");
//   RunResult r = kv->run({.seed = 7, .bug = true});
//   if (!r.ok) std::cout << r.failure << " at " << r.failed_at;
#ifndef SIM_SCENARIOS_SCENARIO_H_
#define SIM_SCENARIOS_SCENARIO_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "sim/world.h"

namespace giambio::sim {

struct RunSettings {
  uint64_t seed = 0;
  bool swarm = false;
  // Plant the scenario's known bug (scenarios without one ignore it); for a scenario with
  // several, bug_name (below) says which.
  bool bug = false;
  // How long the scenario's workload runs in simulated time; zero: the scenario's default.
  absl::Duration simulated = absl::ZeroDuration();
  // Where to write the run's Chrome trace-event JSON, or null.
  std::ostream* trace_out = nullptr;
  // Which of the nemesis's faults to carry out (WorldOptions::only_faults); default: all.
  FaultSelection only_faults = {};
  // With bug: which of Scenario::bugs (empty for a scenario with one bug).
  std::string bug_name = "";
};

struct RunResult {
  bool ok = true;
  std::string failure;  // what the checker (or an exception) said, on one line
  std::string details;  // more lines about it (a linearizability witness), or empty
  absl::Duration failed_at = absl::ZeroDuration();  // virtual time of the failure
  uint64_t fingerprint = 0;
  absl::Duration simulated = absl::ZeroDuration();  // virtual time the run took
  std::string world;                                // World::describe()
  // The buggify() sites that fired in the run (giambio/buggify.h), by name or "file:line", in
  // order.
  std::vector<std::string> buggified;
  // Every fault the nemesis drew, in order (World::faults_drawn()).
  std::vector<FaultRecord> faults;
};

struct Scenario {
  std::string name;
  std::string summary;
  std::string faults;  // what goes wrong in it
  std::string checks;  // what its checker verifies
  bool has_bug;        // whether --bug plants something
  std::function<RunResult(const RunSettings&)> run;
  // Several planted bugs, chosen with --bug=NAME (empty: --bug plants the one there is).
  std::vector<std::string> bugs = {};
};

const std::vector<Scenario>& scenarios();
// nullptr if there is none of that name.
const Scenario* find_scenario(std::string_view name);

// The determinism audit: runs `scenario` twice with `settings` in this process, traces kept. A
// different fingerprint or verdict is a failed result whose failure names the first differing
// event (sim/trace_reader.h); otherwise the first run's result.
RunResult run_twice_and_compare(const Scenario& scenario, RunSettings settings);

// A checker's verdict inside a scenario: thrown, it ends the run as FAILED with its message.
struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
  CheckFailure(const std::string& what, std::string details)
      : std::runtime_error(what), details(std::move(details)) {}
  std::string details;  // RunResult::details
};

}  // namespace giambio::sim

#endif  // SIM_SCENARIOS_SCENARIO_H_

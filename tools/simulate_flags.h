// tools/simulate_flags.h: the command line of //tools:simulate, parsed without side effects.
//
//   absl::StatusOr<SimulateFlags> flags = parse_simulate_flags(args, catalog);
//   if (!flags.ok()) { print flags.status().message(); exit 2; }
//
// Every mistake is an InvalidArgument naming the flag and the value ("--seed=x: expected a
// non-negative integer"); nothing is printed and nothing exits here, so the parser is tested and
// fuzzed as a function (tools/simulate_flags_fuzz.cc). `catalog` lists the scenarios a
// --scenario may name, so the parser does not depend on the scenarios themselves.
#ifndef TOOLS_SIMULATE_FLAGS_H_
#define TOOLS_SIMULATE_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace giambio::sim {

struct SimulateFlags {
  std::string scenario = "kv";
  std::optional<uint64_t> seed;
  std::optional<std::pair<uint64_t, uint64_t>> seeds;  // [first, end), never empty
  bool swarm = false;
  bool bug = false;
  std::string bug_name;  // --bug=NAME, for a scenario with several planted bugs
  bool list = false;
  bool help = false;  // --help or -h: print the usage and stop; other flags are not checked
  std::string trace_out;
  absl::Duration simulated = absl::ZeroDuration();  // zero: the scenario's default
  // --faults=3,9 (or none): carry out only these of the nemesis's faults (one seed only).
  std::optional<std::vector<uint64_t>> faults;
  // --shrink: find the fewest faults with which the seed still fails (one seed only).
  bool shrink = false;
  // --check_determinism: run each seed twice in this process; a difference fails the seed.
  bool check_determinism = false;
};

struct ScenarioName {
  std::string name;
  bool has_bug = false;
  std::vector<std::string> bugs;  // several: --bug=NAME picks one
};

// `args` without the program name.
absl::StatusOr<SimulateFlags> parse_simulate_flags(const std::vector<std::string>& args,
                                                   const std::vector<ScenarioName>& catalog);

// The arguments that replay one seed of a run with `flags` (scenario, seed, --swarm, --bug,
// --simulated, --faults): parse_simulate_flags gives them back unchanged.
std::vector<std::string> replay_args(const SimulateFlags& flags, uint64_t seed);

// The --help text.
const char* simulate_usage();

}  // namespace giambio::sim

#endif  // TOOLS_SIMULATE_FLAGS_H_

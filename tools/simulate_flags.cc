#include "tools/simulate_flags.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sim/seeds.h"

namespace giambio::sim {

const char* simulate_usage() {
  return "usage: simulate [--scenario=NAME] [--seed=S | --seeds=A..B] [--swarm] [--bug]\n"
         "                [--trace_out=FILE.json] [--simulated=DURATION] [--faults=N,M | "
         "--shrink]\n"
         "                [--list]\n"
         "  --scenario=NAME      which scenario (see --list); default kv\n"
         "  --seed=S             one run with seed S\n"
         "  --seeds=A..B         a sweep over seeds A .. B-1 (or N: 0 .. N-1); default 0..100\n"
         "  --swarm              draw the faults from each seed (swarm testing)\n"
         "  --bug, --bug=NAME    plant the scenario's known bug (NAME: one of several)\n"
         "  --trace_out=FILE     write the run's Chrome trace-event JSON (one seed only)\n"
         "  --simulated=DURATION how long the workload runs in simulated time (e.g. 30s, 5m)\n"
         "  --faults=N,M,...     carry out only these of the run's drawn faults (or: none)\n"
         "  --shrink             find the fewest faults with which the seed still fails\n"
         "  --check_determinism  run each seed twice in this process; a difference fails it\n"
         "  --list               list the scenarios, their faults and what they check\n";
}

namespace {

// "3,9,12" (fault numbers from 1, ascending, no repeats) or "none".
absl::StatusOr<std::vector<uint64_t>> parse_fault_list(const std::string& value) {
  std::vector<uint64_t> faults;
  if (value == "none") return faults;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    uint64_t number = 0;
    if (!absl::SimpleAtoi(part, &number) || number == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--faults=", value, ": '", std::string(part),
          "' is not a fault number (1, 2, ... as a run lists them; or --faults=none)"));
    }
    if (!faults.empty() && number <= faults.back()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--faults=", value, ": numbers must ascend without repeats"));
    }
    faults.push_back(number);
  }
  return faults;
}

}  // namespace

absl::StatusOr<SimulateFlags> parse_simulate_flags(const std::vector<std::string>& args,
                                                   const std::vector<ScenarioName>& catalog) {
  SimulateFlags flags;
  auto find = [&](const std::string& name) -> const ScenarioName* {
    for (const ScenarioName& s : catalog) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("argument ", i + 1, " is an empty argument"));
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const bool has_value = equals != std::string::npos;
    const std::string value = has_value ? arg.substr(equals + 1) : "";
    const bool takes_value = name == "--scenario" || name == "--seed" || name == "--seeds" ||
                             name == "--trace_out" || name == "--simulated" || name == "--faults";
    if (name == "--bug") {  // a switch, or --bug=NAME
      if (has_value && value.empty()) {
        return absl::InvalidArgumentError("--bug= needs a name: --bug=NAME (or just --bug)");
      }
      flags.bug = true;
      flags.bug_name = value;
      continue;
    }
    const bool is_switch = name == "--swarm" || name == "--list" || name == "--help" ||
                           name == "-h" || name == "--shrink" || name == "--check_determinism";
    if (!takes_value && !is_switch) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", arg, "'"));
    }
    if (takes_value && value.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a value: ", name, "=..."));
    }
    if (is_switch && has_value) {
      return absl::InvalidArgumentError(absl::StrCat(name, " takes no value (got '", value, "')"));
    }
    if (name == "--help" || name == "-h") {
      flags.help = true;
      return flags;
    } else if (name == "--scenario") {
      if (find(value) == nullptr) {
        std::string names;
        for (const ScenarioName& s : catalog)
          absl::StrAppend(&names, names.empty() ? "" : ", ", s.name);
        return absl::InvalidArgumentError(
            absl::StrCat("--scenario=", value, ": no such scenario; expected one of ", names));
      }
      flags.scenario = value;
    } else if (name == "--seed") {
      absl::StatusOr<uint64_t> seed = parse_seed(value, "--seed");
      if (!seed.ok()) return seed.status();
      flags.seed = *seed;
    } else if (name == "--seeds") {
      absl::StatusOr<std::pair<uint64_t, uint64_t>> range = parse_seed_range(value, "--seeds");
      if (!range.ok()) return range.status();
      flags.seeds = *range;
    } else if (name == "--swarm") {
      flags.swarm = true;
    } else if (name == "--list") {
      flags.list = true;
    } else if (name == "--trace_out") {
      flags.trace_out = value;
    } else if (name == "--shrink") {
      flags.shrink = true;
    } else if (name == "--check_determinism") {
      flags.check_determinism = true;
    } else if (name == "--faults") {
      absl::StatusOr<std::vector<uint64_t>> faults = parse_fault_list(value);
      if (!faults.ok()) return faults.status();
      flags.faults = *std::move(faults);
    } else {  // --simulated
      if (!absl::ParseDuration(value, &flags.simulated) ||
          flags.simulated <= absl::ZeroDuration() || flags.simulated == absl::InfiniteDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--simulated=", value, ": expected a positive duration such as 30s, 5m or 1h"));
      }
    }
  }
  if (flags.seed && flags.seeds) {
    return absl::InvalidArgumentError("--seed and --seeds exclude each other");
  }
  if (!flags.trace_out.empty() && !flags.seed) {
    return absl::InvalidArgumentError("--trace_out needs a single run: give --seed=S");
  }
  if (flags.faults && !flags.seed) {
    return absl::InvalidArgumentError("--faults needs a single run: give --seed=S");
  }
  if (flags.shrink && !flags.seed) {
    return absl::InvalidArgumentError("--shrink needs the failing seed: give --seed=S");
  }
  if (flags.check_determinism && !flags.trace_out.empty()) {
    return absl::InvalidArgumentError("--check_determinism and --trace_out exclude each other");
  }
  if (flags.shrink && flags.faults) {
    return absl::InvalidArgumentError("--shrink and --faults exclude each other");
  }
  const ScenarioName* scenario = find(flags.scenario);
  if (scenario == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--scenario=", flags.scenario, ": no such scenario"));
  }
  if (flags.bug && !scenario->has_bug) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bug: scenario ", flags.scenario, " has no planted bug"));
  }
  if (flags.bug && !scenario->bugs.empty()) {
    const std::string names = absl::StrJoin(scenario->bugs, ", ");
    if (flags.bug_name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--bug: scenario ", flags.scenario,
                                                     " has several planted bugs: --bug=NAME with "
                                                     "NAME one of ",
                                                     names));
    }
    if (std::find(scenario->bugs.begin(), scenario->bugs.end(), flags.bug_name) ==
        scenario->bugs.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--bug=", flags.bug_name, ": scenario ",
                                                     flags.scenario, " has no such bug; one of ",
                                                     names));
    }
  }
  if (flags.bug && scenario->bugs.empty() && !flags.bug_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--bug=", flags.bug_name, ": scenario ",
                                                   flags.scenario,
                                                   " has one planted bug: give just --bug"));
  }
  return flags;
}

std::vector<std::string> replay_args(const SimulateFlags& flags, uint64_t seed) {
  std::vector<std::string> args = {absl::StrCat("--scenario=", flags.scenario),
                                   absl::StrCat("--seed=", seed)};
  if (flags.swarm) args.push_back("--swarm");
  if (flags.bug) {
    args.push_back(flags.bug_name.empty() ? "--bug" : absl::StrCat("--bug=", flags.bug_name));
  }
  if (flags.simulated > absl::ZeroDuration()) {
    args.push_back(absl::StrCat("--simulated=", absl::FormatDuration(flags.simulated)));
  }
  if (flags.check_determinism) args.push_back("--check_determinism");
  if (flags.faults) {
    args.push_back(absl::StrCat(
        "--faults=", flags.faults->empty() ? "none" : absl::StrJoin(*flags.faults, ",")));
  }
  return args;
}

}  // namespace giambio::sim

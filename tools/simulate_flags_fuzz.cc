// Fuzz target for simulate's command line (tools/simulate_flags): the input is split into
// arguments at newlines. Any arguments give flags or an InvalidArgument that names one of them
// (its name, or the whole argument when it has none);
// accepted flags are consistent (a non-empty seed range, --trace_out only with --seed, --bug only
// for a scenario that has one, a positive finite --simulated), and their replay arguments parse
// back to the same run.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tools/simulate_flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace giambio::sim;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  if (!text.empty()) args = absl::StrSplit(text, '\n');
  const std::vector<ScenarioName> catalog = {{"kv", true, {}},
                                             {"echo", false, {}},
                                             {"chat", false, {}},
                                             {"raft", true, {"stale_read", "commit_old_term"}}};
  const absl::StatusOr<SimulateFlags> flags = parse_simulate_flags(args, catalog);
  if (!flags.ok()) {
    if (flags.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    bool names_one = false;
    for (const std::string& arg : args) {
      const std::string name = arg.substr(0, arg.find('='));
      const std::string wanted = arg.empty() ? "empty argument" : name.empty() ? arg : name;
      if (!wanted.empty() && flags.status().message().find(wanted) != std::string::npos) {
        names_one = true;
      }
    }
    if (!names_one) std::abort();
    return 0;
  }
  if (flags->help) return 0;
  if (flags->seeds && flags->seeds->first >= flags->seeds->second) std::abort();
  if (flags->seed && flags->seeds) std::abort();
  if (!flags->trace_out.empty() && !flags->seed) std::abort();
  if (flags->bug && flags->scenario != "kv" && flags->scenario != "raft") std::abort();
  if (flags->bug && (flags->scenario == "raft") != !flags->bug_name.empty()) std::abort();
  if ((flags->faults || flags->shrink) && !flags->seed) std::abort();
  if (flags->simulated < absl::ZeroDuration() || flags->simulated == absl::InfiniteDuration()) {
    std::abort();
  }
  const uint64_t seed = flags->seed.value_or(flags->seeds ? flags->seeds->first : 0);
  const absl::StatusOr<SimulateFlags> replay =
      parse_simulate_flags(replay_args(*flags, seed), catalog);
  if (!replay.ok() || replay->seed != seed || replay->scenario != flags->scenario ||
      replay->swarm != flags->swarm || replay->bug != flags->bug ||
      replay->bug_name != flags->bug_name || replay->simulated != flags->simulated ||
      replay->faults != flags->faults || replay->check_determinism != flags->check_determinism) {
    std::abort();
  }
  return 0;
}

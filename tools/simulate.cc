// tools/simulate.cc: runs giambio's built-in simulation scenarios over seeds.
//
//   bazel run --config=opt //tools:simulate -- --scenario=kv --seeds=0..200
//   bazel run --config=opt //tools:simulate -- --scenario=kv --bug --seed=17 --trace_out=kv17.json
//   bazel run --config=opt //tools:simulate -- --list
//
// (--config=opt: the runner is several times faster optimized; the replay lines it prints use it
// too, so a sweep and its replays share one build.)
//
// Output contract (scripts rely on it): one line per run with `seed=S`, `fingerprint=` and 16
// hex digits, and `ok` or `FAILED`; a summary; a line per buggify() site that fired (in how many
// runs); one replay command per failure. Exit status 0 if
// every run passed, 1 if any failed or the trace could not be written, 2 for bad flags. On a
// terminal, a sweep also draws a progress bar on stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "examples/user_path.h"
#include "sim/scenarios/scenario.h"
#include "sim/shrink.h"
#include "tools/simulate_flags.h"

namespace giambio::sim {
namespace {

[[noreturn]] void bad_flag(const std::string& message) {
  std::fprintf(stderr, "simulate: %s\n(see --help)\n", message.c_str());
  std::exit(2);
}

std::string replay_command(const SimulateFlags& flags, uint64_t seed) {
  return absl::StrCat("bazel run --config=opt //tools:simulate -- ",
                      absl::StrJoin(replay_args(flags, seed), " "));
}

void draw_progress(uint64_t done, uint64_t total, uint64_t failed, absl::Duration simulated,
                   double wall_seconds) {
  constexpr int kWidth = 30;
  const int filled = total == 0 ? kWidth : static_cast<int>(kWidth * done / total);
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr, "\r[%s] %llu/%llu seeds, %llu failed, %.0f s simulated, %.1f seeds/s ",
               bar.c_str(), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(total), static_cast<unsigned long long>(failed),
               absl::ToDoubleSeconds(simulated), wall_seconds > 0 ? done / wall_seconds : 0.0);
  std::fflush(stderr);
}

FaultSelection only(const SimulateFlags& flags) {
  if (!flags.faults) return FaultSelection{};
  return FaultSelection::only(std::set<uint64_t>(flags.faults->begin(), flags.faults->end()));
}

// --shrink: runs the seed with all its faults, then with fewer (sim/shrink.h), and prints the
// fewest with which it still fails and the command that replays exactly that.
int shrink(const SimulateFlags& flags, const Scenario& scenario) {
  RunSettings settings{.seed = *flags.seed,
                       .swarm = flags.swarm,
                       .bug = flags.bug,
                       .simulated = flags.simulated,
                       .bug_name = flags.bug_name};
  const RunResult first = scenario.run(settings);
  if (first.ok) {
    std::printf("shrink: seed %llu passes: nothing to shrink\n",
                static_cast<unsigned long long>(*flags.seed));
    return 0;
  }
  std::printf("shrink: seed %llu fails at %s: %s\n", static_cast<unsigned long long>(*flags.seed),
              absl::FormatDuration(first.failed_at).c_str(), first.failure.c_str());
  std::vector<uint64_t> carried_out;
  for (const FaultRecord& fault : first.faults) {
    if (fault.carried_out) carried_out.push_back(fault.number);
  }
  const ShrinkResult shrunk = shrink_faults(carried_out, [&](const std::set<uint64_t>& only) {
    RunSettings trial = settings;
    trial.only_faults = FaultSelection::only(only);
    return !scenario.run(trial).ok;
  });
  if (!shrunk.reproduced) {
    std::printf("shrink: the seed did not fail again with its own faults (nondeterminism?)\n");
    return 1;
  }
  std::printf("shrink: %zu faults drawn, %zu carried out; it still fails with %zu%s (%zu runs):\n",
              first.faults.size(), carried_out.size(), shrunk.faults.size(),
              shrunk.minimal ? "" : " (not proven minimal: out of runs)", shrunk.runs);
  for (const uint64_t number : shrunk.faults) {
    const FaultRecord& fault = first.faults[number - 1];
    std::printf("  #%llu at %s: %s\n", static_cast<unsigned long long>(number),
                absl::FormatDuration(fault.at).c_str(), fault.what.c_str());
  }
  SimulateFlags replay = flags;
  replay.shrink = false;
  replay.faults = shrunk.faults;
  std::printf("replay: %s\n", replay_command(replay, *flags.seed).c_str());
  return 1;
}

int main_impl(int argc, char** argv) {
  std::vector<ScenarioName> catalog;
  for (const Scenario& s : scenarios()) catalog.push_back({s.name, s.has_bug, s.bugs});
  const absl::StatusOr<SimulateFlags> parsed =
      parse_simulate_flags(std::vector<std::string>(argv + 1, argv + argc), catalog);
  if (!parsed.ok()) bad_flag(std::string(parsed.status().message()));
  const SimulateFlags& flags = *parsed;
  if (flags.help) {
    std::fputs(simulate_usage(), stdout);
    return 0;
  }
  if (flags.list) {
    for (const Scenario& s : scenarios()) {
      std::printf("%s: %s\n  faults: %s\n  checks: %s\n", std::string(s.name).c_str(),
                  std::string(s.summary).c_str(), std::string(s.faults).c_str(),
                  std::string(s.checks).c_str());
      if (!s.bugs.empty()) std::printf("  bugs: %s\n", absl::StrJoin(s.bugs, ", ").c_str());
    }
    return 0;
  }
  const Scenario& scenario = *find_scenario(flags.scenario);
  if (flags.shrink) return shrink(flags, scenario);
  std::vector<uint64_t> seeds;
  if (flags.seed) {
    seeds.push_back(*flags.seed);
  } else {
    const auto [first, end] = flags.seeds.value_or(std::make_pair(uint64_t{0}, uint64_t{100}));
    for (uint64_t seed = first; seed < end; ++seed) seeds.push_back(seed);
  }
  std::ofstream trace_file;
  const std::string trace_path = examples::user_path(flags.trace_out);
  if (!flags.trace_out.empty()) {
    trace_file.open(trace_path);
    if (!trace_file) {
      bad_flag(absl::StrCat("--trace_out=", flags.trace_out, ": cannot write ", trace_path));
    }
  }
  const bool progress = seeds.size() > 1 && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  absl::Duration simulated = absl::ZeroDuration();
  std::vector<uint64_t> failures;
  std::map<std::string, uint64_t> buggified;  // site -> runs in which it fired
  uint64_t done = 0;
  for (const uint64_t seed : seeds) {
    const RunSettings settings{
        .seed = seed,
        .swarm = flags.swarm,
        .bug = flags.bug,
        .simulated = flags.simulated,
        .trace_out = trace_file.is_open() ? &trace_file : nullptr,
        .only_faults = only(flags),
        .bug_name = flags.bug_name,
    };
    const RunResult result = flags.check_determinism ? run_twice_and_compare(scenario, settings)
                                                     : scenario.run(settings);
    ++done;
    simulated += result.simulated;
    for (const std::string& site : result.buggified) ++buggified[site];
    if (progress) std::fprintf(stderr, "\r\033[K");
    std::printf("scenario=%s seed=%llu fingerprint=%016llx %s simulated=%s", scenario.name.data(),
                static_cast<unsigned long long>(seed),
                static_cast<unsigned long long>(result.fingerprint), result.ok ? "ok" : "FAILED",
                absl::FormatDuration(result.simulated).c_str());
    if (flags.swarm) std::printf(" world{%s}", result.world.c_str());
    if (!result.ok) {
      failures.push_back(seed);
      std::printf(" at=%s: %s", absl::FormatDuration(result.failed_at).c_str(),
                  result.failure.c_str());
    }
    std::printf("\n");
    // One run: what the checker has to say beyond its line (a witness), indented.
    if (seeds.size() == 1 && !result.details.empty()) {
      for (absl::string_view line : absl::StrSplit(result.details, '\n', absl::SkipEmpty())) {
        std::printf("  %s\n", std::string(line).c_str());
      }
    }
    std::fflush(stdout);
    if (progress) draw_progress(done, seeds.size(), failures.size(), simulated, wall());
  }
  if (progress) std::fprintf(stderr, "\n");
  bool trace_lost = false;  // a write that failed (a full disk): the run's exit status says so
  if (trace_file.is_open()) {
    trace_file.close();
    trace_lost = !trace_file;
    std::fprintf(stderr,
                 trace_lost ? "trace: writing %s failed\n"
                            : "trace: wrote %s (open it at https://ui.perfetto.dev)\n",
                 trace_path.c_str());
  }
  const double wall_seconds = wall();
  std::printf(
      "summary: runs=%llu failures=%zu simulated=%s wall=%.2fs simulated_per_wall=%.0f "
      "seeds_per_second=%.1f\n",
      static_cast<unsigned long long>(done), failures.size(),
      absl::FormatDuration(simulated).c_str(), wall_seconds,
      wall_seconds > 0 ? absl::ToDoubleSeconds(simulated) / wall_seconds : 0.0,
      wall_seconds > 0 ? static_cast<double>(done) / wall_seconds : 0.0);
  for (const auto& [site, runs] : buggified) {
    std::printf("buggify: %s fired in %llu of %llu runs\n", site.c_str(),
                static_cast<unsigned long long>(runs), static_cast<unsigned long long>(done));
  }
  for (const uint64_t seed : failures) {
    std::printf("replay: %s\n", replay_command(flags, seed).c_str());
  }
  return failures.empty() && !trace_lost ? 0 : 1;
}

}  // namespace
}  // namespace giambio::sim

int main(int argc, char** argv) { return giambio::sim::main_impl(argc, argv); }

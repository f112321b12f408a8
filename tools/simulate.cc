// tools/simulate.cc: runs giambio's built-in simulation scenarios over seeds.
//
//   bazel run //tools:simulate -- --scenario=kv --seeds=0..200
//   bazel run //tools:simulate -- --scenario=kv --bug --seed=17 --trace_out=/tmp/kv17.json
//   bazel run //tools:simulate -- --list
//
// Output contract (scripts rely on it): one line per run with `seed=S`, `fingerprint=` and 16
// hex digits, and `ok` or `FAILED`; a summary; one replay command per failure. Exit status 0 if
// every run passed, 1 if any failed, 2 for bad flags. On a terminal, a sweep also draws a
// progress bar on stderr.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "sim/scenarios/scenario.h"
#include "sim/seeds.h"

namespace giambio::sim {
namespace {

struct Flags {
  std::string scenario = "kv";
  std::optional<uint64_t> seed;
  std::optional<std::pair<uint64_t, uint64_t>> seeds;
  bool swarm = false;
  bool bug = false;
  bool list = false;
  std::string trace_out;
  absl::Duration simulated = absl::ZeroDuration();
};

[[noreturn]] void bad_flag(const std::string& message) {
  std::fprintf(stderr, "simulate: %s\n(see --help)\n", message.c_str());
  std::exit(2);
}

void usage() {
  std::printf(
      "usage: simulate [--scenario=NAME] [--seed=S | --seeds=A..B] [--swarm] [--bug]\n"
      "                [--trace_out=FILE.json] [--simulated=DURATION] [--list]\n"
      "  --scenario=NAME      which scenario (see --list); default kv\n"
      "  --seed=S             one run with seed S\n"
      "  --seeds=A..B         a sweep over seeds A .. B-1 (or N: 0 .. N-1); default 0..100\n"
      "  --swarm              draw the faults from each seed (swarm testing)\n"
      "  --bug                plant the scenario's known bug\n"
      "  --trace_out=FILE     write the run's Chrome trace-event JSON (one seed only)\n"
      "  --simulated=DURATION how long the workload runs in simulated time (e.g. 30s, 5m)\n"
      "  --list               list the scenarios, their faults and what they check\n");
}

Flags parse_flags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const bool has_value = equals != std::string::npos;
    const std::string value = has_value ? arg.substr(equals + 1) : "";
    auto need_value = [&] {
      if (!has_value || value.empty())
        bad_flag(absl::StrCat(name, " needs a value: ", name, "=..."));
    };
    auto no_value = [&] {
      if (has_value) bad_flag(absl::StrCat(name, " takes no value (got '", value, "')"));
    };
    if (name == "--help" || name == "-h") {
      usage();
      std::exit(0);
    } else if (name == "--scenario") {
      need_value();
      if (find_scenario(value) == nullptr) {
        std::string names;
        for (const Scenario& s : scenarios())
          absl::StrAppend(&names, names.empty() ? "" : ", ", s.name);
        bad_flag(absl::StrCat("--scenario=", value, ": no such scenario; expected one of ", names));
      }
      flags.scenario = value;
    } else if (name == "--seed") {
      need_value();
      uint64_t seed = 0;
      if (!absl::SimpleAtoi(value, &seed)) {
        bad_flag(absl::StrCat("--seed=", value, ": expected a non-negative integer"));
      }
      flags.seed = seed;
    } else if (name == "--seeds") {
      need_value();
      absl::StatusOr<std::pair<uint64_t, uint64_t>> range = parse_seed_range(value, "--seeds");
      if (!range.ok()) bad_flag(std::string(range.status().message()));
      flags.seeds = *range;
    } else if (name == "--swarm") {
      no_value();
      flags.swarm = true;
    } else if (name == "--bug") {
      no_value();
      flags.bug = true;
    } else if (name == "--list") {
      no_value();
      flags.list = true;
    } else if (name == "--trace_out") {
      need_value();
      flags.trace_out = value;
    } else if (name == "--simulated") {
      need_value();
      if (!absl::ParseDuration(value, &flags.simulated) ||
          flags.simulated <= absl::ZeroDuration() || flags.simulated == absl::InfiniteDuration()) {
        bad_flag(absl::StrCat("--simulated=", value,
                              ": expected a positive duration such as 30s, 5m or 1h"));
      }
    } else {
      bad_flag(absl::StrCat("unknown flag '", arg, "'"));
    }
  }
  if (flags.seed && flags.seeds) bad_flag("--seed and --seeds exclude each other");
  if (!flags.trace_out.empty() && !flags.seed) {
    bad_flag("--trace_out needs a single run: give --seed=S");
  }
  if (flags.bug && !find_scenario(flags.scenario)->has_bug) {
    bad_flag(absl::StrCat("--bug: scenario ", flags.scenario, " has no planted bug (kv has one)"));
  }
  return flags;
}

std::string replay_command(const Flags& flags, uint64_t seed) {
  std::string command =
      absl::StrCat("bazel run //tools:simulate -- --scenario=", flags.scenario, " --seed=", seed);
  if (flags.swarm) absl::StrAppend(&command, " --swarm");
  if (flags.bug) absl::StrAppend(&command, " --bug");
  if (flags.simulated > absl::ZeroDuration()) {
    absl::StrAppend(&command, " --simulated=", absl::FormatDuration(flags.simulated));
  }
  return command;
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

int main_impl(int argc, char** argv) {
  const Flags flags = parse_flags(argc, argv);
  if (flags.list) {
    for (const Scenario& s : scenarios()) {
      std::printf("%s: %s\n  faults: %s\n  checks: %s\n", std::string(s.name).c_str(),
                  std::string(s.summary).c_str(), std::string(s.faults).c_str(),
                  std::string(s.checks).c_str());
    }
    return 0;
  }
  const Scenario& scenario = *find_scenario(flags.scenario);
  std::vector<uint64_t> seeds;
  if (flags.seed) {
    seeds.push_back(*flags.seed);
  } else {
    const auto [first, end] = flags.seeds.value_or(std::make_pair(uint64_t{0}, uint64_t{100}));
    for (uint64_t seed = first; seed < end; ++seed) seeds.push_back(seed);
  }
  std::ofstream trace_file;
  if (!flags.trace_out.empty()) {
    trace_file.open(flags.trace_out);
    if (!trace_file)
      bad_flag(absl::StrCat("--trace_out=", flags.trace_out, ": cannot write there"));
  }
  const bool progress = seeds.size() > 1 && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  auto wall = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  absl::Duration simulated = absl::ZeroDuration();
  std::vector<uint64_t> failures;
  uint64_t done = 0;
  for (const uint64_t seed : seeds) {
    const RunResult result = scenario.run(RunSettings{
        .seed = seed,
        .swarm = flags.swarm,
        .bug = flags.bug,
        .simulated = flags.simulated,
        .trace_out = trace_file.is_open() ? &trace_file : nullptr,
    });
    ++done;
    simulated += result.simulated;
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
    std::fflush(stdout);
    if (progress) draw_progress(done, seeds.size(), failures.size(), simulated, wall());
  }
  if (progress) std::fprintf(stderr, "\n");
  const double wall_seconds = wall();
  std::printf("summary: runs=%llu failures=%zu simulated=%s wall=%.2fs simulated_per_wall=%.0f\n",
              static_cast<unsigned long long>(done), failures.size(),
              absl::FormatDuration(simulated).c_str(), wall_seconds,
              wall_seconds > 0 ? absl::ToDoubleSeconds(simulated) / wall_seconds : 0.0);
  for (const uint64_t seed : failures) {
    std::printf("replay: %s\n", replay_command(flags, seed).c_str());
  }
  return failures.empty() ? 0 : 1;
}

}  // namespace
}  // namespace giambio::sim

int main(int argc, char** argv) { return giambio::sim::main_impl(argc, argv); }

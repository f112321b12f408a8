#include <cstdio>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "sim/scenarios/scenario.h"
#include "sim/trace_reader.h"

namespace giambio::sim {

Scenario echo_scenario();
Scenario chat_scenario();
Scenario kv_scenario();
Scenario tls_scenario();
Scenario raft_scenario();

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario>* const all = new std::vector<Scenario>{
      echo_scenario(), chat_scenario(), kv_scenario(), tls_scenario(), raft_scenario()};
  return *all;
}

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& scenario : scenarios()) {
    if (scenario.name == name) return &scenario;
  }
  return nullptr;
}

RunResult run_twice_and_compare(const Scenario& scenario, RunSettings settings) {
  std::ostringstream first_trace;
  std::ostringstream second_trace;
  settings.trace_out = &first_trace;
  RunResult first = scenario.run(settings);
  settings.trace_out = &second_trace;
  const RunResult second = scenario.run(settings);
  if (first.fingerprint == second.fingerprint && first.ok == second.ok) return first;
  std::string where = "the traces could not be read back";
  const absl::StatusOr<ChromeTrace> a = read_chrome_trace(first_trace.str());
  const absl::StatusOr<ChromeTrace> b = read_chrome_trace(second_trace.str());
  if (a.ok() && b.ok()) where = describe_divergence(*a, *b, first_divergence(*a, *b));
  auto outcome = [](const RunResult& run) {
    char text[40];
    std::snprintf(text, sizeof(text), "%016llx %s",
                  static_cast<unsigned long long>(run.fingerprint), run.ok ? "ok" : "FAILED");
    return std::string(text);
  };
  first.failure = absl::StrCat("nondeterministic: the seed ran twice in one process and gave ",
                               outcome(first), " then ", outcome(second), "; ", where);
  first.ok = false;
  return first;
}

}  // namespace giambio::sim

// How fast the linearizability checker is on a big history:
//
//   bazel run -c opt //sim:linearizability_benchmark
//
// The history: 10 clients, each running operations one after another (reads 50%, writes 30%,
// compare-and-sets 20%) on 1,000 keys, 100,000 operations in all, against a store that is
// linearizable by construction (each operation takes effect at a random instant of its interval);
// 0.5% of them time out (unknown outcome) and 0.5% fail. BM_Check checks it (linearizable);
// BM_CheckWithABadRead plants one read of a value no write wrote and checks it (not
// linearizable, witness included). BM_OneHotKey: the same 10 clients on a single key, 2,000
// operations, where the search has the most interleavings to consider; BM_TenHotKeys: 100,000
// operations on 10 keys.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "giambio/prng.h"
#include "sim/history.h"
#include "sim/linearizability.h"

namespace giambio::sim {
namespace {

struct Planned {
  uint32_t client;
  Op op;
  int64_t invoked;
  int64_t effect;
  int64_t completed;
  Outcome outcome;
  std::string result;
  bool cas_succeeded = false;
};

// The history described above; `bad_read` plants one read of a value nobody wrote.
History make_history(size_t operations, int keys, int clients, bool bad_read) {
  Prng prng(7);
  std::vector<Planned> planned;
  std::vector<int64_t> clock(clients, 0);
  for (size_t n = 0; n < operations; ++n) {
    const uint32_t client = static_cast<uint32_t>(n % clients);
    Planned p;
    p.client = client;
    const std::string key = absl::StrCat("k", prng.uniform(keys));
    const std::string value = absl::StrCat(prng.uniform(5));
    const double kind = prng.uniform_double();
    p.op = kind < 0.5   ? Op::read(key)
           : kind < 0.8 ? Op::write(key, value)
                        : Op::cas(key, absl::StrCat(prng.uniform(5)), value);
    p.invoked = clock[client] + static_cast<int64_t>(prng.uniform(1000));
    p.completed = p.invoked + 1 + static_cast<int64_t>(prng.uniform(5000));
    p.effect = p.invoked + static_cast<int64_t>(prng.uniform(p.completed - p.invoked));
    clock[client] = p.completed;
    const double fate = prng.uniform_double();
    p.outcome = fate < 0.005 ? Outcome::kUnknown : fate < 0.01 ? Outcome::kFailed : Outcome::kOk;
    planned.push_back(std::move(p));
  }
  // The store: effects in time order decide what reads return and whether a cas succeeds.
  std::vector<size_t> by_effect(planned.size());
  for (size_t i = 0; i < by_effect.size(); ++i) by_effect[i] = i;
  std::sort(by_effect.begin(), by_effect.end(),
            [&](size_t a, size_t b) { return planned[a].effect < planned[b].effect; });
  std::map<std::string, std::string> store;
  for (size_t i : by_effect) {
    Planned& p = planned[i];
    if (p.outcome == Outcome::kFailed) continue;
    std::string& current = store[p.op.key];
    switch (p.op.kind) {
      case Op::Kind::kRead:
        p.result = current;
        break;
      case Op::Kind::kWrite:
        current = p.op.value;
        break;
      case Op::Kind::kCas:
        p.cas_succeeded = current == p.op.expected;
        if (p.cas_succeeded) current = p.op.value;
        break;
    }
  }
  if (bad_read) {  // the last ok read returns 9, which no write wrote
    const std::string nobody_wrote = absl::StrCat(9);
    for (auto it = planned.rbegin(); it != planned.rend(); ++it) {
      if (it->op.kind == Op::Kind::kRead && it->outcome == Outcome::kOk) {
        it->result = nobody_wrote;
        break;
      }
    }
  }
  History history;
  for (Planned& p : planned) {
    history.add(p.client, std::move(p.op), absl::Microseconds(p.invoked),
                absl::Microseconds(p.completed), p.outcome, std::move(p.result), p.cas_succeeded);
  }
  (void)history.operations();  // orders them: not part of the check's time
  return history;
}

void run_check(benchmark::State& state, const History& history,
               LinearizabilityResult::Verdict expected) {
  uint64_t steps = 0;
  for (auto _ : state) {
    LinearizabilityResult result = check_linearizability(history);
    if (result.verdict != expected) state.SkipWithError(result.explanation.c_str());
    steps = result.steps;
    benchmark::DoNotOptimize(result);
  }
  state.counters["operations"] = static_cast<double>(history.size());
  state.counters["steps"] = static_cast<double>(steps);
}

void BM_Check(benchmark::State& state) {
  const History history = make_history(100'000, 1'000, 10, false);
  run_check(state, history, LinearizabilityResult::kLinearizable);
}
BENCHMARK(BM_Check)->Unit(benchmark::kMillisecond);

void BM_CheckWithABadRead(benchmark::State& state) {
  const History history = make_history(100'000, 1'000, 10, true);
  run_check(state, history, LinearizabilityResult::kNotLinearizable);
}
BENCHMARK(BM_CheckWithABadRead)->Unit(benchmark::kMillisecond);

void BM_OneHotKey(benchmark::State& state) {
  const History history = make_history(2'000, 1, 10, false);
  run_check(state, history, LinearizabilityResult::kLinearizable);
}
BENCHMARK(BM_OneHotKey)->Unit(benchmark::kMillisecond);

void BM_TenHotKeys(benchmark::State& state) {
  const History history = make_history(100'000, 10, 10, false);
  run_check(state, history, LinearizabilityResult::kLinearizable);
}
BENCHMARK(BM_TenHotKeys)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace giambio::sim

BENCHMARK_MAIN();

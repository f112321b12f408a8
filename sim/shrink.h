// sim/shrink.h: the fewest faults with which a failing run still fails (delta debugging).
//
//   // `faults`: the numbers of the faults a failing run carried out (World::faults_drawn()).
//   ShrinkResult r = shrink_faults(faults, [&](const std::set<uint64_t>& only) {
//     return !run_scenario_with(only).ok;    // replay the seed with only these faults
//   });
//   // r.faults: a 1-minimal set (leaving out any one of them, the run passes), found in r.runs.
//
// Zeller's ddmin: split the set into n parts, keep a part or a part's complement that still fails,
// otherwise split finer, until no single fault can go. The empty set is tried first (a failure
// that needs no fault at all). Every trial replays the same seed, so the result replays exactly;
// at most max_runs trials are made (then the smallest failing set found so far is returned).
#ifndef SIM_SHRINK_H_
#define SIM_SHRINK_H_

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

namespace giambio::sim {

struct ShrinkResult {
  std::vector<uint64_t> faults;  // ascending
  size_t runs = 0;               // trials made
  bool reproduced = false;       // the whole set failed (else nothing was shrunk)
  bool minimal = false;          // 1-minimal (false when max_runs ran out first)
};

ShrinkResult shrink_faults(const std::vector<uint64_t>& faults,
                           const std::function<bool(const std::set<uint64_t>&)>& fails,
                           size_t max_runs = 500);

}  // namespace giambio::sim

#endif  // SIM_SHRINK_H_

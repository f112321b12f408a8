// 10,000 random programs (sim/random_program.h), each checked for giambio's invariants under the
// simulator; a failure prints the seed, the violations and a shrunk program that still fails.
// Sharded by Bazel (with sweep_main, every shard sweeps its share of the seeds). Replay one seed
// with
//   bazel test //sim:random_program_sweep_test --test_env=GIAMBIO_SEED=S --test_output=all
#include <cstdint>

#include "gtest/gtest.h"
#include "sim/random_program.h"
#include "sim/sweep.h"

namespace giambio::sim {
namespace {

TEST(RandomProgramTest, EveryInvariantHoldsOverManySeeds) {
  sweep(
      [](uint64_t seed) {
        const Program program = generate_program(seed);
        const CheckResult result = check_program(program, seed);
        if (result.ok()) return;
        const Program small = shrink_program(program, seed);
        ADD_FAILURE() << "seed " << seed << ": " << result.to_string()
                      << "\n  program: " << program.to_string() << "\n  shrunk (" << small.size()
                      << " nodes, still fails with this seed): " << small.to_string() << "\n"
                      << check_program(small, seed).to_string();
      },
      {.default_seeds = 10000});
}

}  // namespace
}  // namespace giambio::sim

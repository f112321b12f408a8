// sim/sweep.h: write a simulation test once, run it over many seeds.
//
//   TEST(KvTest, AcknowledgedWritesSurviveCrashes) {
//     giambio::sim::sweep([](uint64_t seed) {
//       giambio::sim::World world({.seed = seed, .swarm = true});
//       ...                       // EXPECT_* / ASSERT_* as usual
//     });
//   }
//
// Which seeds, from the environment (bazel test --test_env=...):
//   GIAMBIO_SEED=S        only seed S (to replay a failure);
//   GIAMBIO_SEEDS=N       seeds 0 .. N-1;  GIAMBIO_SEEDS=A..B  seeds A .. B-1;
//   neither               seeds 0 .. default_seeds-1.
// Under Bazel's test sharding (shard_count = K), shard i takes every K-th seed starting at i, so
// a big sweep spreads over K processes or remote machines with no code of ours. A sharded sweep
// test links //sim:sweep_main instead of gtest_main: it keeps gtest from sharding by TEST
// (which would run the sweep in one shard, on that shard's seeds only); sweep() says so if not.
//
// The sweep stops at the first seed that fails (a gtest failure or an exception) and prints one
// line to reproduce it: the seed, the world it ran in (its swarm-drawn faults) and the command.
#ifndef SIM_SWEEP_H_
#define SIM_SWEEP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/seeds.h"

namespace giambio::sim {

struct SweepOptions {
  uint64_t default_seeds = 100;
};

void sweep(const std::function<void(uint64_t seed)>& body, SweepOptions options = {});

// The seeds a sweep runs in this process (after sharding), from the environment described
// above; InvalidArgument naming the variable for a malformed value.
absl::StatusOr<std::vector<uint64_t>> seeds_from_environment(uint64_t default_seeds);

}  // namespace giambio::sim

#endif  // SIM_SWEEP_H_

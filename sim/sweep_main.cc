// sim/sweep_main.cc: main() for seed-sweep tests that Bazel shards (shard_count = K).
//
// Left alone, gtest shards by TEST: each test runs in one shard only, so a sweep would run there
// on that shard's seeds and the other seeds would never run. This main turns gtest's sharding
// off; every shard runs every test, and sweep() (sweep.h) splits the seeds among the shards.
#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

int main(int argc, char** argv) {
  unsetenv("GTEST_TOTAL_SHARDS");
  unsetenv("GTEST_SHARD_INDEX");
  ::testing::InitGoogleMock(&argc, argv);
  return RUN_ALL_TESTS();
}

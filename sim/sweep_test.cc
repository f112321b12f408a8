#include "sim/sweep.h"

#include <stdlib.h>

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"GIAMBIO_SEED", "GIAMBIO_SEEDS", "TEST_TOTAL_SHARDS",
                             "TEST_SHARD_INDEX", "TEST_SHARD_STATUS_FILE"}) {
      unsetenv(name);
    }
  }
};

TEST_F(SweepTest, SeedRangesParseOrSayWhatIsWrong) {
  EXPECT_EQ(parse_seed_range("5", "X").value(), std::make_pair(uint64_t{0}, uint64_t{5}));
  EXPECT_EQ(parse_seed_range("10..20", "X").value(), std::make_pair(uint64_t{10}, uint64_t{20}));
  for (const char* bad : {"", "0", "abc", "-3", "5..5", "9..2", "1..", "..4", "1...4"}) {
    absl::StatusOr<std::pair<uint64_t, uint64_t>> parsed = parse_seed_range(bad, "GIAMBIO_SEEDS");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("GIAMBIO_SEEDS=")) << bad;
  }
}

TEST_F(SweepTest, EnvironmentChoosesTheSeedsAndShardsSplitThem) {
  EXPECT_EQ(seeds_from_environment(3).value(), (std::vector<uint64_t>{0, 1, 2}));
  setenv("GIAMBIO_SEEDS", "10..14", 1);
  EXPECT_EQ(seeds_from_environment(3).value(), (std::vector<uint64_t>{10, 11, 12, 13}));
  setenv("TEST_TOTAL_SHARDS", "3", 1);
  std::set<uint64_t> all;
  for (int shard = 0; shard < 3; ++shard) {
    setenv("TEST_SHARD_INDEX", std::to_string(shard).c_str(), 1);
    const std::vector<uint64_t> seeds = seeds_from_environment(3).value();
    for (uint64_t seed : seeds) EXPECT_TRUE(all.insert(seed).second);
  }
  EXPECT_THAT(all, ElementsAre(10, 11, 12, 13));
  setenv("GIAMBIO_SEED", "77", 1);
  setenv("TEST_SHARD_INDEX", "0", 1);
  EXPECT_EQ(seeds_from_environment(3).value(), (std::vector<uint64_t>{77}));
  setenv("GIAMBIO_SEED", "x7", 1);
  EXPECT_THAT(seeds_from_environment(3).status().message(), HasSubstr("GIAMBIO_SEED=x7"));
}

TEST_F(SweepTest, RunsEverySeedAndTouchesTheShardStatusFile) {
  const std::string status_file = std::string(getenv("TEST_TMPDIR")) + "/shard_status";
  setenv("TEST_SHARD_STATUS_FILE", status_file.c_str(), 1);
  std::vector<uint64_t> seen;
  sweep([&](uint64_t seed) { seen.push_back(seed); }, {.default_seeds = 4});
  EXPECT_THAT(seen, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(access(status_file.c_str(), F_OK), 0);
}

TEST_F(SweepTest, AFailingSeedStopsTheSweepAndPrintsHowToReproduceIt) {
  std::vector<uint64_t> seen;
  ::testing::internal::CaptureStderr();
  EXPECT_NONFATAL_FAILURE(sweep(
                              [&](uint64_t seed) {
                                World world({.seed = seed, .swarm = true});
                                seen.push_back(seed);
                                EXPECT_NE(seed, 2u) << "planted";
                              },
                              {.default_seeds = 10}),
                          "planted");
  const std::string printed = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(seen, ElementsAre(0, 1, 2));
  EXPECT_THAT(printed, HasSubstr("FAILED seed=2 world{seed=2 swarm faults{latency="));
  EXPECT_THAT(printed, HasSubstr("GIAMBIO_SEED=2"));
  EXPECT_THAT(printed, HasSubstr("SweepTest.AFailingSeedStopsTheSweepAndPrintsHowToReproduceIt"));
}

TEST_F(SweepTest, AnExceptionFailsItsSeed) {
  EXPECT_NONFATAL_FAILURE(sweep(
                              [](uint64_t seed) {
                                if (seed == 1) throw std::runtime_error("boom");
                              },
                              {.default_seeds = 3}),
                          "seed 1 threw: boom");
}

}  // namespace
}  // namespace giambio::sim

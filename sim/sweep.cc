#include "sim/sweep.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

}  // namespace

absl::StatusOr<std::vector<uint64_t>> seeds_from_environment(uint64_t default_seeds) {
  if (const std::string one = env("GIAMBIO_SEED"); !one.empty()) {
    absl::StatusOr<uint64_t> seed = parse_seed(one, "GIAMBIO_SEED");
    if (!seed.ok()) return seed.status();
    return std::vector<uint64_t>{*seed};
  }
  std::pair<uint64_t, uint64_t> range{0, default_seeds};
  if (const std::string many = env("GIAMBIO_SEEDS"); !many.empty()) {
    absl::StatusOr<std::pair<uint64_t, uint64_t>> parsed = parse_seed_range(many, "GIAMBIO_SEEDS");
    if (!parsed.ok()) return parsed.status();
    range = *parsed;
  }
  uint64_t shards = 1;
  uint64_t index = 0;
  if (const std::string total = env("TEST_TOTAL_SHARDS"); !total.empty()) {
    absl::StatusOr<uint64_t> t = parse_seed(total, "TEST_TOTAL_SHARDS");
    absl::StatusOr<uint64_t> i = parse_seed(env("TEST_SHARD_INDEX"), "TEST_SHARD_INDEX");
    if (!t.ok()) return t.status();
    if (!i.ok()) return i.status();
    shards = std::max<uint64_t>(*t, 1);
    index = *i;
  }
  std::vector<uint64_t> seeds;
  for (uint64_t seed = range.first + index; seed < range.second; seed += shards) {
    seeds.push_back(seed);
  }
  return seeds;
}

void sweep(const std::function<void(uint64_t seed)>& body, SweepOptions options) {
  // Tell Bazel this test shards by itself (it fails tests that ignore a shard_count otherwise).
  if (const std::string status_file = env("TEST_SHARD_STATUS_FILE"); !status_file.empty()) {
    std::ofstream(status_file).flush();
  }
  absl::StatusOr<std::vector<uint64_t>> seeds = seeds_from_environment(options.default_seeds);
  if (!seeds.ok()) {
    ADD_FAILURE() << seeds.status();
    return;
  }
  // Left to gtest, sharding gives each TEST to one shard, and that shard would run only its
  // share of the seeds: sweep_main turns gtest's sharding off so that sweep() splits seeds.
  if (!env("GTEST_TOTAL_SHARDS").empty() && env("GTEST_TOTAL_SHARDS") != "1") {
    ADD_FAILURE() << "sweep: this test is sharded by gtest, so most seeds would never run; "
                     "link //sim:sweep_main instead of gtest_main";
    return;
  }
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string test_name =
      test == nullptr ? "" : absl::StrCat(test->test_suite_name(), ".", test->name());
  for (const uint64_t seed : *seeds) {
    World::clear_last_description();
    // The seed's failures are caught here, then passed on unchanged: that way the sweep knows
    // which seed failed even when an outer reporter (gtest-spi) intercepts them too.
    ::testing::TestPartResultArray results;
    std::string thrown;
    {
      ::testing::ScopedFakeTestPartResultReporter intercept(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
      try {
        body(seed);
      } catch (const std::exception& e) {
        thrown = e.what();
      } catch (...) {
        thrown = "a non-standard exception";
      }
    }
    bool failed = !thrown.empty();
    for (int i = 0; i < results.size(); ++i) {
      const ::testing::TestPartResult& result = results.GetTestPartResult(i);
      failed = failed || result.failed();
      GTEST_MESSAGE_AT_(result.file_name() == nullptr ? "unknown" : result.file_name(),
                        result.line_number(), result.message(), result.type());
    }
    if (!thrown.empty()) ADD_FAILURE() << "seed " << seed << " threw: " << thrown;
    if (failed) {
      const std::string target = env("TEST_TARGET");
      const std::string command =
          target.empty() ? absl::StrCat("GIAMBIO_SEED=", seed,
                                        " <this test binary> --gtest_filter=", test_name)
                         : absl::StrCat("bazel test ", target, " --test_env=GIAMBIO_SEED=", seed,
                                        " --test_filter=", test_name);
      std::fprintf(stderr, "giambio sim: FAILED seed=%llu world{%s} reproduce: %s\n",
                   static_cast<unsigned long long>(seed), World::last_description().c_str(),
                   command.c_str());
      return;
    }
  }
}

}  // namespace giambio::sim

// The determinism audit (run_twice_and_compare): a scenario that behaves the same twice passes
// with its own result; one that does not fails, naming the first event where the runs differ.
#include <string>

#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/scenarios/run_world.h"
#include "sim/scenarios/scenario.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;

// A scenario whose program sleeps `extra()` more milliseconds on each run.
Scenario sleeper(std::function<int()> extra) {
  Scenario scenario;
  scenario.name = "sleeper";
  scenario.run = [extra](const RunSettings& settings) {
    World world(world_options(settings, Faults{}));
    const int ms = extra();
    world.add_host("host", [ms]() -> Task<> { co_await sleep(absl::Milliseconds(1 + ms)); });
    return run_world(
        world, []() -> Task<> { co_await sleep(absl::Seconds(1)); }, settings);
  };
  return scenario;
}

TEST(DeterminismAuditTest, TheSameRunTwicePasses) {
  const RunResult result = run_twice_and_compare(sleeper([] { return 0; }), RunSettings{.seed = 5});
  EXPECT_TRUE(result.ok) << result.failure;
  EXPECT_NE(result.fingerprint, 0u);
}

TEST(DeterminismAuditTest, ARunThatChangesFailsNamingTheFirstDifference) {
  int runs = 0;
  const RunResult result =
      run_twice_and_compare(sleeper([&runs] { return runs++; }), RunSettings{.seed = 5});
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.failure, HasSubstr("nondeterministic: the seed ran twice in one process"));
  EXPECT_THAT(result.failure, HasSubstr("first divergence at event"));
  EXPECT_THAT(result.failure, HasSubstr("host 1 (host)"));
}

}  // namespace
}  // namespace giambio::sim

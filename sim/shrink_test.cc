// Delta debugging over fault numbers: the result still fails, and leaving out any one of its
// faults makes the run pass (1-minimal).
#include "sim/shrink.h"

#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<uint64_t> numbers(uint64_t n) {
  std::vector<uint64_t> all;
  for (uint64_t i = 1; i <= n; ++i) all.push_back(i);
  return all;
}

TEST(ShrinkTest, FindsTheTwoFaultsAFailureNeeds) {
  const ShrinkResult r = shrink_faults(numbers(40), [](const std::set<uint64_t>& only) {
    return only.contains(3) && only.contains(37);
  });
  EXPECT_TRUE(r.reproduced);
  EXPECT_TRUE(r.minimal);
  EXPECT_THAT(r.faults, ElementsAre(3, 37));
  EXPECT_LT(r.runs, 100u);  // ddmin: about 2 k log n trials for k needed faults, plus its sweeps
}

TEST(ShrinkTest, AFailureThatNeedsNoFaultShrinksToNone) {
  const ShrinkResult r = shrink_faults(numbers(10), [](const std::set<uint64_t>&) { return true; });
  EXPECT_THAT(r.faults, IsEmpty());
  EXPECT_EQ(r.runs, 2u);  // all of them, then none
}

TEST(ShrinkTest, ARunThatDoesNotFailAgainIsReportedNotShrunk) {
  const ShrinkResult r = shrink_faults(numbers(5), [](const std::set<uint64_t>&) { return false; });
  EXPECT_FALSE(r.reproduced);
  EXPECT_EQ(r.faults.size(), 5u);
}

// Failures that are not monotone in the faults (any three of the first ten): the result is
// 1-minimal, checked by leaving out each of its faults.
TEST(ShrinkTest, TheResultIsOneMinimalEvenWhenFailingIsNotMonotone) {
  auto fails = [](const std::set<uint64_t>& only) {
    int low = 0;
    for (uint64_t f : only) low += f <= 10 ? 1 : 0;
    return low == 3 || only.contains(25);
  };
  const ShrinkResult r = shrink_faults(numbers(30), fails);
  ASSERT_TRUE(r.minimal);
  std::set<uint64_t> kept(r.faults.begin(), r.faults.end());
  EXPECT_TRUE(fails(kept));
  for (uint64_t f : r.faults) {
    std::set<uint64_t> without = kept;
    without.erase(f);
    EXPECT_FALSE(fails(without)) << "fault " << f << " is not needed";
  }
}

TEST(ShrinkTest, OutOfRunsItReturnsTheSmallestFailingSetSoFar) {
  auto fails = [](const std::set<uint64_t>& only) {
    return only.contains(3) && only.contains(17) && only.contains(29);
  };
  const ShrinkResult r = shrink_faults(numbers(32), fails, /*max_runs=*/5);
  EXPECT_FALSE(r.minimal);
  EXPECT_LE(r.runs, 5u);
  EXPECT_TRUE(fails(std::set<uint64_t>(r.faults.begin(), r.faults.end())));
}

}  // namespace
}  // namespace giambio::sim

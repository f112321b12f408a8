#include "giambio/check.h"

#include "gtest/gtest.h"

namespace giambio {
namespace {

int evaluations = 0;
int counted(int value) {
  ++evaluations;
  return value;
}

TEST(CheckTest, APassingCheckDoesNotEvaluateItsMessage) {
  evaluations = 0;
  GIAMBIO_CHECK(1 + 1 == 2, "never built ", counted(1));
  EXPECT_EQ(evaluations, 0);
}

TEST(CheckDeathTest, AFailedCheckNamesConditionMessageAndLocation) {
  const int in_flight = -1;
  EXPECT_DEATH(GIAMBIO_CHECK(in_flight >= 0, "in flight: ", in_flight),
               "internal check failed at giambio/check_test.cc:[0-9]+: in_flight >= 0: in "
               "flight: -1");
}

TEST(CheckDeathTest, AFailedCheckNamesTheInnermostContext) {
  CheckContext outer("seed=1");
  EXPECT_DEATH(
      {
        CheckContext inner("seed=7; replay: simulate --seed=7");
        GIAMBIO_CHECK(false, "");
      },
      "false; seed=7; replay: simulate --seed=7");
  EXPECT_EQ(CheckContext::current(), "seed=1");
}

}  // namespace
}  // namespace giambio

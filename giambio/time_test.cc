#include "giambio/time.h"

#include <string>

#include "absl/time/clock.h"
#include "giambio/cancel_scope.h"
#include "giambio/pool.h"
#include "giambio/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;

TEST(TimeTest, SleepAdvancesTheVirtualClockExactly) {
  auto body = []() -> Task<absl::Duration> {
    co_await sleep(absl::Hours(1));
    co_await sleep(absl::Milliseconds(250));
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Hours(1) + absl::Milliseconds(250));
}

TEST(TimeTest, SleepUntilWakesAtTheDeadline) {
  auto body = []() -> Task<absl::Duration> {
    co_await sleep_until(absl::UnixEpoch() + absl::Seconds(30));
    co_await sleep_until(absl::UnixEpoch() + absl::Seconds(10));  // in the past: yields only
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Seconds(30));
}

TEST(TimeTest, SleepersWakeInDeadlineOrderAndTiesInArmingOrder) {
  EventLog log;
  auto sleeper = [&](std::string name, absl::Duration d) -> Task<> {
    co_await sleep(d);
    log.add(name + "@" + absl::FormatDuration(elapsed()));
  };
  auto body = [&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(sleeper("c", absl::Seconds(3)));
      pool.spawn(sleeper("a", absl::Seconds(1)));
      pool.spawn(sleeper("b1", absl::Seconds(2)));
      pool.spawn(sleeper("b2", absl::Seconds(2)));
      co_return;
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a@1s", "b1@2s", "b2@2s", "c@3s"));
}

TEST(TimeTest, NegativeSleepIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW(co_await sleep(absl::Seconds(-1)), UsageError);
    co_return;
  };
  run_virtual(body());
}

TEST(TimeTest, WallTimeIsCalendarTimeOnRealDrivers) {
  auto body = []() -> Task<absl::Time> { co_return wall_time(); };
  const absl::Time before = absl::Now();
  const absl::Time seen = run(body(), RunOptions{.driver = DriverKind::kEpoll});
  EXPECT_GE(seen, before);
  EXPECT_LE(seen, absl::Now());
}

TEST(TimeTest, TimeOutsideALoopIsAUsageError) {
  EXPECT_THROW(now(), UsageError);
  EXPECT_THROW(wall_time(), UsageError);
  EXPECT_THROW((void)sleep(absl::Seconds(1)), UsageError);
}

TEST(TimeTest, SleepForeverAloneIsADeadlock) {
  auto body = []() -> Task<> { co_await sleep_forever(); };
  try {
    run_virtual(body());
    FAIL() << "expected a deadlock";
  } catch (const DeadlockError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("task 1 'main' waits on sleep"));
  }
}

TEST(TimeTest, SleepForeverEndsWhenCancelled) {
  auto body = []() -> Task<absl::Duration> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Minutes(5));
    co_await scope.run([]() -> Task<> { co_await sleep_forever(); }());
    EXPECT_TRUE(scope.cancelled_caught());
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Minutes(5));
}

// checkpoint() yields: two tasks that only checkpoint alternate.
TEST(TimeTest, CheckpointLetsOtherTasksRun) {
  EventLog log;
  auto yielder = [&](std::string name) -> Task<> {
    for (int i = 0; i < 3; ++i) {
      log.add(name + std::to_string(i));
      co_await checkpoint();
    }
  };
  auto body = [&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(yielder("a"));
      pool.spawn(yielder("b"));
      co_return;
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a0", "b0", "a1", "b1", "a2", "b2"));
}

// A task that only yields must not starve timers: the sleeper wakes while the spinner keeps
// yielding, and then cancels the spinner. Real time (epoll driver): on the virtual clock, time
// only moves when every task waits, which a spinner never does.
TEST(TimeTest, AYieldingTaskDoesNotStarveTimers) {
  auto body = []() -> Task<int> {
    int spins = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          ++spins;
          co_await checkpoint();
        }
      });
      co_await sleep(absl::ZeroDuration());
      co_await sleep(absl::Milliseconds(1));
      pool.cancel();
    });
    co_return spins;
  };
  RunOptions options;
  options.driver = DriverKind::kEpoll;
  EXPECT_GT(run(body(), std::move(options)), 0);
}

}  // namespace
}  // namespace giambio

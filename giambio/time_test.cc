#include "giambio/time.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "giambio/cancel_scope.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/test_util.h"
#include "giambio/timeouts.h"
#include "giambio/virtual/virtual_driver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

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

// ---- Quiescence and clock control (Trio's wait_all_tasks_blocked and MockClock) ----

std::string at(std::string what) {
  return absl::StrCat(what, " at ", absl::FormatDuration(elapsed()));
}

RunOptions manual_clock() {
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  options.virtual_clock.autojump_threshold = absl::InfiniteDuration();
  return options;
}

TEST(QuiescenceTest, WaitAllTasksBlockedReturnsBeforeTheClockJumps) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    Event go;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await go.wait();
        log.add(at("waiter on the event woke"));
      });
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Seconds(1));
        log.add(at("sleeper woke"));
      });
      co_await wait_all_tasks_blocked();
      log.add(at("all blocked"));
      go.set();
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("all blocked at 0", "waiter on the event woke at 0",
                                               "sleeper woke at 1s"));
}

// The cushion is quiet time on the loop's clock: it starts again whenever a task runs.
TEST(QuiescenceTest, TheCushionIsQuietTimeOnTheLoopsClock) {
  auto body = [](absl::Duration cushion) -> Task<absl::Duration> {
    absl::Duration woke;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([]() -> Task<> {
        co_await sleep(absl::Seconds(1));  // runs at 1s ...
        co_await sleep(absl::Seconds(1));  // ... and at 2s
      });
      co_await wait_all_tasks_blocked(cushion);
      woke = elapsed();
    });
    co_return woke;
  };
  EXPECT_EQ(run_virtual(body(absl::Milliseconds(500))), absl::Milliseconds(500));
  EXPECT_EQ(run_virtual(body(absl::Milliseconds(1500))), absl::Milliseconds(3500));
  EXPECT_EQ(run_virtual(body(absl::ZeroDuration())), absl::ZeroDuration());
}

TEST(QuiescenceTest, WaitersWakeOneAtATimeSmallestCushionFirst) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([]() -> Task<> { co_await sleep(absl::Seconds(10)); });
      pool.spawn([&]() -> Task<> {
        co_await wait_all_tasks_blocked(absl::Seconds(1));
        log.add(at("a (1s)"));
      });
      pool.spawn([&]() -> Task<> {
        co_await wait_all_tasks_blocked();
        log.add(at("b (0)"));
      });
      pool.spawn([&]() -> Task<> {
        co_await wait_all_tasks_blocked();
        log.add(at("c (0)"));
      });
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("b (0) at 0", "c (0) at 0", "a (1s) at 1s"));
}

TEST(QuiescenceTest, WaitAllTasksBlockedIsACancelPoint) {
  auto body = []() -> Task<absl::Duration> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([]() -> Task<> { co_await sleep(absl::Seconds(100)); });
      std::optional<bool> done = co_await skip_after(absl::Seconds(1), []() -> Task<bool> {
        co_await wait_all_tasks_blocked(absl::Seconds(10));
        co_return true;
      }());
      EXPECT_FALSE(done.has_value());
      pool.cancel();
    });
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Seconds(1));
}

TEST(QuiescenceTest, ABadCushionIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW(co_await wait_all_tasks_blocked(absl::Seconds(-1)), UsageError);
    EXPECT_THROW(co_await wait_all_tasks_blocked(absl::InfiniteDuration()), UsageError);
    co_return;
  };
  run_virtual(body());
}

TEST(ClockTest, AManualClockMovesOnlyWhenATestJumpsIt) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Seconds(10));
        log.add(at("sleeper woke"));
      });
      co_await wait_all_tasks_blocked();
      log.add(at("blocked"));
      jump_clock(absl::Seconds(4));
      log.add(at("jumped"));
      co_await wait_all_tasks_blocked();
      log.add(at("still blocked"));
      jump_clock(absl::Seconds(7));
      co_await wait_all_tasks_blocked();
      log.add(at("blocked again"));
    });
    co_return log.events();
  };
  EXPECT_THAT(run(body(), manual_clock()),
              ElementsAre("blocked at 0", "jumped at 4s", "still blocked at 4s",
                          "sleeper woke at 11s", "blocked again at 11s"));
}

TEST(ClockTest, TasksWaitingOnlyForTimersOnAManualClockAreADeadlock) {
  auto body = []() -> Task<> { co_await sleep(absl::Seconds(1)); };
  try {
    run(body(), manual_clock());
    FAIL() << "expected a deadlock";
  } catch (const DeadlockError& e) {
    EXPECT_THAT(e.what(), HasSubstr("moves only through giambio::jump_clock"));
    EXPECT_THAT(e.what(), HasSubstr("waits on sleep"));
  }
}

TEST(ClockTest, JumpingARealClockOrBackwardsIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW(jump_clock(absl::Seconds(-1)), UsageError);
    EXPECT_THROW(jump_clock(absl::InfiniteDuration()), UsageError);
    co_return;
  };
  run_virtual(body());
  RunOptions epoll;
  epoll.driver = DriverKind::kEpoll;
  try {
    run(
        []() -> Task<> {
          jump_clock(absl::Seconds(1));
          co_return;
        }(),
        std::move(epoll));
    FAIL() << "the epoll clock jumped";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the epoll driver's clock cannot be moved"));
  }
  VirtualClockOptions negative{.autojump_threshold = absl::Seconds(-1)};
  EXPECT_THROW(VirtualDriver{negative}, UsageError);
}

// Trio's autojump threshold: the clock jumps only after every task has been blocked that long
// in real time; wait_all_tasks_blocked() still wins, without that wait.
TEST(ClockTest, AnAutojumpThresholdWaitsInRealTimeAndQuiescenceWinsOverIt) {
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  options.virtual_clock.autojump_threshold = absl::Milliseconds(50);
  const absl::Time start = absl::Now();
  EXPECT_EQ(run(
                []() -> Task<absl::Duration> {
                  co_await sleep(absl::Hours(1));
                  co_return elapsed();
                }(),
                std::move(options)),
            absl::Hours(1));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));

  RunOptions slow;
  slow.driver = DriverKind::kVirtual;
  slow.virtual_clock.autojump_threshold = absl::Seconds(60);  // a jump would outlast the test
  const absl::Time slow_start = absl::Now();
  run(
      []() -> Task<> {
        co_await with_pool([](Pool& pool) -> Task<> {
          pool.spawn([]() -> Task<> { co_await sleep(absl::Hours(1)); });
          co_await wait_all_tasks_blocked();
          EXPECT_EQ(elapsed(), absl::ZeroDuration());
          pool.cancel();
        });
      }(),
      std::move(slow));
  EXPECT_LT(absl::Now() - slow_start, absl::Seconds(30));
}

}  // namespace
}  // namespace giambio

#include "giambio/lock.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/cancel_scope.h"
#include "giambio/condition.h"
#include "giambio/pool.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;

// giambio's lock example: workers take turns in a critical section, in arrival order.
TEST(LockTest, MutualExclusionInFifoOrder) {
  EventLog log;
  auto body = [&]() -> Task<> {
    Lock lock;
    int inside = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 4; ++i) {
        pool.spawn([&, i]() -> Task<> {
          LockGuard guard = co_await lock.guard();
          ++inside;
          EXPECT_EQ(inside, 1);
          log.add("w" + std::to_string(i) + "@" + absl::FormatDuration(elapsed()));
          co_await sleep(absl::Seconds(1));
          --inside;
        });
      }
      co_return;
    });
    EXPECT_FALSE(lock.locked());
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("w0@0", "w1@1s", "w2@2s", "w3@3s"));
}

// Fairness: a task that releases and immediately reacquires goes to the back of the queue.
TEST(LockTest, ReleaseHandsTheLockToTheLongestWaiter) {
  EventLog log;
  auto body = [&]() -> Task<> {
    Lock lock;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (std::string name : {"a", "b"}) {
        pool.spawn([&, name]() -> Task<> {
          for (int round = 0; round < 2; ++round) {
            co_await lock.acquire();
            log.add(name);
            co_await checkpoint();
            lock.release();
          }
        });
      }
      co_return;
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a", "b", "a", "b"));
}

// Trio: every await on the library is a schedule point, so a task that releases the lock and
// takes it again does not barge past the tasks waiting for it: three looping tasks take turns.
TEST(LockTest, TasksLoopingOnOneLockTakeTurns) {
  auto body = []() -> Task<std::string> {
    Lock lock;
    std::string order;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (char name : std::string("abc")) {
        pool.spawn([&, name]() -> Task<> {
          for (int round = 0; round < 4; ++round) {
            co_await lock.acquire();
            order += name;
            lock.release();
          }
        });
      }
      co_return;
    });
    co_return order;
  };
  EXPECT_EQ(run_virtual(body()), "abcabcabcabc");
}

// As in Trio, acquire is a cancel point before it takes the lock and a schedule point after:
// a cancellation that arrives during that schedule point does not take the lock back.
TEST(LockTest, ACancellationDuringTheSchedulePointAfterAcquiringKeepsTheLock) {
  auto body = []() -> Task<std::string> {
    Lock lock;
    std::string order;
    CancelScope scope;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await scope.run([&]() -> Task<> {
          co_await lock.acquire();  // free: taken, then the other task runs and cancels us
          order += lock.locked() ? "acquired " : "lost ";
          lock.release();
          co_await checkpoint();  // the cancellation shows here
          order += "never";
        }());
        order += scope.cancelled_caught() ? "caught" : "not caught";
      });
      pool.spawn([&]() -> Task<> {
        order += "cancel ";
        scope.cancel();
        co_return;
      });
      co_return;
    });
    co_return order;
  };
  EXPECT_EQ(run_virtual(body()), "cancel acquired caught");
}

TEST(LockTest, ReentrantAcquireIsAUsageError) {
  auto body = []() -> Task<> {
    Lock lock;
    co_await lock.acquire();
    EXPECT_THROW(co_await lock.acquire(), UsageError);
    lock.release();
  };
  run_virtual(body());
}

TEST(LockTest, ForeignOrUnheldReleaseIsAUsageError) {
  auto body = []() -> Task<> {
    Lock lock;
    EXPECT_THROW(lock.release(), UsageError);
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await lock.acquire();
      TaskHandle<void> other = pool.spawn([&]() -> Task<> {
        try {
          lock.release();
          ADD_FAILURE() << "released a lock it does not hold";
        } catch (const UsageError& e) {
          EXPECT_THAT(e.what(), ::testing::HasSubstr("does not hold this lock"));
        }
        co_return;
      });
      co_await other.join();
      lock.release();
    });
  };
  run_virtual(body());
}

TEST(LockTest, CancelledWaiterDoesNotTakeTheLock) {
  auto body = []() -> Task<> {
    Lock lock;
    co_await lock.acquire();
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(
          [&]() -> Task<> { co_await scope.run([&]() -> Task<> { co_await lock.acquire(); }()); });
      co_await sleep(absl::Seconds(2));
      EXPECT_EQ(lock.statistics().tasks_waiting, 0u);
      lock.release();
      EXPECT_FALSE(lock.locked());
    });
    EXPECT_TRUE(scope.cancelled_caught());
  };
  run_virtual(body());
}

// A waiter that was handed the lock keeps it even though a cancellation arrives before it
// runs: the lock is never lost, and the guard releases it.
TEST(LockTest, HandedOverLockSurvivesALateCancellation) {
  auto body = []() -> Task<> {
    Lock lock;
    co_await lock.acquire();
    bool held_when_cancelled = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<void> waiter = pool.spawn([&]() -> Task<> {
        LockGuard guard = co_await lock.guard();
        try {
          co_await checkpoint();
        } catch (const Cancelled&) {
          held_when_cancelled = lock.locked() && lock.owner() != 0;
          throw;
        }
      });
      co_await sleep(absl::Seconds(1));
      lock.release();   // hands the lock to the waiter, which is now ready
      waiter.cancel();  // ...and cancelled before it runs
      co_return;
    });
    EXPECT_TRUE(held_when_cancelled);
    EXPECT_FALSE(lock.locked());
  };
  run_virtual(body());
}

TEST(LockTest, TryAcquire) {
  auto body = []() -> Task<> {
    Lock lock;
    EXPECT_TRUE(lock.try_acquire());
    EXPECT_TRUE(lock.locked());
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        EXPECT_FALSE(lock.try_acquire());
        co_return;
      });
      co_return;
    });
    lock.release();
  };
  run_virtual(body());
}

// Trio: when the task holding a lock ends without releasing it, the lock is broken; its waiters
// are woken with BrokenResourceError naming that task (instead of waiting forever), and so is
// every later acquire.
TEST(LockTest, AHolderThatEndsWithoutReleasingBreaksTheLockForItsWaiters) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    Lock lock;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(
          [&]() -> Task<> {
            co_await lock.acquire();
            co_await sleep(absl::Seconds(1));
            log.add("holder ends at " + absl::FormatDuration(elapsed()));
          },
          "forgetful");
      for (int i = 0; i < 2; ++i) {
        pool.spawn([&, i]() -> Task<> {
          try {
            LockGuard guard = co_await lock.guard();
            ADD_FAILURE() << "waiter " << i << " got a broken lock";
          } catch (const BrokenResourceError& e) {
            log.add(absl::StrCat("waiter ", i, " at ", absl::FormatDuration(elapsed()), ": ",
                                 e.what()));
          }
        });
      }
      co_return;
    });
    EXPECT_TRUE(lock.broken());
    EXPECT_FALSE(lock.locked());
    try {
      co_await lock.acquire();
      ADD_FAILURE() << "acquired a broken lock";
    } catch (const BrokenResourceError& e) {
      log.add(absl::StrCat("later: ", e.what()));
    }
    EXPECT_THROW(lock.try_acquire(), BrokenResourceError);
    co_return log.events();
  };
  EXPECT_THAT(
      run_virtual(body()),
      ElementsAre("holder ends at 1s",
                  "waiter 0 at 1s: Lock::acquire: the lock is broken: its holder, task 2 "
                  "'forgetful', ended without releasing it",
                  "waiter 1 at 1s: Lock::acquire: the lock is broken: its holder, task 2 "
                  "'forgetful', ended without releasing it",
                  "later: Lock::acquire: the lock is broken: its holder, task 2 'forgetful', "
                  "ended without releasing it"));
}

// A lock released properly, by a guard or by hand, in a task that then ends, is not broken.
TEST(LockTest, AHolderThatReleasesBeforeEndingLeavesTheLockWhole) {
  auto body = []() -> Task<> {
    Lock lock;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await lock.acquire();
        co_await sleep(absl::Seconds(1));
        lock.release();
      });
      pool.spawn([&]() -> Task<> { LockGuard guard = co_await lock.guard(); });
      pool.spawn([&]() -> Task<> { LockGuard guard = co_await lock.guard(); });
      co_return;
    });
    EXPECT_FALSE(lock.broken());
    EXPECT_TRUE(lock.try_acquire());
    lock.release();
  };
  run_virtual(body());
}

TEST(LockTest, StatisticsShowTheOwnerAndTheWaiters) {
  auto body = []() -> Task<> {
    Lock lock;
    Condition changed(lock);
    EXPECT_FALSE(lock.statistics().locked);
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await lock.acquire();
      const uint64_t me = lock.owner();
      pool.spawn([&]() -> Task<> { LockGuard guard = co_await lock.guard(); });
      pool.spawn([&]() -> Task<> {
        LockGuard guard = co_await lock.guard();
        co_await changed.wait();
      });
      co_await wait_all_tasks_blocked();
      Lock::Statistics s = lock.statistics();
      EXPECT_TRUE(s.locked);
      EXPECT_EQ(s.owner, me);
      EXPECT_EQ(s.tasks_waiting, 2u);
      lock.release();
      co_await wait_all_tasks_blocked();  // the first ran; the second waits on the condition
      Condition::Statistics c = changed.statistics();
      EXPECT_EQ(c.tasks_waiting, 1u);
      EXPECT_FALSE(c.lock.locked);
      EXPECT_EQ(c.lock.tasks_waiting, 0u);
      changed.notify();
    });
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

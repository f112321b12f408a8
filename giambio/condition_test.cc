#include "giambio/condition.h"

#include <deque>
#include <string>

#include "giambio/cancel_scope.h"
#include "giambio/pool.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;

// A producer and two consumers sharing a queue guarded by a lock and a condition.
TEST(ConditionTest, ProducerConsumer) {
  EventLog log;
  auto body = [&]() -> Task<> {
    Lock lock;
    Condition not_empty(lock);
    std::deque<int> queue;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (std::string name : {"x", "y"}) {
        pool.spawn([&, name]() -> Task<> {
          for (int taken = 0; taken < 2; ++taken) {
            LockGuard guard = co_await lock.guard();
            while (queue.empty()) co_await not_empty.wait();
            log.add(name + std::to_string(queue.front()));
            queue.pop_front();
          }
        });
      }
      for (int i = 0; i < 4; ++i) {
        co_await sleep(absl::Seconds(1));
        LockGuard guard = co_await lock.guard();
        queue.push_back(i);
        not_empty.notify();
      }
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("x0", "y1", "x2", "y3"));
}

TEST(ConditionTest, WaitWithoutTheLockIsAUsageError) {
  auto body = []() -> Task<> {
    Lock lock;
    Condition condition(lock);
    EXPECT_THROW(co_await condition.wait(), UsageError);
  };
  run_virtual(body());
}

// Cancelled while waiting, wait() still reacquires the lock before the Cancelled comes out.
TEST(ConditionTest, CancelledWaitReacquiresTheLock) {
  auto body = []() -> Task<> {
    Lock lock;
    Condition condition(lock);
    bool held_during_unwind = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await lock.acquire();  // the parent holds the lock when the cancellation comes
      TaskHandle<void> waiter = pool.spawn([&]() -> Task<> {
        co_await lock.acquire();
        LockGuard held(lock);
        try {
          co_await condition.wait();
        } catch (const Cancelled&) {
          held_during_unwind = lock.owner() != 0;
          throw;
        }
      });
      lock.release();
      co_await sleep(absl::Seconds(1));
      co_await lock.acquire();
      waiter.cancel();  // the waiter must wait for the lock before it can unwind
      co_await sleep(absl::Seconds(1));
      EXPECT_FALSE(waiter.done());
      lock.release();
    });
    EXPECT_TRUE(held_during_unwind);
    EXPECT_FALSE(lock.locked());
  };
  run_virtual(body());
}

TEST(ConditionTest, NotifyAllWakesEveryWaiter) {
  auto body = []() -> Task<int> {
    Lock lock;
    Condition condition(lock);
    int woken = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 5; ++i) {
        pool.spawn([&]() -> Task<> {
          LockGuard guard = co_await lock.guard();
          co_await condition.wait();
          ++woken;
        });
      }
      co_await sleep(absl::Seconds(1));
      EXPECT_EQ(condition.notify_all(), 5u);
    });
    co_return woken;
  };
  EXPECT_EQ(run_virtual(body()), 5);
}

}  // namespace
}  // namespace giambio

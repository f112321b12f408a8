#include "giambio/semaphore.h"

#include <algorithm>
#include <string>

#include "giambio/cancel_scope.h"
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

TEST(SemaphoreTest, LimitsConcurrency) {
  auto body = []() -> Task<int> {
    Semaphore slots(2);
    int inside = 0;
    int most = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 6; ++i) {
        pool.spawn([&]() -> Task<> {
          co_await slots.acquire();
          most = std::max(most, ++inside);
          co_await sleep(absl::Seconds(1));
          --inside;
          slots.release();
        });
      }
      co_return;
    });
    EXPECT_EQ(elapsed(), absl::Seconds(3));
    EXPECT_EQ(slots.value(), 2u);
    co_return most;
  };
  EXPECT_EQ(run_virtual(body()), 2);
}

TEST(SemaphoreTest, PermitsGoToWaitersInFifoOrder) {
  EventLog log;
  auto body = [&]() -> Task<> {
    Semaphore sem(0);
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (std::string name : {"a", "b", "c"}) {
        pool.spawn([&, name]() -> Task<> {
          co_await sem.acquire();
          log.add(name);
        });
      }
      co_await sleep(absl::Seconds(1));
      sem.release();
      sem.release();
      sem.release();
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a", "b", "c"));
}

TEST(SemaphoreTest, BoundedReleaseBeyondTheMaximumIsAUsageError) {
  auto body = []() -> Task<> {
    Semaphore sem(1, 1);
    EXPECT_THROW(sem.release(), UsageError);
    EXPECT_TRUE(sem.try_acquire());
    EXPECT_FALSE(sem.try_acquire());
    sem.release();
    co_return;
  };
  run_virtual(body());
  EXPECT_THROW(Semaphore(3, 2), UsageError);
}

TEST(SemaphoreTest, CancelledWaiterTakesNoPermit) {
  auto body = []() -> Task<> {
    Semaphore sem(0);
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run([&]() -> Task<> { co_await sem.acquire(); }());
    EXPECT_EQ(sem.statistics().tasks_waiting, 0u);
    sem.release();
    EXPECT_EQ(sem.value(), 1u);
  };
  run_virtual(body());
}

TEST(SemaphoreTest, StatisticsShowValueAndWaiters) {
  auto body = []() -> Task<> {
    Semaphore sem(1, 3);
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await sem.acquire();
      pool.spawn([&]() -> Task<> { co_await sem.acquire(); });
      co_await wait_all_tasks_blocked();
      Semaphore::Statistics s = sem.statistics();
      EXPECT_EQ(s.value, 0u);
      EXPECT_EQ(s.max_value, 3u);
      EXPECT_EQ(s.tasks_waiting, 1u);
      sem.release();
    });
    EXPECT_EQ(sem.statistics().tasks_waiting, 0u);
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

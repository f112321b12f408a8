#include "giambio/capacity_limiter.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Five tasks, two tokens, one second of work each: they go through two at a time, in the order
// they arrived.
TEST(CapacityLimiterTest, LimitsConcurrencyInArrivalOrder) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CapacityLimiter limiter(2);
    int inside = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 5; ++i) {
        pool.spawn([&, i]() -> Task<> {
          co_await limiter.acquire();
          EXPECT_LE(++inside, 2);
          log.add(absl::StrCat("t", i, "@", absl::FormatDuration(elapsed())));
          co_await sleep(absl::Seconds(1));
          --inside;
          limiter.release();
        });
      }
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("t0@0", "t1@0", "t2@1s", "t3@1s", "t4@2s"));
}

TEST(CapacityLimiterTest, ABorrowerHoldsOneTokenAndReleasesOnlyItsOwn) {
  auto body = []() -> Task<> {
    CapacityLimiter limiter(3);
    co_await limiter.acquire();
    try {
      co_await limiter.acquire();
      ADD_FAILURE() << "borrowed twice";
    } catch (const UsageError& e) {
      EXPECT_THAT(e.what(), HasSubstr("task 1 'main' already holds a token of this limiter"));
    }
    int job = 0;
    EXPECT_THROW(limiter.release_on_behalf_of(&job), UsageError);
    EXPECT_TRUE(limiter.try_acquire_on_behalf_of(&job));
    EXPECT_THROW(limiter.try_acquire_on_behalf_of(&job), UsageError);
    EXPECT_EQ(limiter.borrowed_tokens(), 2u);
    EXPECT_EQ(limiter.available_tokens(), 1u);
    limiter.release_on_behalf_of(&job);
    limiter.release();
    EXPECT_THROW(limiter.release(), UsageError);
    EXPECT_THROW(CapacityLimiter(0), UsageError);
    EXPECT_THROW(limiter.set_total_tokens(0), UsageError);
    EXPECT_THROW(limiter.acquire_on_behalf_of(nullptr), UsageError);
  };
  run_virtual(body());
}

// A borrower other than a task: a job borrows on one task's behalf and is released by another.
TEST(CapacityLimiterTest, BorrowingOnBehalfOfAnObject) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CapacityLimiter limiter(1);
    int job_a = 0;
    int job_b = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await limiter.acquire_on_behalf_of(&job_a);
      pool.spawn([&]() -> Task<> {
        co_await limiter.acquire_on_behalf_of(&job_b);
        log.add("job b borrowed at " + absl::FormatDuration(elapsed()));
        limiter.release_on_behalf_of(&job_b);
      });
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Seconds(2));
        EXPECT_THAT(limiter.statistics().borrowers, ElementsAre(&job_a));
        limiter.release_on_behalf_of(&job_a);  // from another task than the one that borrowed
      });
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("job b borrowed at 2s"));
}

// Raising the total wakes as many waiters as it frees tokens for, in arrival order; lowering it
// takes nothing back.
TEST(CapacityLimiterTest, TheTotalIsAdjustableWhileInUse) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CapacityLimiter limiter(1);
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await limiter.acquire();
      for (int i = 0; i < 3; ++i) {
        pool.spawn([&, i]() -> Task<> {
          co_await limiter.acquire();
          log.add(absl::StrCat("w", i, "@", absl::FormatDuration(elapsed())));
          co_await sleep(absl::Seconds(10));
          limiter.release();
        });
      }
      co_await wait_all_tasks_blocked();
      CapacityLimiter::Statistics s = limiter.statistics();
      EXPECT_EQ(s.borrowed_tokens, 1u);
      EXPECT_EQ(s.total_tokens, 1u);
      EXPECT_EQ(s.tasks_waiting, 3u);
      co_await sleep(absl::Seconds(1));
      limiter.set_total_tokens(3);  // two more tokens: w0 and w1 go on
      EXPECT_FALSE(limiter.try_acquire_on_behalf_of(&log)) << "w2 is ahead";
      limiter.set_total_tokens(1);  // three borrowed: nothing is taken back
      EXPECT_EQ(limiter.borrowed_tokens(), 3u);
      EXPECT_EQ(limiter.available_tokens(), 0u);
      limiter.release();  // two borrowed now, over a total of one: w2 still waits
      co_return;
    });
    co_return log.events();
  };
  // w0, w1 release at 11s: the first release leaves 1 borrowed (w1) = total, so w2 waits for
  // the second.
  EXPECT_THAT(run_virtual(body()), ElementsAre("w0@1s", "w1@1s", "w2@11s"));
}

TEST(CapacityLimiterTest, ACancelledWaiterTakesNothing) {
  auto body = []() -> Task<> {
    CapacityLimiter limiter(1);
    co_await limiter.acquire();
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<void> waiter = pool.spawn([&]() -> Task<> { co_await limiter.acquire(); });
      co_await wait_all_tasks_blocked();
      waiter.cancel();
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(limiter.statistics().tasks_waiting, 0u);
      limiter.release();
      EXPECT_EQ(limiter.borrowed_tokens(), 0u);
    });
  };
  run_virtual(body());
}

TEST(CapacityLimiterTest, UnboundedNeverWaits) {
  auto body = []() -> Task<size_t> {
    CapacityLimiter limiter(CapacityLimiter::kUnbounded);
    std::vector<int> jobs(1000);
    for (int& job : jobs) co_await limiter.acquire_on_behalf_of(&job);
    co_return limiter.borrowed_tokens();
  };
  EXPECT_EQ(run_virtual(body()), 1000u);
}

}  // namespace
}  // namespace giambio

#include "giambio/event.h"

#include <string>

#include "giambio/cancel_scope.h"
#include "giambio/channel.h"
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

// giambio's events example: a child waits for an event its parent sets later.
// Trio: every await on the library is a schedule point, even one that completes at once. The
// mechanism is ParkingLot's (lock_test pins it for Lock); this pins it for a set event and for
// channel operations that find an item or a waiting receiver.
TEST(EventTest, WaitingOnASetEventStillLetsOthersRun) {
  auto body = []() -> Task<std::string> {
    Event event;
    event.set();
    auto [tx, rx] = open_memory_channel<int>(1);
    std::string order;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        order += "wait ";
        co_await event.wait();  // already set
        order += "send ";
        (void)co_await tx.send(1);  // room in the buffer
        order += "receive ";
        (void)co_await rx.receive();  // an item is there
        order += "done ";
      });
      pool.spawn([&]() -> Task<> {
        for (int i = 0; i < 3; ++i) {
          order += "other ";
          co_await checkpoint();
        }
      });
      co_return;
    });
    co_return order;
  };
  EXPECT_EQ(run_virtual(body()), "wait other send other receive other done ");
}

TEST(EventTest, SetWakesEveryWaiterInOrder) {
  EventLog log;
  auto body = [&]() -> Task<> {
    Event event;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (std::string name : {"a", "b", "c"}) {
        pool.spawn([&, name]() -> Task<> {
          co_await event.wait();
          log.add(name + "@" + absl::FormatDuration(elapsed()));
        });
      }
      co_await sleep(absl::Seconds(2));
      EXPECT_EQ(event.statistics().tasks_waiting, 3u);
      event.set();
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a@2s", "b@2s", "c@2s"));
}

TEST(EventTest, WaitReturnsAtOnceAfterSet) {
  auto body = []() -> Task<> {
    Event event;
    event.set();
    event.set();  // idempotent
    co_await event.wait();
    co_await event.wait();
    EXPECT_TRUE(event.is_set());
    EXPECT_EQ(elapsed(), absl::ZeroDuration());
  };
  run_virtual(body());
}

TEST(EventTest, WaitIsACancelPointEvenWhenSet) {
  auto body = []() -> Task<> {
    Event event;
    event.set();
    CancelScope scope;
    scope.cancel();
    bool passed = false;
    co_await scope.run([&]() -> Task<> {
      co_await event.wait();
      passed = true;
    }());
    EXPECT_FALSE(passed);
    EXPECT_TRUE(scope.cancelled_caught());
  };
  run_virtual(body());
}

TEST(EventTest, CancelledWaiterLeavesAndOthersStillWake) {
  auto body = []() -> Task<> {
    Event event;
    bool second_woke = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<void> first = pool.spawn([&]() -> Task<> { co_await event.wait(); });
      pool.spawn([&]() -> Task<> {
        co_await event.wait();
        second_woke = true;
      });
      co_await sleep(absl::Seconds(1));
      first.cancel();
      co_await sleep(absl::Seconds(1));
      EXPECT_EQ(event.statistics().tasks_waiting, 1u);
      event.set();
    });
    EXPECT_TRUE(second_woke);
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

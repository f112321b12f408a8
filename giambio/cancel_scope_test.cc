#include "giambio/cancel_scope.h"

#include <stdexcept>
#include <string>

#include "giambio/parking_lot.h"
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

Task<> sleep_for(absl::Duration d) { co_await sleep(d); }

TEST(CancelScopeTest, CancelBeforeEnteringCancelsTheFirstCheckpoint) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.cancel();
    bool after_checkpoint = false;
    co_await scope.run([&]() -> Task<> {
      co_await checkpoint();
      after_checkpoint = true;
    }());
    EXPECT_FALSE(after_checkpoint);
    EXPECT_TRUE(scope.cancel_called());
    EXPECT_TRUE(scope.cancelled_caught());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, CancelCalledTurnsTrueOnceTheDeadlinePassesEvenBeforeEntry) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.set_deadline(now() + absl::Seconds(1));
    EXPECT_FALSE(scope.cancel_called());
    co_await sleep(absl::Seconds(1));  // the deadline passes; the scope was never entered
    EXPECT_TRUE(scope.cancel_called());
    scope.set_deadline(now() + absl::Hours(1));  // moving it later does not undo the cancel
    EXPECT_TRUE(scope.cancel_called());
    bool ran_past_checkpoint = false;
    co_await scope.run([&]() -> Task<> {
      co_await checkpoint();
      ran_past_checkpoint = true;
    }());
    EXPECT_FALSE(ran_past_checkpoint);
    EXPECT_TRUE(scope.cancelled_caught());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, CancelCalledTurnsTrueAtTheDeadlineInsideAShieldedChild) {
  auto body = []() -> Task<> {
    CancelScope outer;
    outer.set_relative_deadline(absl::Seconds(1));
    std::optional<bool> seen_at_deadline;
    co_await outer.run([&]() -> Task<> {
      CancelScope shield;
      shield.set_shield(true);
      co_await shield.run([&]() -> Task<> {
        co_await sleep(absl::Seconds(1));  // exactly at the deadline, no cancel point since
        seen_at_deadline = outer.cancel_called();
        co_await sleep(absl::Seconds(1));
      }());
    }());
    EXPECT_EQ(seen_at_deadline, std::optional<bool>(true));
    EXPECT_TRUE(outer.cancel_called());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, UncancelledScopeReturnsTheValue) {
  auto body = []() -> Task<> {
    CancelScope scope;
    std::optional<int> v = co_await scope.run([]() -> Task<int> { co_return 5; }());
    EXPECT_EQ(v, 5);
    EXPECT_FALSE(scope.cancelled_caught());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, CancelledScopeReturnsNullopt) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    std::optional<int> v = co_await scope.run([]() -> Task<int> {
      co_await sleep(absl::Seconds(10));
      co_return 5;
    }());
    EXPECT_EQ(v, std::nullopt);
    EXPECT_EQ(elapsed(), absl::Seconds(1));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, DeadlineAlreadyInThePast) {
  auto body = []() -> Task<> {
    co_await sleep(absl::Seconds(5));
    CancelScope scope;
    scope.set_deadline(absl::UnixEpoch() + absl::Seconds(1));
    bool ran_to_end = false;
    co_await scope.run([&]() -> Task<> {
      co_await sleep(absl::Seconds(1));
      ran_to_end = true;
    }());
    EXPECT_FALSE(ran_to_end);
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(5));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, DeadlineCanBeMovedWhileInside) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run([&]() -> Task<> {
      scope.set_deadline(absl::UnixEpoch() + absl::Seconds(3));  // later
      co_await sleep(absl::Seconds(10));
    }());
    EXPECT_EQ(elapsed(), absl::Seconds(3));
    CancelScope second;
    second.set_relative_deadline(absl::Seconds(10));
    co_await second.run([&]() -> Task<> {
      co_await sleep(absl::Seconds(1));
      second.set_relative_deadline(absl::Seconds(1));  // earlier: now + 1s
      co_await sleep(absl::Seconds(10));
    }());
    EXPECT_TRUE(second.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(5));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, CancellationIsLevelTriggered) {
  auto body = []() -> Task<int> {
    CancelScope scope;
    int cancellations = 0;
    co_await scope.run([&]() -> Task<> {
      scope.cancel();
      for (int i = 0; i < 3; ++i) {
        try {
          co_await checkpoint();
        } catch (const Cancelled&) {
          ++cancellations;
        }
      }
    }());
    // The block swallowed every Cancelled itself, so the scope caught none.
    EXPECT_FALSE(scope.cancelled_caught());
    co_return cancellations;
  };
  EXPECT_EQ(run_virtual(body()), 3);
}

TEST(CancelScopeTest, OuterCancelledScopeWins) {
  auto body = []() -> Task<> {
    CancelScope outer;
    CancelScope inner;
    co_await outer.run([&]() -> Task<> {
      co_await inner.run([&]() -> Task<> {
        inner.cancel();
        outer.cancel();
        co_await checkpoint();
      }());
      ADD_FAILURE() << "the inner scope must let the outer cancellation pass";
    }());
    EXPECT_FALSE(inner.cancelled_caught());
    EXPECT_TRUE(outer.cancelled_caught());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, InnerScopeCatchesItsOwnCancellation) {
  auto body = []() -> Task<> {
    CancelScope outer;
    CancelScope inner;
    bool after_inner = false;
    co_await outer.run([&]() -> Task<> {
      co_await inner.run([&]() -> Task<> {
        inner.cancel();
        co_await sleep_forever();
      }());
      after_inner = true;
    }());
    EXPECT_TRUE(after_inner);
    EXPECT_TRUE(inner.cancelled_caught());
    EXPECT_FALSE(outer.cancel_called());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, ShieldBlocksOuterCancellation) {
  auto body = []() -> Task<> {
    CancelScope outer;
    outer.set_relative_deadline(absl::Seconds(1));
    bool shielded_done = false;
    co_await outer.run([&]() -> Task<> {
      CancelScope shielded;
      shielded.set_shield(true);
      co_await shielded.run([&]() -> Task<> {
        co_await sleep(absl::Seconds(5));  // the outer deadline passes meanwhile
        shielded_done = true;
      }());
      co_await checkpoint();  // unshielded again: cancelled here
      ADD_FAILURE() << "not cancelled after the shield";
    }());
    EXPECT_TRUE(shielded_done);
    EXPECT_TRUE(outer.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(5));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, ShieldToggledOffWhileBlockedDeliversTheCancellation) {
  auto body = []() -> Task<> {
    CancelScope outer;
    CancelScope shielded;
    shielded.set_shield(true);
    co_await with_pool([&](Pool& pool) -> Task<> {
      // The toggler runs outside `outer`, so the cancellation does not reach it.
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Seconds(1));
        outer.cancel();  // hidden from the sleeper by the shield
        co_await sleep(absl::Seconds(1));
        shielded.set_shield(false);  // now it arrives
      });
      co_await outer.run(shielded.run(sleep_for(absl::Hours(1))));
    });
    EXPECT_TRUE(outer.cancelled_caught());
    EXPECT_FALSE(shielded.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(2));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, ShieldedScopeCanStillBeCancelledItself) {
  auto body = []() -> Task<> {
    CancelScope shielded;
    shielded.set_shield(true);
    shielded.set_relative_deadline(absl::Seconds(2));
    co_await shielded.run(sleep_for(absl::Hours(1)));
    EXPECT_TRUE(shielded.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(2));
  };
  run_virtual(body());
}

TEST(CancelScopeTest, EnteringTwiceIsAUsageError) {
  auto body = []() -> Task<> {
    CancelScope scope;
    co_await scope.run(sleep_for(absl::Seconds(1)));
    EXPECT_THROW(co_await scope.run(sleep_for(absl::Seconds(1))), UsageError);
  };
  run_virtual(body());
}

TEST(CancelScopeTest, NegativeRelativeDeadlineIsAUsageError) {
  CancelScope scope;
  EXPECT_THROW(scope.set_relative_deadline(absl::Seconds(-1)), UsageError);
}

TEST(CancelScopeTest, OtherExceptionsPassThrough) {
  auto body = []() -> Task<> {
    CancelScope scope;
    co_await scope.run([]() -> Task<> {
      throw std::runtime_error("not a cancellation");
      co_return;
    }());
  };
  EXPECT_THROW(run_virtual(body()), std::runtime_error);
}

// An error raised while cleaning up after a cancellation replaces the Cancelled, as an
// exception thrown from a catch block would.
TEST(CancelScopeTest, ErrorDuringCleanupPropagates) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.cancel();
    co_await scope.run([]() -> Task<> {
      try {
        co_await checkpoint();
      } catch (const Cancelled&) {
        throw std::runtime_error("cleanup failed");
      }
    }());
  };
  EXPECT_THROW(run_virtual(body()), std::runtime_error);
}

TEST(CancelScopeTest, CancelledWaitLeavesTheParkingLot) {
  auto body = []() -> Task<> {
    ParkingLot lot;
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run([&]() -> Task<> { co_await lot.park(); }());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_TRUE(lot.empty());
    EXPECT_EQ(lot.unpark(), 0u);
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

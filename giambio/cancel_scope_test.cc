#include "giambio/cancel_scope.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

// ---- Cancel reasons (Trio 0.31): every Cancelled says why its scope was cancelled ----

// What a task sleeping forever inside the scope or pool catches, as "source: message".
std::string reason_of(const Cancelled& cancelled) {
  const CancelReason* reason = cancelled.reason();
  if (reason == nullptr) return "no reason";
  const char* source = reason->source == CancelReason::Source::kExplicit   ? "explicit"
                       : reason->source == CancelReason::Source::kDeadline ? "deadline"
                                                                           : "pool error";
  return absl::StrCat(source, ": ", reason->message);
}

Task<> sleep_and_log(EventLog& log) {
  try {
    co_await sleep_forever();
  } catch (const Cancelled& cancelled) {
    log.add(reason_of(cancelled));
    EXPECT_STREQ(cancelled.what(), cancelled.reason()->message.c_str());
    throw;
  }
}

TEST(CancelReasonTest, AnExplicitCancelNamesTheTaskAndTheReason) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CancelScope scope;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { co_await scope.run(sleep_and_log(log)); });
      pool.spawn(
          [&]() -> Task<> {
            co_await sleep(absl::Seconds(1));
            scope.cancel("shutting down");
            scope.cancel("a second reason is ignored");
          },
          "admin");
      co_return;
    });
    EXPECT_EQ(scope.cancel_reason()->message, "cancelled by task 3 'admin': shutting down");
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("explicit: cancelled by task 3 'admin': shutting down"));
}

TEST(CancelReasonTest, ADeadlineSaysSoAndAnEarlierCancelKeepsItsReason) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CancelScope by_deadline;
    by_deadline.set_relative_deadline(absl::Seconds(2));
    co_await by_deadline.run(sleep_and_log(log));
    CancelScope cancelled_first;
    cancelled_first.set_relative_deadline(absl::Seconds(2));
    cancelled_first.cancel();  // before entry, outside any other task: by main
    co_await cancelled_first.run(sleep_and_log(log));
    co_await sleep(absl::Seconds(5));
    EXPECT_EQ(cancelled_first.cancel_reason()->source, CancelReason::Source::kExplicit);
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("deadline: the deadline passed", "explicit: cancelled by task 1 'main'"));
}

TEST(CancelReasonTest, APoolCancelledByAFailingTaskNamesItAndItsError) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn([&]() -> Task<> { co_await sleep_and_log(log); });
        pool.spawn(
            []() -> Task<> {
              co_await sleep(absl::Seconds(1));
              throw std::runtime_error("disk full");
            },
            "writer");
        co_await sleep_and_log(log);  // the body too
      });
    } catch (const std::runtime_error& e) {
      log.add(e.what());
    }
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("pool error: task 3 'writer' failed: disk full",
                          "pool error: task 3 'writer' failed: disk full", "disk full"));
}

TEST(CancelReasonTest, ATaskCancelledThroughItsHandleHearsWhy) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<void> task = pool.spawn(sleep_and_log(log));
      co_await sleep(absl::Seconds(1));
      task.cancel("no longer needed");
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("explicit: cancelled by task 1 'main': no longer needed"));
}

// ---- The rest of Trio's cancel-scope reference ----

TEST(CancelScopeTest, CurrentEffectiveDeadlineIsTheEarliestUpToTheShield) {
  auto body = []() -> Task<> {
    EXPECT_EQ(current_effective_deadline(), absl::InfiniteFuture());
    CancelScope outer;
    outer.set_relative_deadline(absl::Seconds(5));
    EXPECT_TRUE(outer.is_relative());
    co_await outer.run([&]() -> Task<> {
      EXPECT_FALSE(outer.is_relative());
      CancelScope inner;
      inner.set_relative_deadline(absl::Seconds(3));
      co_await inner.run([&]() -> Task<> {
        EXPECT_EQ(current_effective_deadline(), absl::UnixEpoch() + absl::Seconds(3));
        CancelScope shielded;
        shielded.set_shield(true);
        shielded.set_relative_deadline(absl::Seconds(10));
        co_await shielded.run([&]() -> Task<> {
          EXPECT_EQ(current_effective_deadline(), absl::UnixEpoch() + absl::Seconds(10));
          co_return;
        }());
        inner.cancel();
        EXPECT_EQ(current_effective_deadline(), absl::InfinitePast());
      }());
    }());
  };
  run_virtual(body());
}

TEST(CancelScopeTest, CheckpointIfCancelledNeverYields) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        for (int i = 0; i < 3; ++i) {
          checkpoint_if_cancelled();
          log.add(absl::StrCat("a", i));
        }
        co_return;
      });
      pool.spawn([&]() -> Task<> {
        log.add("b");
        co_return;
      });
      co_return;
    });
    CancelScope scope;
    scope.cancel();
    co_await scope.run([&]() -> Task<> {
      checkpoint_if_cancelled();
      log.add("not reached");
      co_return;
    }());
    EXPECT_TRUE(scope.cancelled_caught());
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("a0", "a1", "a2", "b"));
}

}  // namespace
}  // namespace giambio

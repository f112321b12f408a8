#include "giambio/pool.h"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/event.h"
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
using ::testing::UnorderedElementsAre;

Task<int> value_after(int value, absl::Duration d) {
  co_await sleep(d);
  co_return value;
}

Task<> fail_after(std::string message, absl::Duration d) {
  co_await sleep(d);
  throw std::runtime_error(message);
}

std::string what(const std::exception_ptr& e) { return describe(e); }

TEST(PoolTest, BlockWaitsForEveryChild) {
  auto body = []() -> Task<absl::Duration> {
    co_await with_pool([](Pool& pool) -> Task<> {
      pool.spawn(value_after(1, absl::Seconds(1)));
      pool.spawn(value_after(2, absl::Seconds(3)));
      co_return;
    });
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Seconds(3));
}

TEST(PoolTest, ChildrenRunConcurrently) {
  auto body = []() -> Task<absl::Duration> {
    co_await with_pool([](Pool& pool) -> Task<> {
      for (int i = 0; i < 100; ++i) pool.spawn(value_after(i, absl::Seconds(2)));
      co_return;
    });
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Seconds(2));
}

TEST(PoolTest, BlockValueIsReturned) {
  auto body = []() -> Task<int> {
    co_return co_await with_pool([](Pool& pool) -> Task<int> {
      TaskHandle<int> a = pool.spawn(value_after(20, absl::Seconds(1)));
      TaskHandle<int> b = pool.spawn(value_after(22, absl::Seconds(2)));
      co_return co_await a.join() + co_await b.join();
    });
  };
  EXPECT_EQ(run_virtual(body()), 42);
}

TEST(PoolTest, HandleReportsDoneAndResult) {
  auto body = []() -> Task<> {
    TaskHandle<int> handle;
    co_await with_pool([&](Pool& pool) -> Task<> {
      handle = pool.spawn(value_after(7, absl::Seconds(1)), "seven");
      EXPECT_FALSE(handle.done());
      EXPECT_EQ(handle.name(), "seven");
      EXPECT_THROW(handle.result(), UsageError);
      co_return;
    });
    EXPECT_TRUE(handle.done());
    EXPECT_EQ(handle.result(), 7);
    EXPECT_EQ(handle.exception(), nullptr);
  };
  run_virtual(body());
}

TEST(PoolTest, OneFailingChildCancelsSiblingsAndBlockAndIsRethrownAlone) {
  auto body = []() -> Task<> {
    bool sibling_cancelled = false;
    bool block_cancelled = false;
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn(fail_after("child failed", absl::Seconds(1)));
        pool.spawn([&]() -> Task<> {
          try {
            co_await sleep(absl::Hours(1));
          } catch (const Cancelled&) {
            sibling_cancelled = true;
            throw;
          }
        });
        try {
          co_await sleep(absl::Hours(1));
        } catch (const Cancelled&) {
          block_cancelled = true;
          throw;
        }
      });
      ADD_FAILURE() << "the pool did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "child failed");
    }
    EXPECT_TRUE(sibling_cancelled);
    EXPECT_TRUE(block_cancelled);
    EXPECT_EQ(elapsed(), absl::Seconds(1));
  };
  run_virtual(body());
}

TEST(PoolTest, TwoChildrenFailingTogetherGiveAMultiErrorInOrder) {
  auto body = []() -> Task<> {
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn(fail_after("first", absl::Seconds(1)));
        pool.spawn(fail_after("second", absl::Seconds(1)));
        co_return;
      });
      ADD_FAILURE() << "the pool did not rethrow";
    } catch (const MultiError& e) {
      std::vector<std::string> messages;
      for (const auto& error : e.errors()) messages.push_back(what(error));
      EXPECT_THAT(messages, ElementsAre("first", "second"));
    }
  };
  run_virtual(body());
}

TEST(PoolTest, ErrorRaisedDuringCancellationCleanupIsNotLost) {
  auto body = []() -> Task<> {
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn(fail_after("original", absl::Seconds(1)));
        pool.spawn([]() -> Task<> {
          try {
            co_await sleep(absl::Hours(1));
          } catch (const Cancelled&) {
            throw std::logic_error("cleanup");
          }
        });
        co_return;
      });
    } catch (const MultiError& e) {
      std::vector<std::string> messages;
      for (const auto& error : e.errors()) messages.push_back(what(error));
      EXPECT_THAT(messages, ElementsAre("original", "cleanup"));
      co_return;
    }
    ADD_FAILURE() << "expected a MultiError";
  };
  run_virtual(body());
}

TEST(PoolTest, BlockErrorCancelsChildren) {
  auto body = []() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(value_after(1, absl::Hours(1)));
      co_await sleep(absl::Seconds(1));
      throw std::runtime_error("block failed");
    });
  };
  EXPECT_THROW(run_virtual(body()), std::runtime_error);
}

TEST(PoolTest, NestedPoolsPropagateErrorsOutward) {
  auto body = []() -> Task<std::string> {
    try {
      co_await with_pool([](Pool& outer) -> Task<> {
        outer.spawn(value_after(1, absl::Hours(1)));
        co_await with_pool([](Pool& inner) -> Task<> {
          inner.spawn(fail_after("deep", absl::Seconds(2)));
          co_return;
        });
      });
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) + "@" + absl::FormatDuration(elapsed());
    }
    co_return "no error";
  };
  EXPECT_EQ(run_virtual(body()), "deep@2s");
}

TEST(PoolTest, CancellingOneTaskLeavesTheOthers) {
  auto body = []() -> Task<> {
    co_await with_pool([](Pool& pool) -> Task<> {
      TaskHandle<int> slow = pool.spawn(value_after(1, absl::Hours(1)));
      TaskHandle<int> fast = pool.spawn(value_after(2, absl::Seconds(2)));
      co_await sleep(absl::Seconds(1));
      slow.cancel();
      EXPECT_THROW(co_await slow.join(), TaskCancelledError);
      EXPECT_TRUE(slow.cancelled());
      EXPECT_EQ(co_await fast.join(), 2);
      EXPECT_FALSE(fast.cancelled());
    });
    EXPECT_EQ(elapsed(), absl::Seconds(2));
  };
  run_virtual(body());
}

TEST(PoolTest, JoinRethrowsTheChildErrorWhichThePoolAlsoReports) {
  auto body = []() -> Task<> {
    bool join_threw = false;
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        TaskHandle<void> h = pool.spawn(fail_after("child", absl::Seconds(1)));
        try {
          co_await h.join();
        } catch (const std::runtime_error&) {
          join_threw = true;
        }
      });
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "child");
    }
    EXPECT_TRUE(join_threw);
  };
  run_virtual(body());
}

TEST(PoolTest, SpawnIntoAClosedPoolIsAUsageError) {
  auto body = []() -> Task<> {
    std::optional<Pool> kept;
    co_await with_pool([&](Pool& pool) -> Task<> {
      kept = pool;
      co_return;
    });
    EXPECT_TRUE(kept->closed());
    EXPECT_THROW(kept->spawn(value_after(1, absl::Seconds(1))), UsageError);
  };
  run_virtual(body());
}

TEST(PoolTest, ChildrenCanSpawnIntoTheirPoolWhileItWaits) {
  auto body = []() -> Task<absl::Duration> {
    co_await with_pool([](Pool& pool) -> Task<> {
      pool.spawn([&pool]() -> Task<> {
        co_await sleep(absl::Seconds(1));
        pool.spawn(value_after(3, absl::Seconds(2)));
      });
      co_return;
    });
    co_return elapsed();
  };
  EXPECT_EQ(run_virtual(body()), absl::Seconds(3));
}

TEST(PoolTest, OuterCancellationReachesChildrenAndIsCaughtOutside) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    int cancelled_children = 0;
    co_await scope.run(with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        pool.spawn([&]() -> Task<> {
          try {
            co_await sleep_forever();
          } catch (const Cancelled&) {
            ++cancelled_children;
            throw;
          }
        });
      }
      co_return;
    }));
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(cancelled_children, 3);
    EXPECT_EQ(elapsed(), absl::Seconds(1));
  };
  run_virtual(body());
}

TEST(PoolTest, PoolCancelEndsEverythingQuietly) {
  auto body = []() -> Task<> {
    co_await with_pool([](Pool& pool) -> Task<> {
      pool.spawn(value_after(1, absl::Hours(1)));
      co_await sleep(absl::Seconds(1));
      pool.cancel();
      co_await sleep_forever();
    });
    EXPECT_EQ(elapsed(), absl::Seconds(1));
  };
  run_virtual(body());
}

// ---- Pool::start ----

Task<> server(TaskStatus<int> status, EventLog& log) {
  co_await sleep(absl::Seconds(1));
  log.add("listening");
  status.started(8080);
  co_await sleep(absl::Seconds(5));
  log.add("served");
}

TEST(PoolStartTest, ReturnsTheStartedValueWhileTheTaskGoesOn) {
  EventLog log;
  auto body = [&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      int port = co_await pool.start<int>([&](TaskStatus<int> s) { return server(s, log); });
      log.add("port " + std::to_string(port) + " at " + absl::FormatDuration(elapsed()));
    });
    log.add("pool done at " + absl::FormatDuration(elapsed()));
  };
  run_virtual(body());
  EXPECT_THAT(log.events(),
              ElementsAre("listening", "port 8080 at 1s", "served", "pool done at 6s"));
}

TEST(PoolStartTest, ErrorBeforeStartedPropagatesFromStart) {
  auto body = []() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      try {
        co_await pool.start([](TaskStatus<void>) -> Task<> {
          co_await sleep(absl::Seconds(1));
          throw std::runtime_error("failed to bind");
        });
        ADD_FAILURE() << "start() returned";
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "failed to bind");
      }
    });
  };
  run_virtual(body());
}

TEST(PoolStartTest, EndingWithoutStartedIsAUsageError) {
  auto body = []() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      EXPECT_THROW(co_await pool.start([](TaskStatus<void>) -> Task<> { co_return; }), UsageError);
    });
  };
  run_virtual(body());
}

TEST(PoolStartTest, StartedTwiceIsAUsageError) {
  auto body = []() -> Task<> {
    bool second_threw = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await pool.start([&](TaskStatus<void> status) -> Task<> {
        status.started();
        try {
          status.started();
        } catch (const UsageError&) {
          second_threw = true;
        }
        co_return;
      });
    });
    EXPECT_TRUE(second_threw);
  };
  run_virtual(body());
}

TEST(PoolStartTest, ErrorAfterStartedGoesToThePool) {
  auto body = []() -> Task<> {
    try {
      co_await with_pool([&](Pool& pool) -> Task<> {
        co_await pool.start([](TaskStatus<void> status) -> Task<> {
          status.started();
          co_await sleep(absl::Seconds(1));
          throw std::runtime_error("after start");
        });
        co_await sleep_forever();
      });
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "after start");
      co_return;
    }
    ADD_FAILURE() << "the pool did not report the error";
  };
  run_virtual(body());
}

TEST(PoolStartTest, StartedTaskIsCancelledWithItsNewPool) {
  auto body = []() -> Task<> {
    bool cancelled = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      co_await pool.start([&](TaskStatus<void> status) -> Task<> {
        status.started();
        try {
          co_await sleep_forever();
        } catch (const Cancelled&) {
          cancelled = true;
          throw;
        }
      });
      co_await sleep(absl::Seconds(1));
      pool.cancel();
    });
    EXPECT_TRUE(cancelled);
  };
  run_virtual(body());
}

// Trio: a nursery stays open while a start() into it waits for started(), even once its block
// and every other child have ended; the started task then runs in it to the end.
TEST(PoolStartTest, APendingStartKeepsTheTargetPoolOpen) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    std::optional<Pool> target;
    Event ready;
    co_await with_pool([&](Pool& outer) -> Task<> {
      outer.spawn([&]() -> Task<> {
        co_await with_pool([&](Pool& pool) -> Task<> {
          target = pool;
          ready.set();
          co_await sleep(absl::Seconds(1));
        });
        log.add(absl::StrCat("target closed at ", absl::FormatDuration(elapsed())));
      });
      outer.spawn([&]() -> Task<> {
        co_await ready.wait();
        co_await target->start([&](TaskStatus<void> status) -> Task<> {
          co_await sleep(absl::Seconds(2));
          status.started();
          co_await sleep(absl::Seconds(1));
          log.add(absl::StrCat("started task ended at ", absl::FormatDuration(elapsed())));
        });
        log.add(absl::StrCat("start returned at ", absl::FormatDuration(elapsed())));
      });
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("start returned at 2s", "started task ended at 3s",
                                               "target closed at 3s"));
}

// A start() whose task fails before started() raises in the starter; the target pool waits for
// that outcome, and the error is not the target pool's.
TEST(PoolStartTest, AStartThatFailsBeforeStartedRaisesInTheStarterWhileTheTargetWaits) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    std::optional<Pool> target;
    Event ready;
    co_await with_pool([&](Pool& outer) -> Task<> {
      outer.spawn([&]() -> Task<> {
        co_await with_pool([&](Pool& pool) -> Task<> {
          target = pool;
          ready.set();
          co_await sleep(absl::Seconds(1));
        });
        log.add(absl::StrCat("target closed at ", absl::FormatDuration(elapsed())));
      });
      outer.spawn([&]() -> Task<> {
        co_await ready.wait();
        try {
          co_await target->start([&](TaskStatus<void>) -> Task<> {
            co_await sleep(absl::Seconds(2));
            throw std::runtime_error("not ready");
          });
        } catch (const std::runtime_error& e) {
          log.add(
              absl::StrCat("starter caught '", e.what(), "' at ", absl::FormatDuration(elapsed())));
        }
      });
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("starter caught 'not ready' at 2s", "target closed at 2s"));
}

// Trio: opening and closing an empty pool (or one whose children never reach a cancel point) in
// a cancelled scope does not raise, and is still a schedule point.
TEST(PoolTest, ClosingAPoolInACancelledScopeIsASchedulePointThatDoesNotRaise) {
  auto body = []() -> Task<std::vector<std::string>> {
    std::vector<std::string> order;
    co_await with_pool([&](Pool& outer) -> Task<> {
      outer.spawn([&]() -> Task<> {
        CancelScope scope;
        scope.cancel();
        co_await scope.run([&]() -> Task<> {
          order.push_back("open empty");
          co_await with_pool([](Pool&) -> Task<> { co_return; });
          order.push_back("closed empty");
          co_await with_pool([&](Pool& pool) -> Task<> {
            pool.spawn([&]() -> Task<> {  // never reaches a cancel point
              order.push_back("child ran");
              co_return;
            });
            co_return;
          });
          order.push_back("closed with a child");
        }());
        EXPECT_FALSE(scope.cancelled_caught()) << "no cancel point raised";
      });
      outer.spawn([&]() -> Task<> {
        for (int i = 0; i < 3; ++i) {
          order.push_back("other");
          co_await checkpoint();
        }
      });
      co_return;
    });
    co_return order;
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("open empty", "other", "closed empty", "other",
                                               "child ran", "other", "closed with a child"));
}

// Trio's TASK_STATUS_IGNORED: a task written for start() can also be spawned.
TEST(PoolStartTest, AnIgnoredStatusLetsAStartableTaskBeSpawned) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    auto server = [&](TaskStatus<int> status) -> Task<> {
      status.started(8080);
      log.add("serving");
      co_return;
    };
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { co_await server(TaskStatus<int>::ignored()); });
      co_return;
    });
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("serving"));
}

}  // namespace
}  // namespace giambio

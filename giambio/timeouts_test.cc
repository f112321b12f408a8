#include "giambio/timeouts.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
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

Task<int> value_after(int value, absl::Duration d) {
  co_await sleep(d);
  co_return value;
}

Task<> sleep_for(absl::Duration d) { co_await sleep(d); }

Task<> child(std::string name, absl::Duration d, EventLog& log) {
  log.add(name + " started");
  co_await sleep(d);
  log.add(name + " done");
}

// giambio's timeout example: a pool whose children outlive the timeout.
TEST(WithTimeoutTest, TimesOutThePoolAndItsChildren) {
  EventLog log;
  auto body = [&]() -> Task<> {
    absl::Status status =
        co_await with_timeout(absl::Seconds(10), with_pool([&](Pool& pool) -> Task<> {
                                pool.spawn(child("short", absl::Seconds(2), log));
                                pool.spawn(child("long", absl::Seconds(15), log));
                                co_return;
                              }));
    EXPECT_TRUE(absl::IsDeadlineExceeded(status)) << status;
    EXPECT_THAT(status.message(), HasSubstr("with_timeout(10s)"));
    EXPECT_EQ(elapsed(), absl::Seconds(10));
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("short started", "long started", "short done"));
}

// giambio's second timeout example: everything finishes in time.
TEST(WithTimeoutTest, FinishingInTimeReturnsTheValue) {
  auto body = []() -> Task<> {
    absl::StatusOr<int> v =
        co_await with_timeout(absl::Seconds(10), value_after(7, absl::Seconds(3)));
    EXPECT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v.value_or(0), 7);
    // The scope is gone: sleeping past the old deadline is fine.
    co_await sleep(absl::Seconds(20));
  };
  run_virtual(body());
}

// giambio's third timeout example: the timeout covers code awaited inline in the block too.
TEST(WithTimeoutTest, CoversCodeAwaitedInline) {
  auto body = []() -> Task<> {
    absl::Status status =
        co_await with_timeout(absl::Seconds(1), with_pool([](Pool& pool) -> Task<> {
                                pool.spawn(value_after(1, absl::Milliseconds(10)));
                                co_await sleep(absl::Seconds(5));  // inline in the block
                              }));
    EXPECT_TRUE(absl::IsDeadlineExceeded(status));
    EXPECT_EQ(elapsed(), absl::Seconds(1));
  };
  run_virtual(body());
}

TEST(WithTimeoutTest, FlattensStatusResults) {
  auto failing = []() -> Task<absl::StatusOr<int>> {
    co_return absl::NotFoundError("no such key");
  };
  auto body = [&]() -> Task<> {
    absl::StatusOr<int> v = co_await with_timeout(absl::Seconds(1), failing());
    EXPECT_TRUE(absl::IsNotFound(v.status()));
    absl::Status s = co_await with_timeout(absl::Seconds(1), []() -> Task<absl::Status> {
      co_await sleep(absl::Seconds(2));
      co_return absl::OkStatus();
    }());
    EXPECT_TRUE(absl::IsDeadlineExceeded(s));
  };
  run_virtual(body());
}

TEST(WithTimeoutTest, OuterCancellationPassesThrough) {
  auto body = []() -> Task<> {
    CancelScope outer;
    outer.set_relative_deadline(absl::Seconds(1));
    co_await outer.run([]() -> Task<> {
      (void)co_await with_timeout(absl::Seconds(5), value_after(1, absl::Seconds(10)));
      ADD_FAILURE() << "with_timeout swallowed the outer cancellation";
    }());
    EXPECT_TRUE(outer.cancelled_caught());
  };
  run_virtual(body());
}

TEST(WithTimeoutTest, NegativeTimeoutIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW((void)co_await with_timeout(absl::Seconds(-1), value_after(1, absl::Seconds(1))),
                 UsageError);
  };
  run_virtual(body());
}

TEST(SkipAfterTest, SkipsSilently) {
  auto body = []() -> Task<> {
    std::optional<int> v = co_await skip_after(absl::Seconds(1), value_after(1, absl::Seconds(2)));
    EXPECT_EQ(v, std::nullopt);
    bool completed = co_await skip_after(absl::Seconds(5), with_pool([](Pool& pool) -> Task<> {
                                           pool.spawn(value_after(1, absl::Seconds(10)));
                                           co_return;
                                         }));
    EXPECT_FALSE(completed);
    EXPECT_EQ(elapsed(), absl::Seconds(6));
  };
  run_virtual(body());
}

TEST(SkipAfterTest, ReturnsTheValueInTime) {
  auto body = []() -> Task<> {
    std::optional<int> v = co_await skip_after(absl::Seconds(3), value_after(4, absl::Seconds(2)));
    EXPECT_EQ(v, 4);
    EXPECT_TRUE(co_await skip_after(absl::Seconds(3), []() -> Task<> { co_return; }()));
  };
  run_virtual(body());
}

TEST(SkipAfterTest, ZeroTimeoutSkipsAtTheFirstCancelPoint) {
  auto body = []() -> Task<> {
    std::optional<int> v =
        co_await skip_after(absl::ZeroDuration(), value_after(4, absl::Seconds(1)));
    EXPECT_EQ(v, std::nullopt);
    EXPECT_EQ(elapsed(), absl::ZeroDuration());
  };
  run_virtual(body());
}

// ---- The scope of a timeout, reached by the caller (Trio's `with fail_after(d) as scope`) ----

TEST(TimeoutScopeTest, TheCallersScopeSaysWhetherTheTimeoutFiredAndCanBeMoved) {
  auto body = []() -> Task<> {
    CancelScope fired;
    absl::Status s = co_await with_timeout(absl::Seconds(1), sleep_for(absl::Seconds(5)), fired);
    EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
    EXPECT_TRUE(fired.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(1));

    CancelScope extended;
    EXPECT_EQ(extended.relative_deadline(), absl::InfiniteDuration());
    s = co_await with_timeout(
        absl::Seconds(1),
        [&]() -> Task<> {
          EXPECT_EQ(extended.relative_deadline(), absl::Seconds(1));
          extended.set_deadline(extended.deadline() + absl::Seconds(3));  // more time
          co_await sleep(absl::Seconds(2));
          EXPECT_EQ(extended.relative_deadline(), absl::Seconds(2));
        }(),
        extended);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_FALSE(extended.cancelled_caught());
    EXPECT_EQ(elapsed(), absl::Seconds(3));
  };
  run_virtual(body());
}

TEST(TimeoutScopeTest, TheRelativeDeadlineIsReadableBeforeEntry) {
  auto body = []() -> Task<> {
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(4));
    EXPECT_EQ(scope.relative_deadline(), absl::Seconds(4));
    co_await sleep(absl::Seconds(1));
    EXPECT_EQ(scope.relative_deadline(), absl::Seconds(4)) << "counted from entry";
    co_await scope.run([&]() -> Task<> {
      co_await sleep(absl::Seconds(1));
      EXPECT_EQ(scope.relative_deadline(), absl::Seconds(3));
    }());
    CancelScope absolute;
    absolute.set_deadline(giambio::now() + absl::Seconds(7));
    EXPECT_EQ(absolute.relative_deadline(), absl::Seconds(7));
  };
  run_virtual(body());
}

// A shielded timeout: the outer cancellation waits until the body is done, and the timeout still
// works inside.
TEST(TimeoutScopeTest, AShieldedTimeoutKeepsOuterCancellationsOut) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    CancelScope outer;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await outer.run([&]() -> Task<> {
          CancelScope flush;
          flush.set_shield(true);
          absl::Status s =
              co_await with_timeout(absl::Seconds(3), sleep_for(absl::Seconds(2)), flush);
          log.add(absl::StrCat("flush: ", s.ok() ? "done" : s.ToString(), " at ",
                               absl::FormatDuration(elapsed())));
          co_await checkpoint();  // the outer cancellation arrives here
          log.add("not reached");
        }());
        log.add(absl::StrCat("outer caught: ", outer.cancelled_caught()));
      });
      co_await sleep(absl::Seconds(1));
      outer.cancel("shutdown");
    });
    CancelScope short_flush;
    short_flush.set_shield(true);
    absl::Status s =
        co_await with_timeout(absl::Seconds(1), sleep_for(absl::Seconds(2)), short_flush);
    log.add(s.ToString());
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()),
              ElementsAre("flush: done at 2s", "outer caught: 1",
                          "DEADLINE_EXCEEDED: with_timeout(1s): the deadline passed before the "
                          "body ended"));
}

// Cancelled by hand rather than by its deadline: with_timeout says so, with the reason.
TEST(TimeoutScopeTest, AScopeCancelledByHandIsCancelledNotDeadlineExceeded) {
  auto body = []() -> Task<absl::Status> {
    CancelScope scope;
    absl::Status status;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        status = co_await with_timeout(absl::Seconds(10), sleep_for(absl::Seconds(20)), scope);
      });
      co_await sleep(absl::Seconds(1));
      scope.cancel("the user pressed stop");
    });
    EXPECT_TRUE(scope.cancelled_caught());
    co_return status;
  };
  absl::Status status = run_virtual(body());
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
  EXPECT_EQ(status.message(),
            "with_timeout(10s): cancelled by task 1 'main': the user pressed stop");
}

TEST(TimeoutScopeTest, SkipAfterInTheCallersScope) {
  auto body = []() -> Task<> {
    CancelScope scope;
    std::optional<int> v =
        co_await skip_after(absl::Seconds(1), value_after(7, absl::Seconds(2)), scope);
    EXPECT_FALSE(v.has_value());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_EQ(scope.cancel_reason()->source, CancelReason::Source::kDeadline);
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

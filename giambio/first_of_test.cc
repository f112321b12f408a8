#include "giambio/first_of.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/cancel_scope.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An attempt that answers `reply` after `d`, or fails with `error` (a status) if it is not empty.
Task<absl::StatusOr<std::string>> attempt(std::string name, absl::Duration d, std::string reply,
                                          EventLog& log) {
  try {
    co_await sleep(d);
  } catch (const Cancelled& cancelled) {
    log.add(absl::StrCat(name, " cancelled at ", absl::FormatDuration(elapsed()), ": ",
                         cancelled.what()));
    throw;
  }
  if (reply.empty()) co_return absl::UnavailableError(absl::StrCat(name, " is down"));
  co_return reply;
}

Task<absl::StatusOr<std::string>> throws_after(absl::Duration d) {
  co_await sleep(d);
  throw std::runtime_error("a bug in replica a");
}

// The hedged request: failures (an exception, a status) do not end the race; the first success
// wins at its exact time, the slower attempt is cancelled, and every failure is kept.
TEST(FirstOfTest, TheFirstSuccessWinsAndEveryFailureIsKept) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    std::vector<Task<absl::StatusOr<std::string>>> attempts;
    attempts.push_back(throws_after(absl::Seconds(1)));
    attempts.push_back(attempt("b", absl::Seconds(2), "", log));
    attempts.push_back(attempt("c", absl::Seconds(3), "reply from c", log));
    attempts.push_back(attempt("d", absl::Seconds(5), "reply from d", log));
    First<absl::StatusOr<std::string>> first = co_await first_of(std::move(attempts));
    log.add(absl::StrCat("returned at ", absl::FormatDuration(elapsed())));
    EXPECT_EQ(first.winner, 2u);
    EXPECT_EQ(**first.value, "reply from c");
    EXPECT_TRUE(first.status().ok());
    for (const Failure& failure : first.failures) log.add(failure.describe());
    co_return log.events();
  };
  EXPECT_THAT(
      run_virtual(body()),
      ElementsAre("d cancelled at 3s: cancelled by task 4 'first_of[2]': first_of: task 2 won",
                  "returned at 3s", "task 0: a bug in replica a",
                  "task 1: UNAVAILABLE: b is down"));
}

TEST(FirstOfTest, WhenEveryTaskFailsThereIsNoWinnerAndTheStatusNamesThemAll) {
  auto body = []() -> Task<> {
    EventLog log;
    std::vector<Task<absl::StatusOr<std::string>>> attempts;
    attempts.push_back(attempt("a", absl::Seconds(2), "", log));
    attempts.push_back(attempt("b", absl::Seconds(1), "", log));
    First<absl::StatusOr<std::string>> first = co_await first_of(std::move(attempts));
    EXPECT_EQ(elapsed(), absl::Seconds(2));
    EXPECT_FALSE(first.winner.has_value());
    EXPECT_FALSE(first.value.has_value());
    EXPECT_TRUE(absl::IsUnavailable(first.status()));
    EXPECT_EQ(first.status().message(),
              "first_of: all 2 tasks failed; task 1: UNAVAILABLE: b is down; task 0: UNAVAILABLE: "
              "a is down");
  };
  run_virtual(body());
}

TEST(FirstOfTest, PlainValuesAndVoidTasks) {
  auto body = []() -> Task<> {
    std::vector<Task<int>> numbers;
    numbers.push_back([]() -> Task<int> {
      co_await sleep(absl::Seconds(2));
      co_return 2;
    }());
    numbers.push_back([]() -> Task<int> {
      co_await sleep(absl::Seconds(1));
      co_return 1;
    }());
    First<int> n = co_await first_of(std::move(numbers));
    EXPECT_EQ(n.winner, 1u);
    EXPECT_EQ(*n.value, 1);

    std::vector<Task<>> chores;
    chores.push_back([]() -> Task<> { co_await sleep(absl::Seconds(4)); }());
    chores.push_back([]() -> Task<> { co_await sleep(absl::Seconds(3)); }());
    First<void> done = co_await first_of(std::move(chores));
    EXPECT_EQ(done.winner, 1u);
    EXPECT_EQ(elapsed(), absl::Seconds(4));
  };
  run_virtual(body());
}

TEST(FirstOfTest, AnOuterCancellationReachesEveryTaskAndPropagates) {
  auto body = []() -> Task<std::vector<std::string>> {
    EventLog log;
    std::vector<Task<absl::StatusOr<std::string>>> attempts;
    attempts.push_back(attempt("a", absl::Seconds(5), "a", log));
    attempts.push_back(attempt("b", absl::Seconds(6), "b", log));
    std::optional<First<absl::StatusOr<std::string>>> first =
        co_await skip_after(absl::Seconds(1), first_of(std::move(attempts)));
    EXPECT_FALSE(first.has_value());
    co_return log.events();
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre("a cancelled at 1s: the deadline passed",
                                               "b cancelled at 1s: the deadline passed"));
}

TEST(FirstOfTest, NoTasksIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW(co_await first_of(std::vector<Task<int>>{}), UsageError);
    co_return;
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

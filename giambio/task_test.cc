#include "giambio/task.h"

#include <memory>
#include <stdexcept>
#include <string>

#include "giambio/run.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

RunOptions virtual_time() { return RunOptions{.driver = DriverKind::kVirtual}; }

Task<int> answer() { co_return 42; }

Task<int> add_one(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await add_one(depth - 1);
}

Task<> fail(std::string message) {
  throw std::runtime_error(message);
  co_return;
}

TEST(TaskTest, AwaitReturnsTheValue) { EXPECT_EQ(run(answer(), virtual_time()), 42); }

TEST(TaskTest, IsLazy) {
  bool ran = false;
  auto body = [&]() -> Task<> {
    ran = true;
    co_return;
  };
  Task<> task = body();
  EXPECT_FALSE(ran);
  run(std::move(task), virtual_time());
  EXPECT_TRUE(ran);
}

TEST(TaskTest, AwaitRethrowsTheException) {
  auto body = []() -> Task<std::string> {
    try {
      co_await fail("boom");
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "not thrown";
  };
  EXPECT_EQ(run(body(), virtual_time()), "boom");
}

TEST(TaskTest, RunRethrowsTheMainTaskException) {
  EXPECT_THROW(run(fail("main failed"), virtual_time()), std::runtime_error);
}

TEST(TaskTest, MoveOnlyValues) {
  auto body = []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  auto outer = [&]() -> Task<int> { co_return *co_await body(); };
  EXPECT_EQ(run(outer(), virtual_time()), 7);
}

// Symmetric transfer: a chain far deeper than the stack could hold as nested calls.
TEST(TaskTest, DeepAwaitChainsDoNotGrowTheStack) {
  EXPECT_EQ(run(add_one(1'000'000), virtual_time()), 1'000'000);
}

TEST(TaskTest, AwaitingTwiceIsAUsageError) {
  auto body = []() -> Task<> {
    Task<int> task = answer();
    EXPECT_EQ(co_await std::move(task), 42);
    EXPECT_FALSE(task.valid());
    EXPECT_THROW(co_await std::move(task), UsageError);
  };
  run(body(), virtual_time());
}

TEST(TaskTest, AwaitingAnEmptyTaskIsAUsageError) {
  auto body = []() -> Task<> {
    Task<int> empty;
    EXPECT_THROW(co_await std::move(empty), UsageError);
  };
  run(body(), virtual_time());
}

TEST(TaskTest, UnawaitedTasksAreDestroyedWithoutRunning) {
  bool ran = false;
  auto body = [&]() -> Task<> {
    ran = true;
    co_return;
  };
  { Task<> dropped = body(); }
  EXPECT_FALSE(ran);
}

TEST(TaskTest, RunInsideALoopIsAUsageError) {
  auto body = []() -> Task<> {
    EXPECT_THROW(run(answer()), UsageError);
    co_return;
  };
  run(body(), virtual_time());
}

}  // namespace
}  // namespace giambio

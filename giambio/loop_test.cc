#include "giambio/loop.h"

#include <stdlib.h>

#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/cancel_scope.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

// Records every hook as a line.
class Recorder : public Instrument {
 public:
  std::vector<std::string> lines;
  void on_run_start() override { lines.push_back("run start"); }
  void on_run_end() override { lines.push_back("run end"); }
  void on_task_spawned(const TaskInfo& t) override { add("spawned", t); }
  void on_task_scheduled(const TaskInfo& t) override { add("scheduled", t); }
  void before_task_step(const TaskInfo& t) override { add("step", t); }
  void after_task_step(const TaskInfo& t) override { add("stepped", t); }
  void on_task_exited(const TaskInfo& t) override { add("exited", t); }
  void before_sleep(const TaskInfo& t, absl::Duration d) override {
    add("sleep " + absl::FormatDuration(d), t);
  }
  void after_sleep(const TaskInfo& t, absl::Duration) override { add("slept", t); }
  void before_io_wait(absl::Duration d) override {
    lines.push_back("io wait " + absl::FormatDuration(d));
  }
  void after_io_wait(absl::Duration) override { lines.push_back("io done"); }
  void before_cancel(const TaskInfo& t) override { add("cancel", t); }
  void after_cancel(const TaskInfo& t) override { add("cancelled", t); }
  void on_exception_raised(const TaskInfo& t, const std::exception_ptr&) override {
    add("raised", t);
  }

 private:
  void add(const std::string& what, const TaskInfo& t) {
    lines.push_back(absl::StrCat(what, " ", t.id, ":", std::string(t.name)));
  }
};

RunOptions virtual_with(Instrument* instrument) {
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  options.instruments.push_back(instrument);
  return options;
}

// giambio's debugger example: every hook fires, in order, for a small program.
TEST(InstrumentTest, HooksFollowTheProgram) {
  Recorder recorder;
  auto body = []() -> Task<> {
    co_await with_pool([](Pool& pool) -> Task<> {
      pool.spawn([]() -> Task<> { co_await sleep(absl::Seconds(1)); }, "sleeper");
      pool.spawn(
          []() -> Task<> {
            co_await sleep(absl::Seconds(2));
            throw std::runtime_error("x");
          },
          "failer");
      pool.spawn([]() -> Task<> { co_await sleep_forever(); }, "victim");
      co_return;
    });
  };
  EXPECT_THROW(run(body(), virtual_with(&recorder)), std::runtime_error);
  EXPECT_EQ(recorder.lines.front(), "run start");
  EXPECT_EQ(recorder.lines.back(), "run end");
  EXPECT_THAT(
      recorder.lines,
      IsSupersetOf({"spawned 1:main", "spawned 2:sleeper", "spawned 3:failer", "spawned 4:victim",
                    "scheduled 2:sleeper", "step 2:sleeper", "sleep 1s 2:sleeper",
                    "stepped 2:sleeper", "io wait 1s", "io done", "slept 2:sleeper",
                    "exited 2:sleeper", "raised 3:failer", "cancel 4:victim", "cancelled 4:victim",
                    "exited 1:main", "raised 1:main"}));
  // Order: a task's sleep is inside its step, and the wake-up comes after the wait for time.
  auto at = [&](const std::string& line) {
    return std::find(recorder.lines.begin(), recorder.lines.end(), line) - recorder.lines.begin();
  };
  EXPECT_LT(at("step 2:sleeper"), at("sleep 1s 2:sleeper"));
  EXPECT_LT(at("sleep 1s 2:sleeper"), at("stepped 2:sleeper"));
  EXPECT_LT(at("io wait 1s"), at("slept 2:sleeper"));
  EXPECT_LT(at("raised 3:failer"), at("cancel 4:victim"));
  EXPECT_LT(at("cancelled 4:victim"), at("exited 1:main"));
}

TEST(InstrumentTest, AddedAndRemovedWhileRunning) {
  Recorder late;
  auto body = [&]() -> Task<> {
    Loop& loop = Loop::current("test");
    co_await sleep(absl::Seconds(1));
    loop.add_instrument(&late);
    co_await sleep(absl::Seconds(1));
    loop.remove_instrument(&late);
    co_await sleep(absl::Seconds(1));
  };
  run_virtual(body());
  EXPECT_THAT(late.lines, Contains("sleep 1s 1:main"));
  EXPECT_THAT(late.lines, Contains("slept 1:main"));
  // Exactly one sleep was seen: the one between adding and removing.
  EXPECT_EQ(std::count(late.lines.begin(), late.lines.end(), "sleep 1s 1:main"), 1);
  EXPECT_THAT(late.lines, ::testing::Not(Contains("run end")));
}

TEST(InstrumentTest, AddingTheSameInstrumentTwiceRegistersItOnce) {
  Recorder twice;
  RunOptions options = virtual_with(&twice);
  options.instruments.push_back(&twice);
  auto body = [&]() -> Task<> {
    Loop::current("test").add_instrument(&twice);
    co_await sleep(absl::Seconds(1));
  };
  run(body(), std::move(options));
  EXPECT_EQ(std::count(twice.lines.begin(), twice.lines.end(), "sleep 1s 1:main"), 1);
}

TEST(InstrumentTest, RemovingAnInstrumentThatIsNotInstalledIsAUsageError) {
  Recorder never_added;
  Recorder added;
  auto body = [&]() -> Task<> {
    Loop& loop = Loop::current("test");
    EXPECT_THROW(loop.remove_instrument(&never_added), UsageError);
    EXPECT_THROW(loop.remove_instrument(nullptr), UsageError);
    loop.add_instrument(&added);
    loop.remove_instrument(&added);
    try {
      loop.remove_instrument(&added);
      ADD_FAILURE() << "removed twice";
    } catch (const UsageError& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("Loop::remove_instrument: the instrument is "
                                                 "not installed"));
    }
    co_return;
  };
  run_virtual(body());
}

TEST(InstrumentTest, AnInstrumentMayRemoveItselfFromAHook) {
  struct OneShot : Instrument {
    int calls = 0;
    void before_task_step(const TaskInfo&) override {
      ++calls;
      Loop::current("test").remove_instrument(this);
    }
  } one_shot;
  auto body = []() -> Task<> {
    for (int i = 0; i < 3; ++i) co_await checkpoint();
  };
  run(body(), virtual_with(&one_shot));
  EXPECT_EQ(one_shot.calls, 1);
}

TEST(InstrumentTest, AThrowingInstrumentIsRemovedNotFatal) {
  struct Broken : Instrument {
    int calls = 0;
    void before_task_step(const TaskInfo&) override {
      ++calls;
      throw std::runtime_error("broken instrument");
    }
  } broken;
  Recorder healthy;
  RunOptions options = virtual_with(&broken);
  options.instruments.push_back(&healthy);
  auto body = []() -> Task<int> {
    co_await sleep(absl::Seconds(1));
    co_return 5;
  };
  EXPECT_EQ(run(body(), std::move(options)), 5);
  EXPECT_EQ(broken.calls, 1);
  EXPECT_THAT(healthy.lines, Contains("slept 1:main"));
}

// ---- Scheduling order ----

std::vector<int> wake_order(std::optional<uint64_t> seed) {
  std::vector<int> order;
  auto body = [&]() -> Task<> {
    Event go;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 10; ++i) {
        pool.spawn([&, i]() -> Task<> {
          co_await go.wait();
          order.push_back(i);
        });
      }
      co_await sleep(absl::Seconds(1));
      go.set();  // wakes all ten in one batch
    });
  };
  run_virtual(body(), seed);
  return order;
}

TEST(SchedulingTest, FifoWithoutASeed) {
  EXPECT_THAT(wake_order(std::nullopt), ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
}

TEST(SchedulingTest, ASeedShufflesEachBatchReproducibly) {
  EXPECT_EQ(wake_order(1), wake_order(1));
  EXPECT_EQ(wake_order(99), wake_order(99));
  std::set<std::vector<int>> orders;
  for (uint64_t seed = 0; seed < 20; ++seed) orders.insert(wake_order(seed));
  EXPECT_GE(orders.size(), 15u);  // 10! orders; 20 seeds must nearly all differ
}

// ---- Stepping by hand, teardown, deadlock, driver choice ----

TEST(LoopTest, SpawnedTasksInheritTheirSpawnersDomain) {
  std::vector<uint32_t> seen;
  auto child = [&]() -> Task<> {
    seen.push_back(Loop::current("test").current_task("test").domain);
    co_return;
  };
  auto body = [&]() -> Task<> {
    Loop& loop = Loop::current("test");
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn(child);  // spawned while the main task is still in domain 0
      loop.current_task("test").domain = 7;
      pool.spawn(child);
      co_return;
    });
  };
  run_virtual(body());
  EXPECT_THAT(seen, ElementsAre(0u, 7u));
}

TEST(LoopTest, SteppedByHandFromAnotherLoop) {
  Loop loop(make_driver(DriverKind::kEpoll));
  auto body = []() -> Task<int> {
    co_await sleep(absl::Milliseconds(3));
    co_return 11;
  };
  TaskHandle<int> handle = loop.start(body());
  int turns = 0;
  while (!handle.done()) {
    loop.run_once(absl::ZeroDuration());  // never blocks: the host loop keeps control
    ++turns;
  }
  EXPECT_EQ(handle.result(), 11);
  EXPECT_GT(turns, 1);
}

TEST(LoopTest, AbandonedLoopDestroysSuspendedTasksCleanly) {
  int destroyed = 0;
  struct Sentinel {
    int* counter;
    ~Sentinel() { ++*counter; }
  };
  {
    Loop loop(make_driver(DriverKind::kVirtual));
    auto body = [&]() -> Task<> {
      Sentinel sentinel{&destroyed};
      Event never;
      co_await with_pool([&](Pool& pool) -> Task<> {
        for (int i = 0; i < 3; ++i) {
          pool.spawn([&]() -> Task<> {
            Sentinel child_sentinel{&destroyed};
            co_await never.wait();
          });
        }
        CancelScope scope;
        scope.set_relative_deadline(absl::Hours(1));
        co_await scope.run([]() -> Task<> { co_await sleep(absl::Hours(2)); }());
      });
    };
    TaskHandle<void> handle = loop.start(body());
    loop.run_once();
    loop.run_once();
    EXPECT_FALSE(handle.done());
  }
  EXPECT_EQ(destroyed, 4);  // main's and each child's locals ran their destructors
}

TEST(LoopTest, DeadlockNamesEveryTaskAndWhatItWaitsOn) {
  auto body = []() -> Task<> {
    Event never;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { co_await never.wait(); }, "waiter");
      co_await never.wait();
    });
  };
  try {
    run_virtual(body());
    FAIL() << "expected a deadlock";
  } catch (const DeadlockError& e) {
    EXPECT_THAT(e.what(), HasSubstr("task 1 'main' waits on Event::wait"));
    EXPECT_THAT(e.what(), HasSubstr("task 2 'waiter' waits on Event::wait"));
    EXPECT_THAT(e.what(), HasSubstr("virtual driver"));
  }
}

TEST(LoopTest, DriverFromTheEnvironment) {
  setenv("GIAMBIO_DRIVER", "virtual", 1);
  auto body = []() -> Task<absl::Time> {
    co_await sleep(absl::Hours(5));
    co_return now();
  };
  EXPECT_EQ(run(body()), absl::UnixEpoch() + absl::Hours(5));
  setenv("GIAMBIO_DRIVER", "bogus", 1);
  try {
    run(body());
    ADD_FAILURE() << "accepted GIAMBIO_DRIVER=bogus";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("GIAMBIO_DRIVER=bogus"));
  }
  unsetenv("GIAMBIO_DRIVER");
}

TEST(LoopTest, ALoopWithoutADriverIsAUsageError) {
  EXPECT_THROW(Loop(std::unique_ptr<Driver>()), UsageError);
}

TEST(LoopTest, StartingAnEmptyTaskIsAUsageError) {
  Loop loop(make_driver(DriverKind::kVirtual));
  EXPECT_THROW(loop.start(Task<int>()), UsageError);
}

// Trio's current_statistics().
TEST(LoopTest, StatisticsCountTasksAndTheNextDeadline) {
  auto body = []() -> Task<> {
    Loop& loop = Loop::current("test");
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 3; ++i) {
        pool.spawn([]() -> Task<> { co_await sleep(absl::Seconds(2)); });
      }
      Loop::Statistics s = loop.statistics();
      EXPECT_EQ(s.tasks_living, 4u);
      EXPECT_EQ(s.tasks_runnable, 3u) << "spawned, not run yet";
      co_await wait_all_tasks_blocked();
      s = loop.statistics();
      EXPECT_EQ(s.tasks_runnable, 0u);
      EXPECT_EQ(s.time_to_next_deadline, absl::Seconds(2));
      EXPECT_EQ(s.io_operations_pending, 0u);
    });
    EXPECT_EQ(loop.statistics().time_to_next_deadline, absl::InfiniteDuration());
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

// Signal receivers on both real drivers. Every test that sends a signal runs in a child process
// (a gtest death test), since a test must not signal the test runner: the child prints what went
// wrong and exits 1, or exits 0.
#include "giambio/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

// In the child: report a failed expectation and end the child with status 1.
#define CHILD_EXPECT(condition)                                                     \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #condition); \
      std::_Exit(1);                                                                \
    }                                                                               \
  } while (0)

bool blocked(int signal) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signal) == 1;
}

class SignalsTest : public testing::OnEveryDriver {
 protected:
  // Runs `main` on this test's driver in a child process, which must exit 0.
  void in_child(std::function<Task<>()> main) {
    EXPECT_EXIT(
        {
          run_here(main());
          std::_Exit(0);
        },
        ::testing::ExitedWithCode(0), "");
  }
};

TEST_P(SignalsTest, ASignalSentToTheProcessIsReceived) {
  in_child([]() -> Task<> {
    absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1, SIGHUP});
    CHILD_EXPECT(receiver.ok());
    CHILD_EXPECT(blocked(SIGUSR1) && blocked(SIGHUP));
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([]() -> Task<> {
        co_await sleep(absl::Milliseconds(5));  // the receiver waits first
        kill(getpid(), SIGHUP);
      });
      const int first = co_await receiver->receive();
      CHILD_EXPECT(first == SIGHUP);
      raise(SIGUSR1);  // directed at this thread, not the process: received all the same
      const int second = co_await receiver->receive();
      CHILD_EXPECT(second == SIGUSR1);
    });
  });
}

TEST_P(SignalsTest, TheMaskComesBackAndWhatNobodyTookIsDropped) {
  in_child([]() -> Task<> {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &one, nullptr);  // blocked before: stays blocked
    CHILD_EXPECT(!blocked(SIGUSR1));
    {
      absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1, SIGUSR2});
      CHILD_EXPECT(receiver.ok());
      CHILD_EXPECT(blocked(SIGUSR1) && blocked(SIGUSR2));
      // Arrives, is never received: SIGUSR1's default action would end the process once the
      // mask comes back, so surviving the close shows it was dropped.
      kill(getpid(), SIGUSR1);
      co_await sleep(absl::Milliseconds(1));
    }
    CHILD_EXPECT(!blocked(SIGUSR1));
    CHILD_EXPECT(blocked(SIGUSR2));
    sigset_t pending;
    sigpending(&pending);
    CHILD_EXPECT(sigismember(&pending, SIGUSR1) == 0);
  });
}

TEST_P(SignalsTest, ASignalsActionIsLeftAsItWas) {
  in_child([]() -> Task<> {
    static std::atomic<int> handled{0};
    struct sigaction action = {};
    action.sa_handler = [](int) { handled.fetch_add(1); };
    sigaction(SIGUSR1, &action, nullptr);
    {
      absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1});
      CHILD_EXPECT(receiver.ok());
      kill(getpid(), SIGUSR1);
      const int got = co_await receiver->receive();
      CHILD_EXPECT(got == SIGUSR1);
      CHILD_EXPECT(handled.load() == 0);  // blocked: the handler never ran
    }
    kill(getpid(), SIGUSR1);  // the handler is back in charge
    CHILD_EXPECT(handled.load() == 1);
  });
}

TEST_P(SignalsTest, EveryOpenReceiverGetsTheSignal) {
  in_child([]() -> Task<> {
    absl::StatusOr<SignalReceiver> one = open_signal_receiver({SIGUSR1});
    absl::StatusOr<SignalReceiver> both = open_signal_receiver({SIGUSR1, SIGUSR2});
    CHILD_EXPECT(one.ok() && both.ok());
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        const int got = co_await one->receive();
        CHILD_EXPECT(got == SIGUSR1);
      });
      pool.spawn([&]() -> Task<> {
        const int first = co_await both->receive();
        CHILD_EXPECT(first == SIGUSR1);
        const int second = co_await both->receive();
        CHILD_EXPECT(second == SIGUSR2);
      });
      co_await wait_all_tasks_blocked();
      kill(getpid(), SIGUSR1);
      co_await sleep(absl::Milliseconds(5));
      kill(getpid(), SIGUSR2);
    });
    // Closing one leaves the other receiving.
    one->close();
    CHILD_EXPECT(blocked(SIGUSR1));
    kill(getpid(), SIGUSR1);
    const int got = co_await both->receive();
    CHILD_EXPECT(got == SIGUSR1);
  });
}

TEST_P(SignalsTest, ABurstIsOneDeliveryPerReceiver) {
  in_child([]() -> Task<> {
    absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1, SIGUSR2});
    CHILD_EXPECT(receiver.ok());
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        for (int i = 0; i < 20; ++i) {
          kill(getpid(), SIGUSR1);
          kill(getpid(), SIGUSR2);
          co_await sleep(absl::Microseconds(100));  // the loop takes some of them meanwhile
        }
      });
      // Nobody receives during the burst: each signal is kept once.
      co_await sleep(absl::Milliseconds(50));
      CHILD_EXPECT(receiver->pending() <= 2);
    });
    const int first = co_await receiver->receive();
    const int second = co_await receiver->receive();
    CHILD_EXPECT(first != second);
    const std::optional<int> more =
        co_await skip_after(absl::Milliseconds(20), receiver->receive());
    CHILD_EXPECT(!more.has_value());
  });
}

TEST_P(SignalsTest, ACancelledReceiveTakesNothing) {
  in_child([]() -> Task<> {
    absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1});
    CHILD_EXPECT(receiver.ok());
    const std::optional<int> got_one =
        co_await skip_after(absl::Milliseconds(10), receiver->receive());
    CHILD_EXPECT(!got_one.has_value());
    kill(getpid(), SIGUSR1);
    const int got = co_await receiver->receive();
    CHILD_EXPECT(got == SIGUSR1);
  });
}

TEST_P(SignalsTest, ClosingWhileATaskReceivesIsAUsageError) {
  in_child([]() -> Task<> {
    absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1});
    CHILD_EXPECT(receiver.ok());
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { co_await receiver->receive(); });
      co_await wait_all_tasks_blocked();
      bool refused = false;
      try {
        receiver->close();
      } catch (const UsageError& error) {
        refused = std::string(error.what()).find("waits in receive()") != std::string::npos;
      }
      CHILD_EXPECT(refused);
      pool.cancel();
    });
    receiver->close();
    CHILD_EXPECT(!receiver->is_open());
    bool refused = false;
    try {
      co_await receiver->receive();
    } catch (const UsageError&) {
      refused = true;
    }
    CHILD_EXPECT(refused);
  });
}

TEST_P(SignalsTest, SignalsThatCannotBeReceivedAreRefusedByName) {
  run_here([]() -> Task<> {
    const std::pair<int, const char*> refused[] = {
        {SIGKILL, "open_signal_receiver(SIGKILL): cannot be caught or blocked"},
        {SIGSTOP, "open_signal_receiver(SIGSTOP): cannot be caught or blocked"},
        {SIGSEGV, "open_signal_receiver(SIGSEGV): is synchronous"},
        {SIGFPE, "open_signal_receiver(SIGFPE): is synchronous"},
        {0, "open_signal_receiver(signal 0): is no signal"},
        {65, "open_signal_receiver(signal 65): is no signal"},
        {32, "open_signal_receiver(signal 32): is reserved by the C library"},
    };
    for (const auto& [signal, message] : refused) {
      absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGTERM, signal});
      EXPECT_EQ(receiver.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(receiver.status().message(), HasSubstr(message));
      EXPECT_FALSE(blocked(SIGTERM)) << "a refused receiver left " << signal_name(signal);
    }
    absl::StatusOr<SignalReceiver> none = open_signal_receiver(std::span<const int>());
    EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
    co_return;
  }());
}

// ---- RunOptions::cancel_on_signals ----

// main: waits an hour; a helper task sends `signal` to the process. Reports how main ended.
Task<int> wait_for_an_interrupt(int signal, std::string* reason, bool* cleaned_up) {
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([signal]() -> Task<> {
      co_await sleep(absl::Milliseconds(5));
      kill(getpid(), signal);
    });
    struct Cleanup {
      bool* done;
      ~Cleanup() { *done = true; }
    } cleanup{cleaned_up};
    try {
      co_await sleep(absl::Hours(1));
    } catch (const Cancelled& cancelled) {
      *reason = cancelled.what();
      throw;
    }
  });
  co_return 0;
}

// Each child below runs in its own process and ends it.
[[noreturn]] void sigterm_child(DriverKind driver) {
  std::string reason;
  bool cleaned_up = false;
  RunOptions options;
  options.driver = driver;
  options.cancel_on_signals = {SIGINT, SIGTERM};
  try {
    run(wait_for_an_interrupt(SIGTERM, &reason, &cleaned_up), std::move(options));
    std::fprintf(stderr, "run returned\n");
    std::_Exit(1);
  } catch (const Interrupted& interrupted) {
    CHILD_EXPECT(interrupted.signal() == SIGTERM);
    CHILD_EXPECT(std::string(interrupted.what()) == "interrupted by SIGTERM");
    CHILD_EXPECT(reason.find("'cancel_on_signals': SIGTERM") != std::string::npos);
    CHILD_EXPECT(cleaned_up);
    CHILD_EXPECT(!blocked(SIGTERM) && !blocked(SIGINT));  // the mask came back
    std::_Exit(interrupted.exit_status());
  }
}

TEST_P(SignalsTest, SigtermCancelsMainWithItsNameAsTheReason) {
  EXPECT_EXIT(sigterm_child(GetParam()), ::testing::ExitedWithCode(128 + SIGTERM), "");
}

// Ctrl-C from another process: /bin/kill sends SIGINT to this one.
[[noreturn]] void sigint_from_kill_child(DriverKind driver) {
  RunOptions options;
  options.driver = driver;
  options.cancel_on_signals = {SIGINT, SIGTERM};
  std::string reason;
  try {
    run(
        [](std::string* reason) -> Task<> {
          try {
            const std::vector<std::string> argv = {"kill", "-INT", std::to_string(getpid())};
            absl::StatusOr<ProcessResult> sent = co_await run_process(argv);
            CHILD_EXPECT(sent.ok());
            co_await sleep(absl::Hours(1));
          } catch (const Cancelled& cancelled) {
            *reason = cancelled.what();
            throw;
          }
        }(&reason),
        std::move(options));
  } catch (const Interrupted& interrupted) {
    CHILD_EXPECT(interrupted.signal() == SIGINT);
    CHILD_EXPECT(reason.find("'cancel_on_signals': SIGINT") != std::string::npos);
    std::_Exit(interrupted.exit_status());
  }
  std::_Exit(1);
}

TEST_P(SignalsTest, SigintFromAnotherProcessCancelsMain) {
  EXPECT_EXIT(sigint_from_kill_child(GetParam()), ::testing::ExitedWithCode(128 + SIGINT), "");
}

[[noreturn]] void unlisted_signal_child(DriverKind driver) {
  RunOptions options;
  options.driver = driver;
  options.cancel_on_signals = {SIGINT};
  const int value = run(
      []() -> Task<int> {
        kill(getpid(), SIGUSR1);  // not listed: its default action ends the process
        co_await sleep(absl::Hours(1));
        co_return 7;
      }(),
      std::move(options));
  std::_Exit(value);
}

[[noreturn]] void main_swallows_the_cancellation_child(DriverKind driver) {
  RunOptions options;
  options.driver = driver;
  options.cancel_on_signals = {SIGINT};
  const int value = run(
      []() -> Task<int> {
        try {
          kill(getpid(), SIGINT);
          co_await sleep(absl::Hours(1));
        } catch (const Cancelled&) {
          co_return 7;  // a task that swallows its cancellation ends normally
        }
        co_return 0;
      }(),
      std::move(options));
  std::_Exit(value);
}

TEST_P(SignalsTest, OnlyTheListedSignalsCancelAndMainMayStillReturnAValue) {
  EXPECT_EXIT(unlisted_signal_child(GetParam()), ::testing::KilledBySignal(SIGUSR1), "");
  EXPECT_EXIT(main_swallows_the_cancellation_child(GetParam()), ::testing::ExitedWithCode(7), "");
}

Task<> sleep_for_30_seconds() { co_await sleep(absl::Seconds(30)); }

[[noreturn]] void second_sigint_child(DriverKind driver) {
  RunOptions options;
  options.driver = driver;
  options.cancel_on_signals = {SIGINT, SIGTERM};
  run(
      []() -> Task<> {
        try {
          kill(getpid(), SIGINT);
          co_await sleep(absl::Hours(1));
        } catch (const Cancelled&) {
        }
        // A slow cleanup, shielded from the cancellation; then Ctrl-C again.
        CancelScope shield;
        shield.set_shield(true);
        kill(getpid(), SIGINT);
        Task<> slow_cleanup = sleep_for_30_seconds();
        co_await shield.run(std::move(slow_cleanup));
        std::fprintf(stderr, "the cleanup finished\n");
      }(),
      std::move(options));
  std::_Exit(0);
}

TEST_P(SignalsTest, ASecondSigintWhileUnwindingEndsTheProcessAtOnce) {
  EXPECT_EXIT(second_sigint_child(GetParam()), ::testing::KilledBySignal(SIGINT), "");
}

TEST(SignalsTest, CancelOnSignalsRefusesASignalByName) {
  RunOptions options;
  options.driver = DriverKind::kEpoll;
  options.cancel_on_signals = {SIGKILL};
  try {
    run([]() -> Task<> { co_return; }(), std::move(options));
    ADD_FAILURE() << "run accepted SIGKILL";
  } catch (const UsageError& error) {
    EXPECT_THAT(error.what(),
                HasSubstr("RunOptions::cancel_on_signals: open_signal_receiver(SIGKILL)"));
  }
}

GIAMBIO_ON_EVERY_DRIVER(SignalsTest);

TEST(SignalsTest, OutsideALoopOrOnTheVirtualClockIsAUsageError) {
  EXPECT_THROW(open_signal_receiver({SIGTERM}), UsageError);
  RunOptions options;
  options.driver = DriverKind::kVirtual;
  EXPECT_THROW(run(
                   []() -> Task<> {
                     absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGTERM});
                     co_return;
                   }(),
                   std::move(options)),
               UsageError);
}

TEST(SignalsTest, NamesSignals) {
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(SIGRTMIN + 3), "SIGRTMIN+3");
  EXPECT_EQ(signal_name(99), "signal 99");
}

}  // namespace
}  // namespace giambio

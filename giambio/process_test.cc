// Subprocesses on both real drivers, against real programs (/bin/cat, sh, env, pwd, ls).
#include "giambio/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ProcessTest : public testing::OnEveryDriver {};

using testing::open_descriptors;

// No child of this process is left, not even a zombie.
bool no_children_left() { return waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; }

TEST_P(ProcessTest, CatRoundTripsMegabytesThroughPipesBothWaysAtOnce) {
  run_here([]() -> Task<> {
    ProcessOptions options;
    options.stdin_mode = Stdio::kPipe;
    options.stdout_mode = Stdio::kPipe;
    absl::StatusOr<Process> cat = open_process({"/bin/cat"}, options);
    EXPECT_TRUE(cat.ok()) << cat.status();
    if (!cat.ok()) co_return;
    std::string sent(8 << 20, '\0');
    for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7919 % 251);
    std::string received;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        EXPECT_TRUE((co_await cat->stdin_stream().write_all(sent)).ok());
        EXPECT_TRUE(cat->stdin_stream().close().ok());
      });
      char buffer[65536];
      while (true) {
        absl::StatusOr<size_t> n = co_await cat->stdout_stream().read(buffer);
        EXPECT_TRUE(n.ok()) << n.status();
        if (!n.ok() || *n == 0) break;
        received.append(buffer, *n);
      }
    });
    EXPECT_EQ(received.size(), sent.size());
    EXPECT_TRUE(received == sent);
    const ExitStatus status = co_await cat->wait();
    EXPECT_TRUE(status.success()) << status.to_string();
    // A second wait gives the same status at once.
    const ExitStatus again = co_await cat->wait();
    EXPECT_EQ(again.code, 0);
  }());
  EXPECT_TRUE(no_children_left());
}

TEST_P(ProcessTest, RunProcessFeedsInputAndCapturesBothOutputs) {
  run_here([]() -> Task<> {
    RunProcessOptions options;
    options.input = std::string(3 << 20, 'x');
    options.capture_stdout = true;
    options.capture_stderr = true;
    const std::vector<std::string> argv1 = {"sh", "-c", "cat; echo done >&2"};
    absl::StatusOr<ProcessResult> result = co_await run_process(argv1, options);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) co_return;
    EXPECT_EQ(result->standard_output.size(), size_t{3} << 20);
    EXPECT_EQ(result->standard_error, "done\n");
  }());
}

TEST_P(ProcessTest, ExitCodesAndSignalsAreReported) {
  run_here([]() -> Task<> {
    RunProcessOptions unchecked;
    unchecked.check = false;
    const std::vector<std::string> argv2 = {"sh", "-c", "exit 3"};
    absl::StatusOr<ProcessResult> three = co_await run_process(argv2, unchecked);
    EXPECT_TRUE(three.ok());
    EXPECT_EQ(three->status.code, 3);
    EXPECT_EQ(three->status.signal, 0);
    EXPECT_EQ(three->status.to_string(), "exited with status 3");

    const std::vector<std::string> argv3 = {"sh", "-c", "kill -TERM $$"};
    absl::StatusOr<ProcessResult> killed = co_await run_process(argv3, unchecked);
    EXPECT_TRUE(killed.ok());
    EXPECT_EQ(killed->status.signal, SIGTERM);
    EXPECT_EQ(killed->status.to_string(), "killed by SIGTERM");

    const std::vector<std::string> argv4 = {"sh", "-c", "exit 3"};
    absl::StatusOr<ProcessResult> checked = co_await run_process(argv4);
    EXPECT_EQ(checked.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(checked.status().message(), "run_process(sh): exited with status 3");

    const std::vector<std::string> argv5 = {"true"};
    absl::StatusOr<ProcessResult> fine = co_await run_process(argv5);
    EXPECT_TRUE(fine.ok()) << fine.status();
  }());
}

// A child that ignores SIGTERM is killed after the grace; the cancelled wait returns only once
// it is reaped; nothing is left behind.
TEST_P(ProcessTest, CancellingAWaitTerminatesThenKillsAndReaps) {
  const int descriptors_before = open_descriptors();
  run_here([]() -> Task<> {
    ProcessOptions options;
    options.kill_grace = absl::Milliseconds(200);
    options.stdout_mode = Stdio::kPipe;
    absl::StatusOr<Process> stubborn =
        open_process({"sh", "-c", "trap '' TERM; echo ready; exec sleep 30"}, options);
    EXPECT_TRUE(stubborn.ok()) << stubborn.status();
    if (!stubborn.ok()) co_return;
    char ready[6];
    (void)co_await stubborn->stdout_stream().read(ready);  // the trap is set
    const absl::Time start = Loop::current("test").now();
    const std::optional<ExitStatus> ended =
        co_await skip_after(absl::Milliseconds(50), stubborn->wait());
    EXPECT_FALSE(ended.has_value());
    const absl::Duration took = Loop::current("test").now() - start;
    EXPECT_GE(took, absl::Milliseconds(250));  // 50 ms, then the 200 ms grace
    EXPECT_LT(took, absl::Seconds(10));
    EXPECT_TRUE(stubborn->exit_status().has_value());
    EXPECT_EQ(stubborn->exit_status().value_or(ExitStatus{}).signal, SIGKILL);

    // One that obeys SIGTERM ends at once.
    absl::StatusOr<Process> polite = open_process({"sleep", "30"}, options);
    EXPECT_TRUE(polite.ok());
    const std::optional<ExitStatus> polite_ended =
        co_await skip_after(absl::Milliseconds(20), polite->wait());
    EXPECT_FALSE(polite_ended.has_value());
    EXPECT_EQ(polite->exit_status().value_or(ExitStatus{}).signal, SIGTERM);
  }());
  EXPECT_TRUE(no_children_left());
  EXPECT_EQ(open_descriptors(), descriptors_before);
}

TEST_P(ProcessTest, AProcessDroppedUnwaitedIsKilledAndReaped) {
  run_here([]() -> Task<> {
    absl::StatusOr<Process> sleeper = open_process({"sleep", "30"});
    EXPECT_TRUE(sleeper.ok());
    co_return;
  }());
  EXPECT_TRUE(no_children_left());
}

TEST_P(ProcessTest, BadInputIsAStatusNamingTheProgram) {
  run_here([]() -> Task<> {
    absl::StatusOr<Process> missing = open_process({"no-such-program-giambio"});
    EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(missing.status().message(), HasSubstr("open_process(no-such-program-giambio)"));

    const std::string script = std::string(std::getenv("TEST_TMPDIR")) + "/not_executable.sh";
    std::ofstream(script) << "#!/bin/sh\necho hi\n";
    absl::StatusOr<Process> denied = open_process({script});
    EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(denied.status().message(), HasSubstr("open_process(" + script + ")"));

    absl::StatusOr<Process> nul = open_process({"echo", std::string("a\0b", 3)});
    EXPECT_EQ(nul.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(nul.status().message(), "open_process(echo): argument 1 contains a NUL byte");

    absl::StatusOr<Process> empty = open_process({});
    EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);

    ProcessOptions nowhere;
    nowhere.working_directory = "/no/such/dir";
    absl::StatusOr<Process> lost = open_process({"pwd"}, nowhere);
    EXPECT_EQ(lost.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(lost.status().message(), HasSubstr("working directory /no/such/dir"));

    ProcessOptions bad_environment;
    bad_environment.environment = std::vector<std::string>{"NOEQUALS"};
    absl::StatusOr<Process> env = open_process({"env"}, bad_environment);
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument);

    const std::vector<std::string> argv6 = {"no-such-program-giambio"};
    absl::StatusOr<ProcessResult> run = co_await run_process(argv6);
    EXPECT_EQ(run.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(run.status().message(), HasSubstr("run_process(no-such-program-giambio)"));
  }());
  EXPECT_TRUE(no_children_left());
}

TEST_P(ProcessTest, EnvironmentAndWorkingDirectoryAreTheOnesGiven) {
  run_here([]() -> Task<> {
    RunProcessOptions options;
    options.capture_stdout = true;
    options.process.environment = std::vector<std::string>{"GIAMBIO=1", "B=two words"};
    const std::vector<std::string> argv7 = {"/usr/bin/env"};
    absl::StatusOr<ProcessResult> env = co_await run_process(argv7, options);
    EXPECT_TRUE(env.ok()) << env.status();
    EXPECT_EQ(env->standard_output, "GIAMBIO=1\nB=two words\n");

    RunProcessOptions in_root;
    in_root.capture_stdout = true;
    in_root.process.working_directory = "/";
    const std::vector<std::string> argv8 = {"pwd"};
    absl::StatusOr<ProcessResult> pwd = co_await run_process(argv8, in_root);
    EXPECT_TRUE(pwd.ok()) << pwd.status();
    EXPECT_EQ(pwd->standard_output, "/\n");
  }());
}

// Only 0, 1 and 2 reach the child (ls's own directory descriptor is the fourth), whatever the
// parent has open; and no blocked signal, though a receiver blocks SIGTERM here.
TEST_P(ProcessTest, TheChildInheritsNoOtherDescriptorAndNoSignalMask) {
  run_here([]() -> Task<> {
    const int leaky = open("/dev/null", O_RDONLY);  // not close-on-exec
    absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGTERM});
    EXPECT_TRUE(receiver.ok());
    RunProcessOptions options;
    options.capture_stdout = true;
    const std::vector<std::string> argv9 = {"ls", "/proc/self/fd"};
    absl::StatusOr<ProcessResult> fds = co_await run_process(argv9, options);
    EXPECT_TRUE(fds.ok()) << fds.status();
    std::vector<std::string> listed = absl::StrSplit(fds->standard_output, '\n', absl::SkipEmpty());
    EXPECT_THAT(listed, UnorderedElementsAre("0", "1", "2", "3"));
    const std::vector<std::string> argv10 = {"grep", "SigBlk", "/proc/self/status"};
    absl::StatusOr<ProcessResult> mask = co_await run_process(argv10, options);
    EXPECT_TRUE(mask.ok()) << mask.status();
    EXPECT_EQ(mask->standard_output, "SigBlk:\t0000000000000000\n");
    close(leaky);
  }());
}

TEST_P(ProcessTest, SendSignalReachesTheChildAndIsRefusedAfterTheEnd) {
  run_here([]() -> Task<> {
    absl::StatusOr<Process> sleeper = open_process({"sleep", "30"});
    EXPECT_TRUE(sleeper.ok());
    EXPECT_TRUE(sleeper->send_signal(SIGUSR1).ok());
    const ExitStatus status = co_await sleeper->wait();
    EXPECT_EQ(status.signal, SIGUSR1);
    const absl::Status late = sleeper->send_signal(SIGUSR1);
    EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(late.message(), "Process(sleep).send_signal(SIGUSR1): it has ended");
  }());
}

GIAMBIO_ON_EVERY_DRIVER(ProcessTest);

}  // namespace
}  // namespace giambio

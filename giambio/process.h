// giambio/process.h: running other programs (Trio's run_process and open_process).
//
//   absl::StatusOr<giambio::ProcessResult> r =
//       co_await giambio::run_process({"git", "rev-parse", "HEAD"}, {.capture_stdout = true});
//
//   absl::StatusOr<giambio::Process> p = giambio::open_process({"/bin/cat"}, piped);
//   co_await p->stdin_stream().write_all(data); p->stdin_stream().close();
//   ... co_await p->stdout_stream().read(...) ...
//   giambio::ExitStatus status = co_await p->wait();
//
// A child starts with posix_spawn and is watched through a pidfd (readable once it exits), on
// both real drivers: no SIGCHLD handler, and the child is reaped by wait(), so no zombie is left.
// It inherits descriptors 0, 1 and 2 only (each inherited, a pipe, or /dev/null; every other
// descriptor is closed in the child, close-on-exec or not), an empty signal mask (signal
// receivers block signals on the loop's thread; the child must not inherit that) and SIGPIPE at
// its default action. Environment and working directory are settable.
//
// Cancellation: a cancelled wait() ends the child: SIGTERM, then SIGKILL after
// ProcessOptions::kill_grace if it is still running; it is reaped before Cancelled propagates.
// A Process destroyed before wait() saw the exit kills its child with SIGKILL and reaps it at
// once (structured: no child outlives its owner).
//
// Bad input is a Status naming the program: InvalidArgument for an empty argv or a NUL byte in
// an argument or environment entry, NotFound for no such program or working directory,
// PermissionDenied for a program that is not executable.
//
// Simulation: refused loudly. A subprocess would escape the simulated world, so inside a
// sim::World open_process and run_process trip the simulator's wire (UsageError naming the call
// and the seed).
#ifndef GIAMBIO_PROCESS_H_
#define GIAMBIO_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "giambio/stream.h"
#include "giambio/task.h"

namespace giambio {

// What one of the child's standard descriptors is.
enum class Stdio : uint8_t {
  kInherit,  // this process's own descriptor
  kPipe,     // a pipe, as the Process's stream
  kNull,     // /dev/null
};

struct ProcessOptions {
  Stdio stdin_mode = Stdio::kInherit;
  Stdio stdout_mode = Stdio::kInherit;
  Stdio stderr_mode = Stdio::kInherit;
  // The child's whole environment ("NAME=value" entries); nullopt: this process's.
  std::optional<std::vector<std::string>> environment = std::nullopt;
  // The child's working directory; empty: this process's.
  std::string working_directory = "";
  // After a cancelled wait: how long SIGTERM has before SIGKILL (>= 0).
  absl::Duration kill_grace = absl::Seconds(5);
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // its exit code, when it exited
  int signal = 0;  // the signal that ended it, or 0
  bool success() const { return code == 0 && signal == 0; }
  // "exited with status 3", "killed by SIGKILL"
  std::string to_string() const;
};

class Process {
 public:
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  ~Process();

  pid_t pid() const { return pid_; }
  // The parent's ends of the pipes (Stdio::kPipe); UsageError for a descriptor that is not one.
  AsyncStream& stdin_stream();
  AsyncStream& stdout_stream();
  AsyncStream& stderr_stream();

  // Waits until the child exits and reaps it; after that, returns the same status at once.
  // Cancellation: see the top of this file.
  Task<ExitStatus> wait();
  // Sends `signal` to the child (through its pidfd, so never to a recycled pid). FailedPrecondition
  // once it has been reaped.
  absl::Status send_signal(int signal);
  // The status once wait() has seen the exit.
  std::optional<ExitStatus> exit_status() const { return status_; }

 private:
  friend absl::StatusOr<Process> open_process(const std::vector<std::string>& argv,
                                              const ProcessOptions& options);
  Process() = default;
  // Reaps the child if it has exited; true once it is reaped.
  bool try_reap();
  void kill_and_reap();

  std::string program_;
  pid_t pid_ = 0;
  int pidfd_ = -1;
  absl::Duration kill_grace_;
  std::optional<ExitStatus> status_;
  std::optional<AsyncStream> stdin_;
  std::optional<AsyncStream> stdout_;
  std::optional<AsyncStream> stderr_;
};

// Starts `argv` (argv[0]: a path, or a name looked up in PATH) on the current loop's thread.
absl::StatusOr<Process> open_process(const std::vector<std::string>& argv,
                                     const ProcessOptions& options);
absl::StatusOr<Process> open_process(const std::vector<std::string>& argv);

struct RunProcessOptions {
  // Environment, working directory, kill grace, and the descriptors not set below.
  ProcessOptions process = {};
  // Written to the child's stdin, which is then closed (stdin becomes a pipe).
  std::optional<std::string> input = std::nullopt;
  bool capture_stdout = false;
  bool capture_stderr = false;
  // A child that did not exit with status 0 is an error (FailedPrecondition naming the program
  // and how it ended); false: the result says how it ended.
  bool check = true;
};

struct ProcessResult {
  ExitStatus status;
  std::string standard_output;  // when captured
  std::string standard_error;   // when captured
};

// Runs `argv` to its end, feeding `input` and collecting what is captured, all at once (no
// deadlock on full pipes). Cancelling it ends the child as a cancelled wait() does.
Task<absl::StatusOr<ProcessResult>> run_process(std::vector<std::string> argv,
                                                RunProcessOptions options);
Task<absl::StatusOr<ProcessResult>> run_process(std::vector<std::string> argv);

}  // namespace giambio

#endif  // GIAMBIO_PROCESS_H_

#include "giambio/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "giambio/cancel_scope.h"
#include "giambio/driver.h"
#include "giambio/errors.h"
#include "giambio/io_wait.h"
#include "giambio/pool.h"
#include "giambio/signals.h"
#include "giambio/timeouts.h"

extern char** environ;

namespace giambio {
namespace {

// Through syscall(2): Debian's glibc 2.36 declares these wrappers without C linkage for C++.
int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int signal) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0));
}

// "open_process(ls)": how errors name the call and the program.
std::string call_name(const char* call, const std::vector<std::string>& argv) {
  return absl::StrCat(call, "(", argv.empty() ? "" : absl::CEscape(argv[0]), ")");
}

bool has_nul(const std::string& text) { return text.find('\0') != std::string::npos; }

absl::Status check_input(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("open_process: argv is empty");
  const std::string call = call_name("open_process", argv);
  if (argv[0].empty()) return absl::InvalidArgumentError(call + ": the program name is empty");
  for (size_t i = 0; i < argv.size(); ++i) {
    if (has_nul(argv[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(call, ": argument ", i, " contains a NUL byte"));
    }
  }
  if (options.environment.has_value()) {
    for (const std::string& entry : *options.environment) {
      if (has_nul(entry) || entry.find('=') == std::string::npos || entry.front() == '=') {
        return absl::InvalidArgumentError(absl::StrCat(
            call, ": environment entry \"", absl::CEscape(entry), "\" is not NAME=value"));
      }
    }
  }
  if (!options.working_directory.empty()) {
    struct stat info;
    if (has_nul(options.working_directory)) {
      return absl::InvalidArgumentError(
          absl::StrCat(call, ": the working directory contains a NUL byte"));
    }
    if (stat(options.working_directory.c_str(), &info) != 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat(call, ": working directory ", options.working_directory));
    }
    if (!S_ISDIR(info.st_mode)) {
      return absl::NotFoundError(absl::StrCat(call, ": working directory ",
                                              options.working_directory, " is not a directory"));
    }
  }
  if (options.kill_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        call, ": kill_grace ", absl::FormatDuration(options.kill_grace), " is negative"));
  }
  return absl::OkStatus();
}

// The spawn's parts, released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  int parent_ends[3] = {-1, -1, -1};  // our end of each pipe
  int child_ends[3] = {-1, -1, -1};   // closed in the parent once the child has them
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    for (int fd : child_ends) {
      if (fd >= 0) ::close(fd);
    }
    for (int fd : parent_ends) {
      if (fd >= 0) ::close(fd);
    }
  }
};

}  // namespace

std::string ExitStatus::to_string() const {
  if (signal != 0) return absl::StrCat("killed by ", signal_name(signal));
  return absl::StrCat("exited with status ", code);
}

absl::StatusOr<Process> open_process(const std::vector<std::string>& argv,
                                     const ProcessOptions& options) {
  touch_real_world("open_process");
  if (absl::Status valid = check_input(argv, options); !valid.ok()) return valid;
  const std::string call = call_name("open_process", argv);
  SpawnSetup setup;
  const Stdio modes[3] = {options.stdin_mode, options.stdout_mode, options.stderr_mode};
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&setup.actions, options.working_directory.c_str());
  }
  for (int n = 0; n < 3; ++n) {
    if (modes[n] == Stdio::kNull) {
      posix_spawn_file_actions_addopen(&setup.actions, n, "/dev/null", n == 0 ? O_RDONLY : O_WRONLY,
                                       0);
    } else if (modes[n] == Stdio::kPipe) {
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, call + ": pipe");
      // stdin: the child reads fds[0]; stdout/stderr: the child writes fds[1].
      setup.child_ends[n] = n == 0 ? fds[0] : fds[1];
      setup.parent_ends[n] = n == 0 ? fds[1] : fds[0];
      posix_spawn_file_actions_adddup2(&setup.actions, setup.child_ends[n], n);
    }
  }
  // Nothing else crosses into the child, close-on-exec or not.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);  // the loop ignores it; the child gets the default back
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> arguments;
  for (const std::string& argument : argv) arguments.push_back(const_cast<char*>(argument.c_str()));
  arguments.push_back(nullptr);
  std::vector<char*> environment;
  if (options.environment.has_value()) {
    for (const std::string& entry : *options.environment) {
      environment.push_back(const_cast<char*>(entry.c_str()));
    }
    environment.push_back(nullptr);
  }
  char* const* envp = options.environment.has_value() ? environment.data() : environ;
  pid_t pid = 0;
  const bool path_given = argv[0].find('/') != std::string::npos;
  const int error = path_given ? posix_spawn(&pid, argv[0].c_str(), &setup.actions,
                                             &setup.attributes, arguments.data(), envp)
                               : posix_spawnp(&pid, argv[0].c_str(), &setup.actions,
                                              &setup.attributes, arguments.data(), envp);
  if (error != 0) return absl::ErrnoToStatus(error, call);

  Process process;
  process.program_ = argv[0];
  process.pid_ = pid;
  process.kill_grace_ = options.kill_grace;
  process.pidfd_ = pidfd_open(pid);
  if (process.pidfd_ < 0) {
    const int pidfd_error = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    process.pid_ = 0;
    return absl::ErrnoToStatus(pidfd_error, call + ": pidfd_open");
  }
  if (setup.parent_ends[0] >= 0) process.stdin_.emplace(std::exchange(setup.parent_ends[0], -1));
  if (setup.parent_ends[1] >= 0) process.stdout_.emplace(std::exchange(setup.parent_ends[1], -1));
  if (setup.parent_ends[2] >= 0) process.stderr_.emplace(std::exchange(setup.parent_ends[2], -1));
  return process;
}

absl::StatusOr<Process> open_process(const std::vector<std::string>& argv) {
  return open_process(argv, ProcessOptions{});
}

Process::Process(Process&& other) noexcept
    : program_(std::move(other.program_)),
      pid_(std::exchange(other.pid_, 0)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      kill_grace_(other.kill_grace_),
      status_(other.status_),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    kill_and_reap();
    program_ = std::move(other.program_);
    pid_ = std::exchange(other.pid_, 0);
    pidfd_ = std::exchange(other.pidfd_, -1);
    kill_grace_ = other.kill_grace_;
    status_ = other.status_;
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
  }
  return *this;
}

Process::~Process() { kill_and_reap(); }

void Process::kill_and_reap() {
  if (pidfd_ < 0) return;
  if (!status_.has_value()) {
    pidfd_send_signal(pidfd_, SIGKILL);
    siginfo_t info = {};
    while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_, &info, WEXITED) < 0 && errno == EINTR) {
    }
  }
  ::close(std::exchange(pidfd_, -1));
}

AsyncStream& Process::stdin_stream() {
  if (!stdin_) throw UsageError(absl::StrCat("Process(", program_, "): stdin is not a pipe"));
  return *stdin_;
}
AsyncStream& Process::stdout_stream() {
  if (!stdout_) throw UsageError(absl::StrCat("Process(", program_, "): stdout is not a pipe"));
  return *stdout_;
}
AsyncStream& Process::stderr_stream() {
  if (!stderr_) throw UsageError(absl::StrCat("Process(", program_, "): stderr is not a pipe"));
  return *stderr_;
}

bool Process::try_reap() {
  if (status_.has_value()) return true;
  siginfo_t info = {};
  if (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_, &info, WEXITED | WNOHANG) != 0) return false;
  if (info.si_pid == 0) return false;  // still running
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.code = info.si_status;
  } else {
    status.signal = info.si_status;
  }
  status_ = status;
  ::close(std::exchange(pidfd_, -1));
  return true;
}

absl::Status Process::send_signal(int signal) {
  if (status_.has_value() || pidfd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat("Process(", program_, ").send_signal(",
                                                      signal_name(signal), "): it has ended"));
  }
  if (pidfd_send_signal(pidfd_, signal) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("Process(", program_, ").send_signal(", signal_name(signal), ")"));
  }
  return absl::OkStatus();
}

namespace {

Task<> wait_for_exit(Process& process, bool (*try_reap)(Process&), int pidfd) {
  while (!try_reap(process)) {
    absl::Status ready = co_await wait_readable(pidfd);
    if (!ready.ok()) throw std::runtime_error(std::string(ready.message()));
  }
}

}  // namespace

Task<ExitStatus> Process::wait() {
  if (status_.has_value()) co_return *status_;
  if (pidfd_ < 0) throw UsageError("Process::wait: the process was moved away");
  static constexpr auto reap = [](Process& p) { return p.try_reap(); };
  std::exception_ptr cancelled;
  try {
    co_await wait_for_exit(*this, reap, pidfd_);
  } catch (const Cancelled&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    // Ends the child under a shield, so the cancellation cannot leave it running or unreaped.
    CancelScope shield;
    shield.set_shield(true);
    const int pidfd = pidfd_;
    auto terminate = [](Process& p, int fd) -> Task<> {
      (void)p.send_signal(SIGTERM);
      const bool exited = co_await skip_after(p.kill_grace_, wait_for_exit(p, reap, fd));
      if (!exited) {
        (void)p.send_signal(SIGKILL);
        co_await wait_for_exit(p, reap, fd);
      }
    };
    Task<> ending = terminate(*this, pidfd);
    co_await shield.run(std::move(ending));
    std::rethrow_exception(cancelled);
  }
  co_return *status_;
}

Task<absl::StatusOr<ProcessResult>> run_process(std::vector<std::string> argv,
                                                RunProcessOptions options) {
  ProcessOptions process_options = options.process;
  if (options.input.has_value()) process_options.stdin_mode = Stdio::kPipe;
  if (options.capture_stdout) process_options.stdout_mode = Stdio::kPipe;
  if (options.capture_stderr) process_options.stderr_mode = Stdio::kPipe;
  absl::StatusOr<Process> process = open_process(argv, process_options);
  if (!process.ok()) {
    co_return absl::Status(
        process.status().code(),
        absl::StrCat("run_process", process.status().message().substr(sizeof("open_process") - 1)));
  }
  ProcessResult result;
  absl::Status io;
  co_await with_pool([&](Pool& pool) -> Task<> {
    if (options.input.has_value()) {
      pool.spawn([&]() -> Task<> {
        // A child that exits without reading all of it closes the pipe: EPIPE is no error here.
        (void)co_await process->stdin_stream().write_all(*options.input);
        (void)process->stdin_stream().close();
      });
    }
    auto collect = [&io](AsyncStream& stream, std::string& into) -> Task<> {
      char buffer[65536];
      while (true) {
        absl::StatusOr<size_t> n = co_await stream.read(buffer);
        if (!n.ok()) {
          io.Update(n.status());
          co_return;
        }
        if (*n == 0) co_return;
        into.append(buffer, *n);
      }
    };
    if (options.capture_stdout) {
      pool.spawn(
          [&]() -> Task<> { co_await collect(process->stdout_stream(), result.standard_output); });
    }
    if (options.capture_stderr) {
      pool.spawn(
          [&]() -> Task<> { co_await collect(process->stderr_stream(), result.standard_error); });
    }
    result.status = co_await process->wait();
  });
  if (!io.ok()) co_return io;
  if (options.check && !result.status.success()) {
    co_return absl::FailedPreconditionError(
        absl::StrCat(call_name("run_process", argv), ": ", result.status.to_string()));
  }
  co_return result;
}

Task<absl::StatusOr<ProcessResult>> run_process(std::vector<std::string> argv) {
  return run_process(std::move(argv), RunProcessOptions{});
}

}  // namespace giambio

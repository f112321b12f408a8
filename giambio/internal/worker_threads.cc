#include "giambio/internal/worker_threads.h"

#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

namespace giambio::internal {
namespace {

struct Job {
  Operation* op;  // nullptr once abandoned
  OpKind kind;
  int64_t result = 0;
  // A name lookup works on copies (host, family, capacity in, addresses out), so that it can be
  // abandoned while it runs.
  std::string host;
  int family = AF_UNSPEC;
  size_t capacity = 0;
  std::vector<sockaddr_storage> addresses;
};

// getaddrinfo's own error codes as the negated errno the Operation contract wants.
int64_t lookup_error(int code) {
  switch (code) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
      return -ENOENT;  // no such host, or none with an address of the wanted family
    case EAI_AGAIN:
      return -EAGAIN;  // the resolver is unreachable or timed out: try again later
    case EAI_MEMORY:
      return -ENOMEM;
    case EAI_FAMILY:
      return -EAFNOSUPPORT;
    case EAI_SYSTEM:
      return -errno;
    default:
      return -EIO;
  }
}

int64_t getaddrinfo_lookup(const std::string& host, int family, size_t capacity,
                           std::vector<sockaddr_storage>& out) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int code = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (code != 0) return lookup_error(code);
  for (addrinfo* entry = list; entry != nullptr && out.size() < capacity; entry = entry->ai_next) {
    if (entry->ai_addrlen > sizeof(sockaddr_storage)) continue;
    sockaddr_storage address{};
    std::memcpy(&address, entry->ai_addr, entry->ai_addrlen);
    out.push_back(address);
  }
  freeaddrinfo(list);
  return out.empty() ? -ENOENT : static_cast<int64_t>(out.size());
}

void run(Job& job) {
  ssize_t result = -1;
  Operation& op = *job.op;  // a file operation is never abandoned, so op is still there
  switch (job.kind) {
    case OpKind::kOpen:
      result = open(op.path, op.flags | O_CLOEXEC, op.mode);
      break;
    case OpKind::kReadAt:
      result = pread(op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kWriteAt:
      result = pwrite(op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kSync:
      result = fsync(op.fd());
      break;
    default:
      errno = EINVAL;
      break;
  }
  job.result = result >= 0 ? result : -errno;
}

}  // namespace

struct WorkerThreads::State {
  explicit State(Lookup lookup)
      : lookup(lookup ? std::move(lookup) : Lookup(getaddrinfo_lookup)),
        event_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    if (event_fd < 0) throw std::runtime_error(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  ~State() { close(event_fd); }

  // The body of each thread; `self` keeps the state alive while the thread runs.
  static void work(std::shared_ptr<State> self);

  const Lookup lookup;
  const int event_fd;
  std::mutex mutex;
  std::condition_variable work_available;
  std::condition_variable idle;
  std::deque<std::unique_ptr<Job>> queue;
  std::vector<Job*> running;  // including abandoned lookups
  std::vector<std::unique_ptr<Job>> finished;
  size_t threads = 0;
  size_t running_owned = 0;  // running and not abandoned
  size_t outstanding = 0;
  bool stopping = false;
};

WorkerThreads::WorkerThreads(Lookup lookup) : state_(std::make_shared<State>(std::move(lookup))) {}

WorkerThreads::~WorkerThreads() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
  }
  state_->work_available.notify_all();
}

int WorkerThreads::event_fd() const { return state_->event_fd; }

void WorkerThreads::submit(Operation& op) {
  touch_real_world(op.kind() == OpKind::kResolve ? "a name lookup thread" : "a file worker thread");
  auto job = std::make_unique<Job>();
  job->op = &op;
  job->kind = op.kind();
  if (op.kind() == OpKind::kResolve) {
    job->host = op.path;
    job->family = op.flags;
    job->capacity = op.length;
  }
  State& state = *state_;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    state.queue.push_back(std::move(job));
    ++state.outstanding;
    // One more thread while all are busy, up to the bound.
    if (state.threads < kThreadsMax && state.running.size() + state.queue.size() > state.threads) {
      ++state.threads;
      // Born with every signal blocked, so a signal meant for the loop (signals.h) is never
      // handed to a worker thread; the mask is the only state a thread inherits here.
      sigset_t all;
      sigset_t previous;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &previous);
      std::thread(State::work, state_).detach();
      pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    }
  }
  state.work_available.notify_one();
}

bool WorkerThreads::withdraw(Operation& op) {
  State& state = *state_;
  std::lock_guard<std::mutex> lock(state.mutex);
  auto queued = std::find_if(state.queue.begin(), state.queue.end(),
                             [&](const std::unique_ptr<Job>& job) { return job->op == &op; });
  if (queued != state.queue.end()) {
    state.queue.erase(queued);
    --state.outstanding;
    return true;
  }
  auto running = std::find_if(state.running.begin(), state.running.end(),
                              [&](Job* job) { return job->op == &op; });
  if (running == state.running.end() || op.kind() != OpKind::kResolve) return false;
  (*running)->op = nullptr;
  --state.outstanding;
  --state.running_owned;
  if (state.running_owned == 0 && state.queue.empty()) state.idle.notify_all();
  return true;
}

void WorkerThreads::take_completed(std::vector<std::pair<Operation*, int64_t>>& out) {
  uint64_t ignored;
  // Resets the eventfd's count; EAGAIN (already zero) is fine.
  [[maybe_unused]] const ssize_t drained = read(state_->event_fd, &ignored, sizeof(ignored));
  std::vector<std::unique_ptr<Job>> finished;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    finished.swap(state_->finished);
  }
  for (const std::unique_ptr<Job>& job : finished) {
    if (job->op == nullptr) continue;  // abandoned: its operation completed long ago
    if (job->kind == OpKind::kResolve && job->result > 0) {
      std::copy(job->addresses.begin(), job->addresses.end(),
                static_cast<sockaddr_storage*>(job->op->buffer));
    }
    out.emplace_back(job->op, job->result);
  }
  std::lock_guard<std::mutex> lock(state_->mutex);
  for (const std::unique_ptr<Job>& job : finished) {
    if (job->op != nullptr) --state_->outstanding;
  }
}

size_t WorkerThreads::outstanding() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->outstanding;
}

void WorkerThreads::wait_until_idle() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->idle.wait(lock, [&] { return state_->running_owned == 0 && state_->queue.empty(); });
}

void WorkerThreads::State::work(std::shared_ptr<State> self) {
  State& state = *self;
  std::unique_lock<std::mutex> lock(state.mutex);
  while (true) {
    state.work_available.wait(lock, [&] { return state.stopping || !state.queue.empty(); });
    if (state.stopping) break;
    std::unique_ptr<Job> job = std::move(state.queue.front());
    state.queue.pop_front();
    state.running.push_back(job.get());
    ++state.running_owned;
    lock.unlock();
    if (job->kind == OpKind::kResolve) {
      job->result = state.lookup(job->host, job->family, job->capacity, job->addresses);
      job->addresses.resize(std::min(job->addresses.size(), job->capacity));
      if (job->result > static_cast<int64_t>(job->addresses.size())) {
        job->result = static_cast<int64_t>(job->addresses.size());
      }
    } else {
      run(*job);
    }
    lock.lock();
    state.running.erase(std::find(state.running.begin(), state.running.end(), job.get()));
    if (job->op != nullptr) --state.running_owned;
    state.finished.push_back(std::move(job));
    const uint64_t one = 1;
    // An eventfd write only fails if the count would overflow, and then it is readable anyway.
    [[maybe_unused]] const ssize_t written = write(state.event_fd, &one, sizeof(one));
    if (state.running_owned == 0 && state.queue.empty()) state.idle.notify_all();
  }
  --state.threads;
}

}  // namespace giambio::internal

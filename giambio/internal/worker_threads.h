// giambio/internal/worker_threads.h: a small, bounded pool of threads for the calls that block.
// Two kinds of work come here: file operations under the epoll driver (epoll cannot wait for
// regular files: they are always "ready" and then block in read), and name lookups
// (getaddrinfo) under every real driver.
//
// Threads start on the first operation, so programs that never block start none. They block
// every signal, so signals (signals.h) reach the loop's thread only. The loop
// thread learns of completions through an eventfd that its driver watches (epoll, or an io_uring
// poll); results are handed back under a mutex and delivered (Operation::complete) on the loop
// thread only.
//
// Withdrawing (cancellation): an operation still queued is taken off the queue. A name lookup a
// thread has started is abandoned: it works on its own copies, so the operation is free at once
// and the thread finishes the lookup alone (getaddrinfo cannot be interrupted, and may take as
// long as the resolver's timeouts). A file operation a thread has started runs to the end, and
// its buffers stay in use until then.
//
// The threads hold the shared state, so an abandoned lookup may outlive this object: the
// destructor does not wait for it.
#ifndef GIAMBIO_INTERNAL_WORKER_THREADS_H_
#define GIAMBIO_INTERNAL_WORKER_THREADS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "giambio/driver.h"

namespace giambio::internal {

class WorkerThreads {
 public:
  static constexpr size_t kThreadsMax = 4;

  // How a name is looked up: getaddrinfo, unless a test supplies a stand-in. It fills `out` with
  // at most `capacity` addresses and returns their count, or a negated errno. It runs on a
  // worker thread.
  using Lookup = std::function<int64_t(const std::string& host, int family, size_t capacity,
                                       std::vector<sockaddr_storage>& out)>;

  explicit WorkerThreads(Lookup lookup = nullptr);
  ~WorkerThreads();
  WorkerThreads(const WorkerThreads&) = delete;
  WorkerThreads& operator=(const WorkerThreads&) = delete;

  // Readable while completed operations wait for take_completed().
  int event_fd() const;

  // Accepts file operations (kOpen, kReadAt, kWriteAt, kSync) and kResolve.
  void submit(Operation& op);
  // Takes `op` back if it is queued, or abandons it if it is a running name lookup; returns
  // whether op is free now (the caller completes it with -ECANCELED). False for a file operation
  // a thread has started: it completes by itself.
  bool withdraw(Operation& op);
  // Moves the finished operations and their results into `out`, in the order they finished.
  void take_completed(std::vector<std::pair<Operation*, int64_t>>& out);
  // Operations submitted and not yet taken back.
  size_t outstanding() const;
  // Blocks until every started operation has finished, abandoned lookups aside (loop teardown).
  void wait_until_idle();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_WORKER_THREADS_H_

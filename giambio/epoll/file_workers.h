// giambio/epoll/file_workers.h: a small, bounded pool of threads that runs file syscalls for the
// epoll driver. epoll cannot wait for regular files (they are always "ready" and then block in
// read), so open, pread, pwrite and fsync run here instead of on the loop thread.
//
// Threads start on the first file operation, so programs without file I/O start none. The loop
// thread learns of completions through an eventfd that the driver watches with epoll; results
// are handed back under a mutex and delivered (Operation::complete) on the loop thread only.
// An operation still queued can be withdrawn; one a thread has started runs to the end, and its
// buffers stay in use until then.
#ifndef GIAMBIO_EPOLL_FILE_WORKERS_H_
#define GIAMBIO_EPOLL_FILE_WORKERS_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "giambio/driver.h"

namespace giambio {

class FileWorkers {
 public:
  static constexpr size_t kThreadsMax = 4;

  FileWorkers();
  ~FileWorkers();
  FileWorkers(const FileWorkers&) = delete;
  FileWorkers& operator=(const FileWorkers&) = delete;

  // Readable (for epoll) while completed operations wait for take_completed().
  int event_fd() const { return event_fd_; }

  void submit(Operation& op);
  // Withdraws `op` if no thread has started it; returns whether it did.
  bool withdraw(Operation& op);
  // Moves the finished operations and their results into `out`, in the order they finished.
  void take_completed(std::vector<std::pair<Operation*, int64_t>>& out);
  // Operations submitted and not yet taken back.
  size_t outstanding() const;
  // Blocks until every started operation has finished (loop teardown).
  void wait_until_idle();

 private:
  void work();
  static int64_t run(Operation& op);

  const int event_fd_;
  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::condition_variable idle_;
  std::deque<Operation*> queue_;
  std::vector<std::pair<Operation*, int64_t>> finished_;
  size_t running_ = 0;
  size_t outstanding_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace giambio

#endif  // GIAMBIO_EPOLL_FILE_WORKERS_H_

// giambio/epoll/epoll_driver.h: the driver built on epoll, for kernels, containers and sandboxes
// where io_uring is unavailable. Same observable behaviour as the io_uring driver.
//
// Socket and stream operations are carried out the readiness way: the non-blocking syscall is
// tried at once; on EAGAIN (EINPROGRESS for connect) the operation waits until epoll reports its
// descriptor ready, and the syscall is tried again. Cancellation is immediate: the operation
// completes with -ECANCELED, having consumed nothing. File operations and name lookups run on
// worker threads (internal/worker_threads.h).
//
// Registrations. A descriptor giambio created (socket, socket_pair, adopt, an accepted
// connection) is registered once, edge-triggered for both directions, on its first wait, and
// stays registered until giambio closes it (the close() override): a read or write that has to
// wait costs no epoll_ctl. This is sound because every operation tries its syscall before it
// waits (or knows, below, that the syscall would fail), so the edge it needs comes after it
// starts waiting. Readiness waits on such descriptors check the current state with poll()
// first, since an edge may have gone by. Any other descriptor (io_wait.h on a pipe the program
// made) is registered, level-triggered, only while something waits on it: giambio cannot know when
// the program closes it. An owned descriptor closed on another loop's thread (a stream handed
// over) is forgotten through the process-wide registry of holders (internal/file_holders.h):
// this driver stops trusting its entry at once (the number may be reused) and, woken through an
// eventfd, drops it on its own thread; anything that waited on it gets EBADF.
//
// One syscall per read where it can be: on an owned byte stream (a stream socket or a pipe), a
// read that returns fewer bytes than it asked for has emptied it, so the next read waits for the
// next edge instead of trying a syscall that would return EAGAIN (tokio does the same). Edges
// that arrive while nobody waits still clear that mark, and a hang-up or error (after which no
// edge may come) turns it off for good. Datagram and seqpacket sockets, terminals and other
// adopted descriptors always try their syscall: a short read there does not mean empty.
//
// At most one operation may wait for each direction of a descriptor at a time (one reader: a
// receive, accept or readability wait; one writer: a send, connect or writability wait); a second
// completes with -EBUSY.
//
// Time is CLOCK_MONOTONIC; poll() waits with epoll_pwait2, so timers are exact to the
// nanosecond rather than rounded to milliseconds.
#ifndef GIAMBIO_EPOLL_EPOLL_DRIVER_H_
#define GIAMBIO_EPOLL_EPOLL_DRIVER_H_

#include <memory>
#include <utility>
#include <vector>

#include "giambio/driver.h"
#include "giambio/internal/file_holders.h"
#include "giambio/internal/worker_threads.h"

namespace giambio {

class EpollDriver final : public Driver, public internal::FileHolder {
 public:
  EpollDriver();
  ~EpollDriver() override;

  const char* name() const override { return "epoll"; }
  absl::Time now() override;
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override { return pending_ + (workers_ ? workers_->outstanding() : 0); }
  void cancel_all() override;

  // SystemCalls: descriptors giambio creates are owned (registered once, until closed).
  int socket(int family, int type) override;
  int socket_pair(int fds[2]) override;
  int adopt(int fd) override;
  int close(int fd) override;

  // epoll_ctl calls made so far (for tests: waits on owned descriptors make none).
  uint64_t interest_changes() const { return interest_changes_; }
  // Reads that waited for the next edge without trying their syscall, because the read before
  // came back short (for tests and benchmarks: one recv per message, not two).
  uint64_t reads_skipped() const { return reads_skipped_; }

 private:
  struct Descriptor {
    bool in_use = false;  // an entry of descriptors_ that stands for an open descriptor
    Operation* reader = nullptr;
    Operation* writer = nullptr;
    bool owned = false;        // created by giambio: stays registered until close()
    bool registered = false;   // known to epoll_fd_
    bool byte_stream = false;  // owned only: a SOCK_STREAM socket or a pipe (is_byte_stream)
    // Owned only. The last stream read came back shorter than asked: nothing is left to read
    // until epoll reports the next edge, so the next read waits for it without a syscall that
    // would only say EAGAIN. Cleared by any readable event (waiter or not).
    bool drained = false;
    // Owned only. A hang-up or error was reported: no further edge may come, so reads always
    // try their syscall from then on (sticky).
    bool read_closed = false;
  };
  // The entry of `fd`, or nullptr. Entries are reached by number (descriptors are small
  // integers): no hashing on the path of every read and write.
  Descriptor* find(int fd) {
    return fd >= 0 && static_cast<size_t>(fd) < descriptors_.size() && descriptors_[fd].in_use
               ? &descriptors_[fd]
               : nullptr;
  }
  // The entry of `fd`, made if there was none (`added` says so). May move every other entry.
  Descriptor& add(int fd, bool* added = nullptr);
  void erase(int fd) { descriptors_[fd] = Descriptor{}; }
  void own(int fd, bool byte_stream);
  // The driver's part of closing `fd` (its entry dropped, its waiters given EBADF, and with
  // `deregister` its epoll registration), on the loop's thread: by close() before the
  // descriptor closes, or for an owned descriptor closed on another thread (whose registration
  // the kernel drops with the file). An owned entry whose descriptor this driver no longer holds
  // (internal::held_by) is such a one, not yet dropped.
  void let_go_here(int fd, bool deregister);
  // (A number above the registry, 2^24 and up, cannot be held, so it is never found stale.)
  bool stale(int fd, const Descriptor& d) const {
    return d.owned && static_cast<size_t>(fd) < internal::kHeldFilesMax &&
           !internal::held_by(fd, *this);
  }
  // Drops the owned descriptors closed on other threads (FileHolder::closed_elsewhere).
  void clear_let_go();
  static bool is_byte_stream(int fd);
  // Tries the operation's syscall; completes it, or makes it wait for readiness.
  void attempt_or_wait(Operation& op);
  // Registers `op` to be retried when its descriptor is ready; completes it with an error if
  // that is impossible.
  void wait_for_readiness(Operation& op);
  // Brings epoll's registration of `fd` in line with `d` (an unowned descriptor with no
  // waiters is dropped, and `d` erased). Returns 0 or a negated errno.
  int update_interest(int fd, Descriptor& d);
  void finish(Operation& op, int64_t result);

  internal::WorkerThreads& workers();
  void deliver_worker_completions();

  int epoll_fd_;
  size_t pending_ = 0;
  uint64_t interest_changes_ = 0;
  uint64_t reads_skipped_ = 0;
  std::vector<Descriptor> descriptors_;               // by descriptor number; see find()
  std::unique_ptr<internal::WorkerThreads> workers_;  // created on first use
  std::vector<std::pair<Operation*, int64_t>> worker_completions_;  // scratch
};

}  // namespace giambio

#endif  // GIAMBIO_EPOLL_EPOLL_DRIVER_H_

// giambio/uring/uring_driver.h: the production driver, on io_uring (liburing).
//
// Setup probes the kernel: it asks for the setup flags that help a single-threaded loop
// (SUBMIT_ALL, COOP_TASKRUN, TASKRUN_FLAG, SINGLE_ISSUER, DEFER_TASKRUN) and drops them one at a
// time, last first, while the kernel answers EINVAL, then checks with the probe API that every
// opcode giambio uses exists. With DEFER_TASKRUN (6.1+) the kernel finishes completions only when
// the loop enters to collect them, on its own thread, in one batch; TASKRUN_FLAG makes it say so
// in the ring, so a turn that does not wait enters the kernel only when there is something to
// submit or to collect. On its first poll() the driver registers the ring's
// descriptor (io_uring_register_ring_fd) for the loop's thread, so io_uring_enter skips the
// descriptor lookup; where that fails it is simply not used. If
// io_uring cannot be set up at all (the io_uring_disabled sysctl, a seccomp filter answering
// EPERM or ENOSYS, a memlock limit), create() says why and the loop falls back to epoll.
//
// Submissions are batched: submit() only fills submission-queue entries, and poll() hands them
// all to the kernel with the wait for completions, in one io_uring_enter per loop turn. A full
// submission queue is never the caller's problem: submit() flushes it to the kernel and goes
// on.
//
// Completions are never lost. The completion queue gets kCompletionsPerEntry times the
// submission entries, and setup requires IORING_FEAT_NODROP: when more operations complete than
// the queue holds, the kernel parks the surplus and reap() fetches it (io_uring_get_events)
// as soon as the ring says so. (Holding operations back until the queue has room is not an
// option: the operations in flight may be receives waiting for sends held back behind them.
// uring_driver_test's tiny ring under load is the test.)
//
// cancel(op) asks the kernel with IORING_OP_ASYNC_CANCEL; the operation then completes later,
// with -ECANCELED or with its real result if it had already finished, and its buffers stay in
// use until that completion.
//
// Accepting uses multishot accept where the kernel has it (5.19+; plain accept otherwise, found
// out by the first attempt): one request per listening socket stays armed and every connection
// it accepts goes to that socket's queue, from which accept operations take. A cancelled accept
// therefore loses no connection (the next accept gets it). The queue holds at most
// kAcceptedMax connections nobody asked for; then the request is cancelled and the kernel's
// backlog holds the rest until the next accept re-arms it. Closing the listener (close(), the
// seam's close hook) cancels the request synchronously, so the socket really closes, and
// closes the queued connections.
//
// Registered descriptors. The ring has a sparse table of registered files (as many slots as the
// descriptor limit allows, at most kFixedFilesMax); every descriptor giambio makes (socket,
// socket_pair, adopt, an accepted connection) is registered in the slot of its own number, and
// operations on it name the slot (IOSQE_FIXED_FILE), so the kernel skips looking the file up
// and counting a reference per operation. close() clears the slot before the descriptor closes,
// so a reused number never reaches the old file. A descriptor closed on another thread (a stream
// handed to another loop) goes through the process-wide registry of holders
// (internal/file_holders.h): from then on this ring uses the number by value, and the other
// thread's close wakes this ring (an eventfd it polls once it holds any file), which clears the
// slot on its own thread so the file really closes. A descriptor the program made itself, one
// above the table, or any descriptor where the kernel refuses the table, is used by number.
//
// Receiving is one plain recv per read, into the caller's buffer, and sending one plain send
// per write. Multishot receive with a ring of provided buffers was built and measured slower here
// (docs/architecture.md, "Decision (2026-11-30), receiving"); zero-copy send copies anyway over
// loopback and was slower at every size (docs/benchmarks.md, "Zero-copy send").
//
// Name lookups (kResolve) have no opcode: they run on worker threads (internal/worker_threads.h),
// whose eventfd the ring polls while any is outstanding.
#ifndef GIAMBIO_URING_URING_DRIVER_H_
#define GIAMBIO_URING_URING_DRIVER_H_

#include <liburing.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "giambio/driver.h"
#include "giambio/internal/file_holders.h"
#include "giambio/internal/worker_threads.h"

namespace giambio {

class UringDriver final : public Driver, public internal::FileHolder {
 public:
  // Submission-queue entries, and completion-queue entries per submission entry.
  static constexpr unsigned kEntries = 256;
  static constexpr unsigned kCompletionsPerEntry = 8;

  // Accepted connections a listener may hold that no accept has asked for yet.
  static constexpr size_t kAcceptedMax = 128;

  // The most slots the table of registered descriptors gets (fewer if RLIMIT_NOFILE is lower).
  static constexpr size_t kFixedFilesMax = 16384;

  // multishot_accept = false forces plain accept (tests of both paths).
  static absl::StatusOr<std::unique_ptr<UringDriver>> create(unsigned entries = kEntries,
                                                             bool multishot_accept = true);
  ~UringDriver() override;

  const char* name() const override { return "io_uring"; }
  absl::Time now() override;
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override {
    return in_flight_ops_ + (workers_ ? workers_->outstanding() : 0);
  }
  void cancel_all() override;
  // Register the descriptors they make (above); close() clears a registration, and tears down a
  // listener's multishot accept, before closing.
  int socket(int family, int type) override;
  int socket_pair(int fds[2]) override;
  int adopt(int fd) override;
  int close(int fd) override;

  // MSG_RING (driver.h): when the kernel has it (and skips a successful ring's own completion).
  int open_doorbell(std::function<void()> rang) override;
  bool ring_doorbell(int doorbell, int fallback) override;
  // How many doorbells this driver has rung, for tests.
  uint64_t doorbells_rung() const { return doorbells_rung_; }

  // Descriptors registered now (for tests), and the table's size (0: no table).
  size_t fixed_files() const { return fixed_count_; }
  size_t fixed_table_size() const { return fixed_.size(); }

  // The setup flags the kernel accepted, for logs and tests.
  unsigned setup_flags() const { return setup_flags_; }
  // Whether accept is multishot (false once the kernel refused it), and how many connections
  // came that way.
  bool multishot_accept() const { return multishot_accept_; }
  uint64_t multishot_accepted() const { return multishot_accepted_; }

 private:
  UringDriver() = default;
  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    return sqe != nullptr ? sqe : get_sqe_after_submit();
  }
  // The submission queue is full: hands it to the kernel and takes a fresh entry.
  io_uring_sqe* get_sqe_after_submit();
  void reap();

  // One listening socket's multishot accept.
  struct Acceptor {
    int fd = -1;
    bool armed = false;    // a multishot request is in the kernel
    bool closing = false;  // the listener closed: drop what arrives, free at the last completion
    Operation* waiter = nullptr;
    std::deque<int> ready;  // accepted, not yet asked for (at most kAcceptedMax)
  };
  void accept_multishot(Operation& op);
  void arm(Acceptor& acceptor);
  void cancel_request(uint64_t user_data, bool now);
  void on_accepted(Acceptor& acceptor, int result, bool more);
  void retire(Acceptor& acceptor);
  // Whether `fd` is a listening socket (SO_ACCEPTCONN).
  static bool listening(int fd);
  // Registers `fd` in its slot of the table, if it fits; unregisters it.
  void register_fixed(int fd);
  void unregister_fixed(int fd);
  // What this ring holds of `fd`'s file, dropped: its slot, and a listener's armed accept (the
  // queued connections are closed, a waiting accept gets EBADF). Before `fd` closes, on this
  // ring's thread: by close(), or for a descriptor closed on another thread.
  void let_go_here(int fd);
  // Points `sqe` at `fd`'s slot if its file is the one registered there (not closed meanwhile
  // on another thread).
  void use_fixed(io_uring_sqe* sqe, int fd) const {
    if (internal::held_by(fd, *this)) {
      sqe->fd = fd;
      sqe->flags |= IOSQE_FIXED_FILE;
    }
  }
  // Clears the slots of the files closed on other threads (FileHolder::closed_elsewhere).
  void clear_let_go();
  void watch_let_go();
  // Worker threads: started on the first lookup; their eventfd is polled while work is out.
  void submit_to_workers(Operation& op);
  void watch_workers();
  void deliver_worker_completions();

  io_uring ring_{};
  unsigned setup_flags_ = 0;
  // Operations whose completion is still to come, and entries of any kind (operations and
  // cancel requests) that will each produce one completion.
  size_t in_flight_ops_ = 0;
  size_t completions_expected_ = 0;
  bool multishot_accept_ = true;
  uint64_t multishot_accepted_ = 0;
  std::unordered_map<int, std::unique_ptr<Acceptor>> acceptors_;  // by listening fd
  std::vector<std::unique_ptr<Acceptor>> closing_acceptors_;      // until their last completion
  std::unique_ptr<internal::WorkerThreads> workers_;
  bool watching_workers_ = false;
  std::vector<std::pair<Operation*, int64_t>> worker_completions_;  // scratch
  bool has_msg_ring_ = false;
  bool ring_fd_registered_ = false;  // tried, on the first poll()
  std::vector<uint8_t> fixed_;       // by descriptor number: 1 if its slot holds a file
  size_t fixed_count_ = 0;
  // The holder's eventfd (closes on other threads) is polled from the first registration on.
  bool watching_let_go_ = false;
  bool cancelling_all_ = false;
  uint64_t doorbells_rung_ = 0;
  std::function<void()> doorbell_rang_;
};

}  // namespace giambio

#endif  // GIAMBIO_URING_URING_DRIVER_H_

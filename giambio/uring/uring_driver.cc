#include "giambio/uring/uring_driver.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/internal/monotonic_clock.h"

namespace giambio {
namespace {

// The user_data of entries whose completion is not an operation's: cancel requests, and the
// poll of the worker threads' eventfd.
constexpr uint64_t kInternal = 0;
constexpr uint64_t kWorkersReady = 1;
// An acceptor's multishot request: its address with this tag in the low bits (operations are
// at least 8-byte aligned, so their addresses have them clear).
constexpr uint64_t kAcceptorTag = 2;
// A completion another loop's driver posted into this ring with MSG_RING (its doorbell).
constexpr uint64_t kDoorbellRang = 3;
// This ring's MSG_RING that failed (a success posts nothing here): the fallback eventfd in the
// bits above the tag.
constexpr uint64_t kDoorbellFailedTag = 4;
constexpr uint64_t kTagMask = 7;
// The poll of the eventfd other threads write when they close a descriptor this ring holds.
constexpr uint64_t kLetGo = 5;

constexpr int kOpcodesUsed[] = {
    IORING_OP_POLL_ADD, IORING_OP_ACCEPT,  IORING_OP_CONNECT, IORING_OP_RECV,
    IORING_OP_SEND,     IORING_OP_READ,    IORING_OP_WRITE,   IORING_OP_OPENAT,
    IORING_OP_FSYNC,    IORING_OP_SENDMSG, IORING_OP_RECVMSG, IORING_OP_ASYNC_CANCEL,
};

}  // namespace

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::create(unsigned entries,
                                                                 bool multishot_accept) {
  std::unique_ptr<UringDriver> driver(new UringDriver());
  driver->multishot_accept_ = multishot_accept;
  // Most helpful first; dropped from the end while the kernel says EINVAL. TASKRUN_FLAG needs
  // COOP_TASKRUN, DEFER_TASKRUN needs SINGLE_ISSUER: each comes after what it needs.
  const unsigned wanted[] = {IORING_SETUP_SUBMIT_ALL, IORING_SETUP_COOP_TASKRUN,
                             IORING_SETUP_TASKRUN_FLAG, IORING_SETUP_SINGLE_ISSUER,
                             IORING_SETUP_DEFER_TASKRUN};
  int result = -EINVAL;
  io_uring_params params{};
  for (int count = std::size(wanted); count >= 0 && result == -EINVAL; --count) {
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = entries * kCompletionsPerEntry;
    for (int i = 0; i < count; ++i) params.flags |= wanted[i];
    result = io_uring_queue_init_params(entries, &driver->ring_, &params);
  }
  if (result != 0) {
    return absl::ErrnoToStatus(-result, "io_uring_queue_init");
  }
  driver->setup_flags_ = params.flags;
  if (!(params.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(&driver->ring_);
    return absl::UnavailableError("io_uring: the kernel may drop completions (no FEAT_NODROP)");
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&driver->ring_);
  if (probe == nullptr) {
    io_uring_queue_exit(&driver->ring_);
    return absl::UnavailableError("io_uring_get_probe_ring: the kernel cannot be probed");
  }
  for (int opcode : kOpcodesUsed) {
    if (!io_uring_opcode_supported(probe, opcode)) {
      io_uring_free_probe(probe);
      io_uring_queue_exit(&driver->ring_);
      return absl::UnavailableError(absl::StrCat("io_uring: the kernel lacks opcode ", opcode));
    }
  }
  driver->has_msg_ring_ = io_uring_opcode_supported(probe, IORING_OP_MSG_RING) &&
                          (params.features & IORING_FEAT_CQE_SKIP) != 0;
  io_uring_free_probe(probe);
  // The table of registered descriptors: optional (an old kernel or a low limit goes without).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const size_t slots = std::min<size_t>(files.rlim_cur, kFixedFilesMax);
    // Without the eventfd that other threads' closes wake it through, the ring holds no files.
    if (driver->let_go_event() >= 0 &&
        io_uring_register_files_sparse(&driver->ring_, static_cast<unsigned>(slots)) == 0) {
      driver->fixed_.assign(slots, 0);
    }
  }
  return driver;
}

void UringDriver::register_fixed(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= fixed_.size() || internal::held_by(fd, *this)) return;
  // A slot still holding a file that another thread closed (not cleared yet) is let go first,
  // with the accept request that may be armed on it.
  if (fixed_[fd]) let_go_here(fd);
  if (io_uring_register_files_update(&ring_, static_cast<unsigned>(fd), &fd, 1) == 1) {
    fixed_[fd] = 1;
    ++fixed_count_;
    internal::hold(fd, *this);
    watch_let_go();
  }
}

void UringDriver::unregister_fixed(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= fixed_.size() || !fixed_[fd]) return;
  const int none = -1;
  const int result = io_uring_register_files_update(&ring_, static_cast<unsigned>(fd), &none, 1);
  // Left registered, the slot would keep the file open and catch a reused number's operations.
  GIAMBIO_CHECK(result == 1, "io_uring: clearing the registration of fd ", fd, " failed (", result,
                ")");
  fixed_[fd] = 0;
  --fixed_count_;
  internal::release(fd, *this);  // unless the number is another ring's file by now
}

void UringDriver::clear_let_go() {
  for (const int fd : closed_elsewhere()) {
    // Registered again here since (a new file with the number, which let_go_here dealt with
    // then): that slot stays.
    if (internal::held_by(fd, *this)) continue;
    let_go_here(fd);
  }
  watch_let_go();
}

void UringDriver::watch_let_go() {
  if (watching_let_go_ || cancelling_all_) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, let_go_event(), POLLIN);
  io_uring_sqe_set_data64(sqe, kLetGo);
  watching_let_go_ = true;
  ++completions_expected_;
}

int UringDriver::socket(int family, int type) {
  const int fd = SystemCalls::socket(family, type);
  register_fixed(fd);
  return fd;
}

int UringDriver::socket_pair(int fds[2]) {
  const int result = SystemCalls::socket_pair(fds);
  if (result >= 0) {
    register_fixed(fds[0]);
    register_fixed(fds[1]);
  }
  return result;
}

int UringDriver::adopt(int fd) {
  const int result = SystemCalls::adopt(fd);
  if (result >= 0) register_fixed(fd);
  return result;
}

int UringDriver::open_doorbell(std::function<void()> rang) {
  if (!has_msg_ring_) return -1;
  const int doorbell = fcntl(ring_.ring_fd, F_DUPFD_CLOEXEC, 0);
  if (doorbell < 0) return -1;
  doorbell_rang_ = std::move(rang);
  return doorbell;
}

bool UringDriver::ring_doorbell(int doorbell, int fallback) {
  if (!has_msg_ring_ || fallback < 0) return false;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_msg_ring(sqe, doorbell, 0, kDoorbellRang, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(sqe, (static_cast<uint64_t>(fallback) << 3) | kDoorbellFailedTag);
  ++doorbells_rung_;
  return true;
}

UringDriver::~UringDriver() {
  internal::leave(*this);  // first: no other thread tells this ring anything from here on
  cancel_all();
  io_uring_queue_exit(&ring_);  // drops the registered files
}

absl::Time UringDriver::now() { return internal::monotonic_now(); }

io_uring_sqe* UringDriver::get_sqe_after_submit() {
  io_uring_sqe* sqe = nullptr;
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void UringDriver::submit_to_workers(Operation& op) {
  if (!workers_) workers_ = std::make_unique<internal::WorkerThreads>();
  workers_->submit(op);
  watch_workers();
}

void UringDriver::watch_workers() {
  if (watching_workers_ || workers_->outstanding() == 0) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, workers_->event_fd(), POLLIN);
  io_uring_sqe_set_data64(sqe, kWorkersReady);
  watching_workers_ = true;
  ++completions_expected_;
}

void UringDriver::deliver_worker_completions() {
  worker_completions_.clear();
  workers_->take_completed(worker_completions_);
  watch_workers();
  for (auto [op, result] : worker_completions_) op->complete(result);
}

void UringDriver::accept_multishot(Operation& op) {
  std::unique_ptr<Acceptor>& acceptor = acceptors_[op.fd()];
  if (!acceptor) {
    acceptor = std::make_unique<Acceptor>();
    acceptor->fd = op.fd();
  }
  if (acceptor->waiter != nullptr) {
    op.complete(-EBUSY);
    return;
  }
  if (!acceptor->ready.empty()) {
    const int fd = acceptor->ready.front();
    acceptor->ready.pop_front();
    if (op.address != nullptr) getpeername(fd, op.address, op.address_length);
    register_fixed(fd);
    op.complete(fd);
    return;
  }
  acceptor->waiter = &op;
  ++in_flight_ops_;
  arm(*acceptor);
}

void UringDriver::arm(Acceptor& acceptor) {
  if (acceptor.armed) return;
  io_uring_sqe* sqe = get_sqe();
  // No address: one buffer would be shared by every connection; accept_multishot asks later.
  io_uring_prep_multishot_accept(sqe, acceptor.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  use_fixed(sqe, acceptor.fd);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&acceptor) | kAcceptorTag);
  acceptor.armed = true;
  ++completions_expected_;
}

void UringDriver::cancel_request(uint64_t user_data, bool now) {
  if (now) {
    // Synchronous: when it returns the request has let go of its file (kernel 6.0+).
    io_uring_sync_cancel_reg cancel{};
    cancel.addr = user_data;
    cancel.timeout.tv_sec = -1;
    cancel.timeout.tv_nsec = -1;
    const int result = io_uring_register_sync_cancel(&ring_, &cancel);
    if (result >= 0 || result == -ENOENT || result == -EALREADY) {
      // With DEFER_TASKRUN the cancelled request lets go of its file in task work that runs
      // only when the loop asks for completions: ask now (the completion stays queued).
      if (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) io_uring_get_events(&ring_);
      return;
    }
  }
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kInternal);
  ++completions_expected_;
  if (now) io_uring_submit(&ring_);
}

// Runs inside reap(), after the completion has left the ring. The waiting accept, if this
// completion is for it, is told last, once the acceptor's state is settled.
void UringDriver::on_accepted(Acceptor& acceptor, int result, bool more) {
  if (!more) acceptor.armed = false;
  if (acceptor.closing) {
    if (result >= 0) SystemCalls::close(result);
    if (!more) retire(acceptor);
    return;
  }
  Operation* told = nullptr;         // the waiting accept, completed with `result`
  Operation* resubmitted = nullptr;  // the waiting accept, submitted again as a plain accept
  if (result >= 0) {
    ++multishot_accepted_;
    if (Operation* waiter = std::exchange(acceptor.waiter, nullptr)) {
      --in_flight_ops_;
      if (waiter->address != nullptr) getpeername(result, waiter->address, waiter->address_length);
      register_fixed(result);  // handed out (a queued one is registered when it is taken)
      told = waiter;
    } else {
      acceptor.ready.push_back(result);
      if (acceptor.ready.size() >= kAcceptedMax && more) {
        cancel_request(reinterpret_cast<uint64_t>(&acceptor) | kAcceptorTag, /*now=*/false);
      }
    }
  } else if (result == -EINVAL && !more && listening(acceptor.fd)) {
    // Refused on a listening socket: a kernel without multishot accept (before 5.19), so plain
    // accepts from now on. On a socket that does not listen, EINVAL is the accept's own error.
    multishot_accept_ = false;
    if (Operation* waiter = std::exchange(acceptor.waiter, nullptr)) {
      --in_flight_ops_;
      resubmitted = waiter;
    }
  } else if (result != -ECANCELED) {
    // The request ended with an error (EMFILE, ENFILE, ...): the waiting accept reports it, and
    // the next accept arms a fresh request.
    if (Operation* waiter = std::exchange(acceptor.waiter, nullptr)) {
      --in_flight_ops_;
      told = waiter;
    }
  }
  if (!more && acceptor.waiter != nullptr) arm(acceptor);
  if (resubmitted != nullptr) submit(*resubmitted);
  if (told != nullptr) told->complete(result);
}

bool UringDriver::listening(int fd) {
  int listens = 0;
  socklen_t length = sizeof(listens);
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listens, &length) == 0 && listens != 0;
}

void UringDriver::retire(Acceptor& acceptor) {
  auto it = std::find_if(closing_acceptors_.begin(), closing_acceptors_.end(),
                         [&](const std::unique_ptr<Acceptor>& a) { return a.get() == &acceptor; });
  if (it != closing_acceptors_.end()) closing_acceptors_.erase(it);
}

int UringDriver::close(int fd) {
  let_go_here(fd);
  return SystemCalls::close(fd);
}

void UringDriver::let_go_here(int fd) {
  unregister_fixed(fd);
  auto it = acceptors_.find(fd);
  if (it != acceptors_.end()) {
    std::unique_ptr<Acceptor> acceptor = std::move(it->second);
    acceptors_.erase(it);
    for (const int ready : acceptor->ready) SystemCalls::close(ready);
    acceptor->ready.clear();
    if (Operation* waiter = std::exchange(acceptor->waiter, nullptr)) {
      --in_flight_ops_;
      waiter->complete(-EBADF);
    }
    if (acceptor->armed) {
      acceptor->closing = true;
      Acceptor& closing = *acceptor;
      closing_acceptors_.push_back(std::move(acceptor));
      cancel_request(reinterpret_cast<uint64_t>(&closing) | kAcceptorTag, /*now=*/true);
    }
  }
}

void UringDriver::submit(Operation& op) {
  if (op.kind() == OpKind::kResolve) {
    submit_to_workers(op);
    return;
  }
  if (op.kind() == OpKind::kAccept && multishot_accept_) {
    accept_multishot(op);
    return;
  }
  io_uring_sqe* sqe = get_sqe();
  switch (op.kind()) {
    case OpKind::kWaitReadable:
      io_uring_prep_poll_add(sqe, op.fd(), POLLIN | POLLRDHUP);
      break;
    case OpKind::kWaitWritable:
      io_uring_prep_poll_add(sqe, op.fd(), POLLOUT);
      break;
    case OpKind::kAccept:
      io_uring_prep_accept(sqe, op.fd(), op.address, op.address_length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::kConnect:
      io_uring_prep_connect(sqe, op.fd(), op.address, *op.address_length);
      break;
    case OpKind::kReceive:
      io_uring_prep_recv(sqe, op.fd(), op.buffer, op.length, op.flags);
      break;
    case OpKind::kSend:
      io_uring_prep_send(sqe, op.fd(), op.buffer, op.length, op.flags | MSG_NOSIGNAL);
      break;
    case OpKind::kRead:
      io_uring_prep_read(sqe, op.fd(), op.buffer, op.length, static_cast<uint64_t>(-1));
      break;
    case OpKind::kWrite:
      io_uring_prep_write(sqe, op.fd(), op.buffer, op.length, static_cast<uint64_t>(-1));
      break;
    case OpKind::kOpen:
      io_uring_prep_openat(sqe, AT_FDCWD, op.path, op.flags | O_CLOEXEC, op.mode);
      break;
    case OpKind::kReadAt:
      io_uring_prep_read(sqe, op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kWriteAt:
      io_uring_prep_write(sqe, op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kSync:
      io_uring_prep_fsync(sqe, op.fd(), 0);
      break;
    case OpKind::kSendMessage:
      io_uring_prep_sendmsg(sqe, op.fd(), op.message, op.flags | MSG_NOSIGNAL);
      break;
    case OpKind::kReceiveMessage:
      io_uring_prep_recvmsg(sqe, op.fd(), op.message, op.flags);
      break;
    case OpKind::kResolve:
      break;  // handed to the worker threads above
  }
  if (op.kind() != OpKind::kOpen) use_fixed(sqe, op.fd());
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(&op));
  ++in_flight_ops_;
  ++completions_expected_;
}

void UringDriver::cancel(Operation& op) {
  if (op.kind() == OpKind::kResolve) {
    if (workers_->withdraw(op)) op.complete(-ECANCELED);
    return;
  }
  if (op.kind() == OpKind::kAccept) {
    auto it = acceptors_.find(op.fd());
    if (it != acceptors_.end() && it->second->waiter == &op) {
      // The request stays armed; a connection it accepts now waits in the queue.
      it->second->waiter = nullptr;
      --in_flight_ops_;
      op.complete(-ECANCELED);
      return;
    }
    if (multishot_accept_) return;  // not waiting (any more)
  }
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(&op), 0);
  io_uring_sqe_set_data64(sqe, kInternal);
  ++completions_expected_;
}

void UringDriver::poll(absl::Time deadline) {
  if (!ring_fd_registered_) {
    // On the loop's thread (a registered ring fd belongs to the thread that registered it): from
    // now on io_uring_enter skips looking the ring's descriptor up. Optional.
    ring_fd_registered_ = true;
    (void)io_uring_register_ring_fd(&ring_);
  }
  if (deadline == absl::InfinitePast()) {
    // Enters the kernel only if there is something to submit, or (TASKRUN_FLAG) the kernel
    // flagged completions it has yet to post: with DEFER_TASKRUN they are posted only when the
    // loop asks, so a loop that never waits must ask here. Otherwise no syscall.
    io_uring_submit(&ring_);
  } else {
    timespec storage;
    timespec* wait = internal::wait_timespec(deadline, storage);
    __kernel_timespec timeout{};
    if (wait != nullptr) {
      timeout.tv_sec = wait->tv_sec;
      timeout.tv_nsec = wait->tv_nsec;
    }
    io_uring_cqe* cqe = nullptr;
    // One io_uring_enter: submit everything queued this turn and wait for a completion.
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, wait != nullptr ? &timeout : nullptr,
                                     nullptr);
  }
  reap();
}

void UringDriver::reap() {
  // Completions the kernel parked because the queue was full come back into the queue first.
  if (io_uring_cq_has_overflow(&ring_)) io_uring_get_events(&ring_);
  bool workers_ready = false;
  bool doorbell_rang = false;
  bool let_go = false;
  // Each completion leaves the ring before it is delivered, so complete() may submit new
  // operations (write_all's next round) in the middle of the batch.
  while (true) {
    const unsigned head = *ring_.cq.khead;
    if (head == io_uring_smp_load_acquire(ring_.cq.ktail)) break;
    const io_uring_cqe& cqe = ring_.cq.cqes[io_uring_cqe_index(&ring_, head, ring_.cq.ring_mask)];
    const uint64_t data = cqe.user_data;
    const int result = cqe.res;
    const bool more = cqe.flags & IORING_CQE_F_MORE;
    io_uring_cq_advance(&ring_, 1);
    if ((data & kTagMask) == 0 && data != kInternal) [[likely]] {
      // An operation's: the common case, first.
      GIAMBIO_CHECK(completions_expected_ > 0 && in_flight_ops_ > 0, "io_uring: operation ", data,
                    " completed (res ", result, ") with ", completions_expected_,
                    " completions expected and ", in_flight_ops_, " operations in flight");
      --completions_expected_;
      --in_flight_ops_;
      Operation* op = reinterpret_cast<Operation*>(data);
      if (op->kind() == OpKind::kAccept && result >= 0) register_fixed(result);
      op->complete(result);
      continue;
    }
    // Doorbells come from other rings, unasked: none of them is an expected completion.
    if (data == kDoorbellRang) {
      doorbell_rang = true;
      continue;
    }
    if ((data & kTagMask) == kDoorbellFailedTag) {
      // EAGAIN only when the counter is full, which means a wake-up is waiting already.
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t written = ::write(static_cast<int>(data >> 3), &one, 8);
      continue;
    }
    GIAMBIO_CHECK(completions_expected_ > 0, "io_uring: a completion (user_data ", data, ", res ",
                  result, ") arrived with none expected");
    if ((data & kTagMask) == kAcceptorTag) {
      if (!more) --completions_expected_;
      on_accepted(*reinterpret_cast<Acceptor*>(data & ~kTagMask), result, more);
      continue;
    }
    --completions_expected_;
    if (data == kWorkersReady) {
      watching_workers_ = false;
      workers_ready = true;
    } else if (data == kLetGo) {
      watching_let_go_ = false;
      let_go = true;
    }
  }
  if (let_go) clear_let_go();
  if (workers_ready) deliver_worker_completions();
  if (doorbell_rang && doorbell_rang_) doorbell_rang_();
}

void UringDriver::cancel_all() {
  cancelling_all_ = true;  // the let-go watch is not armed again
  if (workers_) {
    // Lookups were withdrawn (or abandoned) by their owners' aborts; deliver what finished.
    workers_->wait_until_idle();
    deliver_worker_completions();
  }
  for (auto& [fd, acceptor] : acceptors_) {
    for (const int ready : acceptor->ready) SystemCalls::close(ready);
    acceptor->ready.clear();
    if (Operation* waiter = std::exchange(acceptor->waiter, nullptr)) {
      --in_flight_ops_;
      waiter->complete(-ECANCELED);
    }
    acceptor->closing = true;
    if (acceptor->armed) closing_acceptors_.push_back(std::move(acceptor));
  }
  acceptors_.clear();
  if (completions_expected_ == 0) return;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(sqe, kInternal);
  ++completions_expected_;
  while (completions_expected_ > 0) {
    const int result = io_uring_submit_and_wait(&ring_, 1);
    if (result < 0 && result != -EINTR) break;
    reap();
  }
  GIAMBIO_CHECK(completions_expected_ > 0 || in_flight_ops_ == 0, "io_uring: ", in_flight_ops_,
                " operations still in flight after every completion arrived");
}

}  // namespace giambio

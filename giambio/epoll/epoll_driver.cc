#include "giambio/epoll/epoll_driver.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/internal/monotonic_clock.h"

namespace giambio {
namespace {

constexpr int kEventsMax = 256;
// Operation::driver_state for a connect whose syscall has started (EINPROGRESS).
constexpr uint32_t kConnectStarted = 1;

bool is_reader(OpKind kind) {
  return kind == OpKind::kWaitReadable || kind == OpKind::kAccept || kind == OpKind::kReceive ||
         kind == OpKind::kRead || kind == OpKind::kReceiveMessage;
}

int64_t syscall_result(ssize_t result) { return result >= 0 ? result : -errno; }

// The operation's syscall, non-blocking. -EAGAIN (or -EINPROGRESS) means: wait for readiness.
int64_t attempt(Operation& op) {
  switch (op.kind()) {
    case OpKind::kWaitReadable:
    case OpKind::kWaitWritable:
      return -EAGAIN;
    case OpKind::kAccept:  // the connection is owned: EpollDriver::finish
      return syscall_result(
          accept4(op.fd(), op.address, op.address_length, SOCK_NONBLOCK | SOCK_CLOEXEC));
    case OpKind::kConnect:
      if (op.driver_state == kConnectStarted) {
        int error = 0;
        socklen_t length = sizeof(error);
        if (getsockopt(op.fd(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return -errno;
        return -error;
      }
      if (connect(op.fd(), op.address, *op.address_length) == 0) return 0;
      if (errno == EINPROGRESS) {
        op.driver_state = kConnectStarted;
        return -EAGAIN;
      }
      return -errno;
    case OpKind::kReceive:
      return syscall_result(recv(op.fd(), op.buffer, op.length, op.flags | MSG_DONTWAIT));
    case OpKind::kSend:
      return syscall_result(
          send(op.fd(), op.buffer, op.length, op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    case OpKind::kRead:
      return syscall_result(read(op.fd(), op.buffer, op.length));
    case OpKind::kWrite:
      return syscall_result(write(op.fd(), op.buffer, op.length));
    case OpKind::kSendMessage:
      return syscall_result(sendmsg(op.fd(), op.message, op.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
    case OpKind::kReceiveMessage:
      return syscall_result(recvmsg(op.fd(), op.message, op.flags | MSG_DONTWAIT));
    case OpKind::kOpen:
    case OpKind::kReadAt:
    case OpKind::kWriteAt:
    case OpKind::kSync:
    case OpKind::kResolve:
      break;  // run by WorkerThreads
  }
  return -EINVAL;
}

// For a readiness wait: the descriptor's present state, or -EAGAIN when it is not ready.
int64_t current_readiness(const Operation& op) {
  const bool reading = op.kind() == OpKind::kWaitReadable;
  pollfd entry{};
  entry.fd = op.fd();
  entry.events = reading ? (POLLIN | POLLRDHUP) : POLLOUT;
  if (::poll(&entry, 1, 0) < 0) return -errno;
  if (entry.revents & POLLNVAL) return -EBADF;
  return entry.revents != 0 ? entry.revents : -EAGAIN;
}

}  // namespace

EpollDriver::EpollDriver() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = let_go_event();
  if (epoll_fd_ < 0 || let_go_event() < 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, let_go_event(), &event) != 0) {
    const int error = errno;
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    throw std::runtime_error(absl::StrCat("epoll driver setup: ", std::strerror(error)));
  }
}

EpollDriver::~EpollDriver() {
  internal::leave(*this);  // first: no other thread tells this driver anything from here on
  ::close(epoll_fd_);
}

absl::Time EpollDriver::now() { return internal::monotonic_now(); }

int EpollDriver::socket(int family, int type) {
  const int fd = SystemCalls::socket(family, type);
  if (fd >= 0) own(fd, type == SOCK_STREAM);
  return fd;
}

int EpollDriver::socket_pair(int fds[2]) {
  const int result = SystemCalls::socket_pair(fds);
  if (result >= 0) {
    own(fds[0], /*byte_stream=*/true);  // AF_UNIX, SOCK_STREAM
    own(fds[1], /*byte_stream=*/true);
  }
  return result;
}

int EpollDriver::adopt(int fd) {
  const int result = SystemCalls::adopt(fd);
  if (result >= 0) own(fd, is_byte_stream(fd));
  return result;
}

// A stream socket or a pipe: a read that returns fewer bytes than asked has emptied it. Not so
// for datagram and seqpacket sockets (one message per read), terminals (one line per read) or
// anything else a program may hand over.
bool EpollDriver::is_byte_stream(int fd) {
  int type = 0;
  socklen_t length = sizeof(type);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0) return type == SOCK_STREAM;
  struct stat info;
  return ::fstat(fd, &info) == 0 && S_ISFIFO(info.st_mode);
}

int EpollDriver::close(int fd) {
  let_go_here(fd, /*deregister=*/true);
  return SystemCalls::close(fd);
}

void EpollDriver::let_go_here(int fd, bool deregister) {
  internal::release(fd, *this);  // unless the number is another driver's file by now
  if (Descriptor* entry = find(fd)) {
    Descriptor& d = *entry;
    // Giambio's own handles withdraw their operations before closing; anything still waiting
    // gets what its syscall would get on a closed descriptor, rather than waiting forever.
    Operation* waiting[] = {std::exchange(d.reader, nullptr), std::exchange(d.writer, nullptr)};
    // Deregister explicitly: a forked child may still hold the open file. (Not for a descriptor
    // closed elsewhere: its number may be another file's already.)
    if (d.registered && deregister) {
      ++interest_changes_;
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    erase(fd);
    for (Operation* op : waiting) {
      if (op == nullptr) continue;
      GIAMBIO_CHECK(pending_ > 0, "epoll: fd ", fd, " had a waiter with none pending");
      --pending_;
      op->complete(-EBADF);
    }
  }
}

void EpollDriver::clear_let_go() {
  for (const int fd : closed_elsewhere()) {
    // Owned again since (a new descriptor with the number): that entry stays.
    if (const Descriptor* d = find(fd); d != nullptr && stale(fd, *d)) let_go_here(fd, false);
  }
}

EpollDriver::Descriptor& EpollDriver::add(int fd, bool* added) {
  GIAMBIO_CHECK(fd >= 0, "epoll: descriptor ", fd, " is negative");
  if (static_cast<size_t>(fd) >= descriptors_.size()) {
    descriptors_.resize(std::max<size_t>(static_cast<size_t>(fd) + 1, 2 * descriptors_.size()));
  }
  Descriptor& d = descriptors_[fd];
  if (added != nullptr) *added = !d.in_use;
  d.in_use = true;
  return d;
}

void EpollDriver::own(int fd, bool byte_stream) {
  if (const Descriptor* old = find(fd); old != nullptr && stale(fd, *old)) let_go_here(fd, false);
  Descriptor& d = add(fd);
  internal::hold(fd, *this);
  if (d.owned) return;
  // An unowned entry under this number belonged to a descriptor the program closed by itself.
  if (d.registered) {
    ++interest_changes_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    d.registered = false;
  }
  d.owned = true;
  d.byte_stream = byte_stream;
  if (d.reader != nullptr || d.writer != nullptr) update_interest(fd, d);
}

int EpollDriver::update_interest(int fd, Descriptor& d) {
  epoll_event event{};
  event.data.fd = fd;
  int operation = EPOLL_CTL_ADD;
  if (d.owned) {
    if (d.registered) return 0;
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  } else {
    if (d.reader != nullptr) event.events |= EPOLLIN | EPOLLRDHUP;
    if (d.writer != nullptr) event.events |= EPOLLOUT;
    if (event.events == 0) {
      if (d.registered) {
        ++interest_changes_;
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      }
      erase(fd);
      return 0;
    }
    if (d.registered) operation = EPOLL_CTL_MOD;
  }
  ++interest_changes_;
  if (epoll_ctl(epoll_fd_, operation, fd, &event) != 0) return -errno;
  d.registered = true;
  return 0;
}

internal::WorkerThreads& EpollDriver::workers() {
  if (!workers_) {
    workers_ = std::make_unique<internal::WorkerThreads>();
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = workers_->event_fd();
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, workers_->event_fd(), &event);
  }
  return *workers_;
}

void EpollDriver::deliver_worker_completions() {
  worker_completions_.clear();
  workers_->take_completed(worker_completions_);
  for (auto [op, result] : worker_completions_) op->complete(result);
}

void EpollDriver::submit(Operation& op) {
  op.driver_state = 0;
  if (is_file_op(op.kind()) || op.kind() == OpKind::kResolve) {
    workers().submit(op);
    return;
  }
  attempt_or_wait(op);
}

// A read that consumes what it returns (not a peek): on a byte stream, one that returns less than
// it asked for has emptied the descriptor.
bool is_consuming_read(const Operation& op) {
  return (op.kind() == OpKind::kReceive && (op.flags & MSG_PEEK) == 0) ||
         op.kind() == OpKind::kRead;
}

void EpollDriver::attempt_or_wait(Operation& op) {
  int64_t result = -EAGAIN;
  Descriptor* entry = find(op.fd());
  if (entry != nullptr && stale(op.fd(), *entry)) [[unlikely]] {
    let_go_here(op.fd(), false);  // a number another thread closed and this loop now uses
    entry = nullptr;
  }
  Descriptor* owned = entry != nullptr && entry->owned ? entry : nullptr;
  Descriptor* stream = owned != nullptr && owned->byte_stream ? owned : nullptr;
  if (op.kind() == OpKind::kWaitReadable || op.kind() == OpKind::kWaitWritable) {
    // An owned descriptor is edge-triggered: its last edge may have gone by while nobody
    // waited, so ask for the present state.
    if (owned != nullptr) result = current_readiness(op);
  } else if (stream != nullptr && stream->drained && !stream->read_closed &&
             is_consuming_read(op)) {
    ++reads_skipped_;  // emptied by the last read, and no edge since: wait for the next
  } else {
    result = attempt(op);
    if (stream != nullptr && is_consuming_read(op)) {
      stream->drained = result > 0 && static_cast<size_t>(result) < op.length;
    }
  }
  if (result == -EAGAIN) {
    wait_for_readiness(op);
  } else {
    finish(op, result);
  }
}

void EpollDriver::finish(Operation& op, int64_t result) {
  if (op.kind() == OpKind::kAccept && result >= 0) {
    // An accepted socket has its listener's type (stream or seqpacket).
    const Descriptor* listener = find(op.fd());
    own(static_cast<int>(result), listener != nullptr && listener->byte_stream);
  }
  op.complete(result);
}

void EpollDriver::wait_for_readiness(Operation& op) {
  const int fd = op.fd();
  if (fd < 0) {
    op.complete(-EBADF);  // what epoll_ctl would say
    return;
  }
  bool added = false;
  Descriptor& d = add(fd, &added);
  Operation*& slot = is_reader(op.kind()) ? d.reader : d.writer;
  if (slot != nullptr) {
    if (added) erase(fd);
    op.complete(-EBUSY);
    return;
  }
  slot = &op;
  if (const int error = update_interest(fd, d); error != 0) {
    slot = nullptr;
    if (!d.owned && d.reader == nullptr && d.writer == nullptr) erase(fd);
    op.complete(error);
    return;
  }
  ++pending_;
}

void EpollDriver::cancel(Operation& op) {
  if (is_file_op(op.kind()) || op.kind() == OpKind::kResolve) {
    if (workers_ && workers_->withdraw(op)) op.complete(-ECANCELED);
    return;  // a file operation started on a thread: it completes by itself
  }
  Descriptor* entry = find(op.fd());
  if (entry == nullptr) return;
  Descriptor& d = *entry;
  Operation*& slot = is_reader(op.kind()) ? d.reader : d.writer;
  if (slot != &op) return;
  slot = nullptr;
  GIAMBIO_CHECK(pending_ > 0, "epoll: cancelling ", op.name(), " on fd ", op.fd(),
                " with none pending");
  --pending_;
  update_interest(op.fd(), d);  // may erase `d`
  op.complete(-ECANCELED);
}

void EpollDriver::cancel_all() {
  std::vector<Operation*> waiting;
  for (const Descriptor& d : descriptors_) {
    if (d.reader != nullptr) waiting.push_back(d.reader);
    if (d.writer != nullptr) waiting.push_back(d.writer);
  }
  for (Operation* op : waiting) cancel(*op);
  GIAMBIO_CHECK(pending_ == 0, "epoll: ", pending_, " readiness waits left after cancel_all");
  if (workers_) {
    // Queued operations were withdrawn by their owners' aborts, or complete here by waiting for
    // the threads: either way every one completes before the frames go.
    workers_->wait_until_idle();
    deliver_worker_completions();
  }
}

void EpollDriver::poll(absl::Time deadline) {
  timespec storage;
  epoll_event events[kEventsMax];
  const int count = epoll_pwait2(epoll_fd_, events, kEventsMax,
                                 internal::wait_timespec(deadline, storage), nullptr);
  for (int i = 0; i < count; ++i) {
    const int fd = events[i].data.fd;
    if (fd == let_go_event()) {
      clear_let_go();
      continue;
    }
    if (workers_ && fd == workers_->event_fd()) {
      deliver_worker_completions();
      continue;
    }
    Descriptor* entry = find(fd);
    if (entry == nullptr) continue;
    Descriptor& d = *entry;
    const uint32_t mask = events[i].events;
    // Errors and hang-ups wake both directions: the next syscall reports what happened.
    const bool readable = mask & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
    const bool writable = mask & (EPOLLOUT | EPOLLERR | EPOLLHUP);
    if (readable) d.drained = false;
    if (mask & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) d.read_closed = true;
    Operation* reader = readable ? std::exchange(d.reader, nullptr) : nullptr;
    Operation* writer = writable ? std::exchange(d.writer, nullptr) : nullptr;
    update_interest(fd, d);  // may erase `d`
    for (Operation* op : {reader, writer}) {
      if (op == nullptr) continue;
      GIAMBIO_CHECK(pending_ > 0, "epoll: fd ", fd, " woke a waiter with none pending");
      --pending_;
      if (op->kind() == OpKind::kWaitReadable || op->kind() == OpKind::kWaitWritable) {
        op->complete(mask);
      } else {
        attempt_or_wait(*op);  // a spurious wakeup waits again
      }
    }
  }
}

}  // namespace giambio

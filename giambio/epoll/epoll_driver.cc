#include "giambio/epoll/epoll_driver.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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
    case OpKind::kAccept:
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

}  // namespace

EpollDriver::EpollDriver() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) {
    throw std::runtime_error(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
}

EpollDriver::~EpollDriver() { close(epoll_fd_); }

absl::Time EpollDriver::now() { return internal::monotonic_now(); }

int EpollDriver::update_interest(int fd, Waiters& waiters, bool was_registered) {
  epoll_event event{};
  event.data.fd = fd;
  if (waiters.reader != nullptr) event.events |= EPOLLIN | EPOLLRDHUP;
  if (waiters.writer != nullptr) event.events |= EPOLLOUT;
  if (event.events == 0) {
    waiters_.erase(fd);
    if (was_registered) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  const int op = was_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  return epoll_ctl(epoll_fd_, op, fd, &event) == 0 ? 0 : -errno;
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
  const int64_t result = attempt(op);
  if (result != -EAGAIN) {
    op.complete(result);
    return;
  }
  wait_for_readiness(op);
}

void EpollDriver::wait_for_readiness(Operation& op) {
  auto [it, inserted] = waiters_.try_emplace(op.fd());
  Operation*& slot = is_reader(op.kind()) ? it->second.reader : it->second.writer;
  if (slot != nullptr) {
    if (inserted) waiters_.erase(it);
    op.complete(-EBUSY);
    return;
  }
  slot = &op;
  if (const int error = update_interest(op.fd(), it->second, !inserted); error != 0) {
    slot = nullptr;
    if (inserted) waiters_.erase(op.fd());
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
  auto it = waiters_.find(op.fd());
  if (it == waiters_.end()) return;
  Operation*& slot = is_reader(op.kind()) ? it->second.reader : it->second.writer;
  if (slot != &op) return;
  slot = nullptr;
  --pending_;
  update_interest(op.fd(), it->second, /*was_registered=*/true);
  op.complete(-ECANCELED);
}

void EpollDriver::cancel_all() {
  std::vector<Operation*> waiting;
  for (auto& [fd, waiters] : waiters_) {
    if (waiters.reader != nullptr) waiting.push_back(waiters.reader);
    if (waiters.writer != nullptr) waiting.push_back(waiters.writer);
  }
  for (Operation* op : waiting) cancel(*op);
  if (workers_) {
    // Queued operations were withdrawn by their owners' aborts, or complete here by waiting for
    // the threads: either way every one completes before the frames go.
    workers_->wait_until_idle();
    deliver_worker_completions();
  }
}

void EpollDriver::retry(Operation& op, uint32_t events) {
  if (op.kind() == OpKind::kWaitReadable || op.kind() == OpKind::kWaitWritable) {
    op.complete(events);
    return;
  }
  const int64_t result = attempt(op);
  if (result == -EAGAIN) {
    wait_for_readiness(op);  // a spurious wakeup: wait again
  } else {
    op.complete(result);
  }
}

void EpollDriver::poll(absl::Time deadline) {
  timespec storage;
  epoll_event events[kEventsMax];
  const int count = epoll_pwait2(epoll_fd_, events, kEventsMax,
                                 internal::wait_timespec(deadline, storage), nullptr);
  for (int i = 0; i < count; ++i) {
    const int fd = events[i].data.fd;
    if (workers_ && fd == workers_->event_fd()) {
      deliver_worker_completions();
      continue;
    }
    auto it = waiters_.find(fd);
    if (it == waiters_.end()) continue;
    Waiters& waiters = it->second;
    const uint32_t mask = events[i].events;
    // Errors and hang-ups wake both directions: the next syscall reports what happened.
    const bool readable = mask & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
    const bool writable = mask & (EPOLLOUT | EPOLLERR | EPOLLHUP);
    Operation* reader = readable ? std::exchange(waiters.reader, nullptr) : nullptr;
    Operation* writer = writable ? std::exchange(waiters.writer, nullptr) : nullptr;
    update_interest(fd, waiters, /*was_registered=*/true);  // may erase `waiters`
    if (reader != nullptr) {
      --pending_;
      retry(*reader, mask);
    }
    if (writer != nullptr) {
      --pending_;
      retry(*writer, mask);
    }
  }
}

}  // namespace giambio

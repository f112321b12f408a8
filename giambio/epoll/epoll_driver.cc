#include "giambio/epoll/epoll_driver.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"

namespace giambio {
namespace {

constexpr int kEventsMax = 256;

}  // namespace

EpollDriver::EpollDriver() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) {
    throw std::runtime_error(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
}

EpollDriver::~EpollDriver() { close(epoll_fd_); }

absl::Time EpollDriver::now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::UnixEpoch() + absl::DurationFromTimespec(ts);
}

int EpollDriver::update_interest(int fd, Waiters& waiters, bool was_registered) {
  epoll_event event{};
  event.data.fd = fd;
  if (waiters.reader != nullptr) event.events |= EPOLLIN;
  if (waiters.writer != nullptr) event.events |= EPOLLOUT;
  if (event.events == 0) {
    waiters_.erase(fd);
    if (was_registered) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  const int op = was_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  return epoll_ctl(epoll_fd_, op, fd, &event) == 0 ? 0 : -errno;
}

void EpollDriver::submit(Operation& op) {
  auto [it, inserted] = waiters_.try_emplace(op.fd());
  Operation*& slot = op.kind() == OpKind::kWaitReadable ? it->second.reader : it->second.writer;
  if (slot != nullptr) {
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
  auto it = waiters_.find(op.fd());
  if (it == waiters_.end()) return;
  Operation*& slot = op.kind() == OpKind::kWaitReadable ? it->second.reader : it->second.writer;
  if (slot != &op) return;
  slot = nullptr;
  --pending_;
  update_interest(op.fd(), it->second, /*was_registered=*/true);
  op.complete(-ECANCELED);
}

void EpollDriver::poll(absl::Time deadline) {
  timespec timeout{};
  timespec* timeout_ptr = &timeout;
  if (deadline == absl::InfiniteFuture()) {
    timeout_ptr = nullptr;
  } else if (deadline != absl::InfinitePast()) {
    const absl::Duration wait = deadline - now();
    if (wait > absl::ZeroDuration()) timeout = absl::ToTimespec(wait);
  }
  epoll_event events[kEventsMax];
  const int count = epoll_pwait2(epoll_fd_, events, kEventsMax, timeout_ptr, nullptr);
  for (int i = 0; i < count; ++i) {
    const int fd = events[i].data.fd;
    auto it = waiters_.find(fd);
    if (it == waiters_.end()) continue;
    Waiters& waiters = it->second;
    const uint32_t mask = events[i].events;
    // Errors and hang-ups wake both directions: the next syscall reports what happened.
    const bool readable = mask & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP);
    const bool writable = mask & (EPOLLOUT | EPOLLERR | EPOLLHUP);
    Operation* reader = readable ? std::exchange(waiters.reader, nullptr) : nullptr;
    Operation* writer = writable ? std::exchange(waiters.writer, nullptr) : nullptr;
    update_interest(fd, waiters, /*was_registered=*/true);
    if (reader != nullptr) {
      --pending_;
      reader->complete(mask);
    }
    if (writer != nullptr) {
      --pending_;
      writer->complete(mask);
    }
  }
}

}  // namespace giambio

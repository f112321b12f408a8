#include "giambio/driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "giambio/errors.h"
#include "giambio/internal/file_holders.h"

namespace giambio {

void Driver::jump(absl::Duration d) {
  throw UsageError(absl::StrCat("giambio::jump_clock(", absl::FormatDuration(d), "): the ", name(),
                                " driver's clock cannot be moved (run on the virtual clock, "
                                "DriverKind::kVirtual)"));
}

}  // namespace giambio

namespace giambio {
namespace {

int result_of(int returned) { return returned < 0 ? -errno : returned; }

}  // namespace

int SystemCalls::socket(int family, int type) {
  return result_of(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

int SystemCalls::socket_pair(int fds[2]) {
  return result_of(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
}

int SystemCalls::bind(int fd, const sockaddr* address, socklen_t length) {
  return result_of(::bind(fd, address, length));
}

int SystemCalls::listen(int fd, int backlog) { return result_of(::listen(fd, backlog)); }

int SystemCalls::set_option(int fd, int level, int option, int value) {
  return result_of(::setsockopt(fd, level, option, &value, sizeof(value)));
}

int SystemCalls::socket_name(int fd, bool peer, sockaddr* address, socklen_t* length) {
  return result_of(peer ? ::getpeername(fd, address, length) : ::getsockname(fd, address, length));
}

int SystemCalls::shutdown(int fd, int how) { return result_of(::shutdown(fd, how)); }

int SystemCalls::close(int fd) {
  // A driver on another thread may hold the number (io_uring's registered table, epoll's owned
  // registration): it lets go (internal/file_holders.h).
  internal::forget(fd);
  return result_of(::close(fd));
}

int64_t SystemCalls::file_size(int fd) {
  struct stat info;
  if (::fstat(fd, &info) != 0) return -errno;
  return static_cast<int64_t>(info.st_size);
}

int SystemCalls::adopt(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  return result_of(::fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

absl::Time SystemCalls::wall_time() { return absl::Now(); }

namespace {

thread_local RealWorldGuard* real_world_guard = nullptr;

}  // namespace

RealWorldGuard* set_real_world_guard(RealWorldGuard* guard) {
  return std::exchange(real_world_guard, guard);
}

void touch_real_world(const char* call) {
  if (real_world_guard != nullptr) real_world_guard->touched(call);
}

}  // namespace giambio

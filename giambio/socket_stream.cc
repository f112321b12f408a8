#include "giambio/socket_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/loop.h"

namespace giambio {

static_assert(HalfCloseableStream<SocketStream>);
namespace {

absl::Status closed_error(const char* operation) {
  return internal::StreamCore::closed_error(operation);
}

absl::StatusOr<SocketAddress> socket_name(int fd, bool peer, const char* operation) {
  SocketAddress address;
  *address.mutable_length() = SocketAddress::capacity();
  const int result =
      internal::system_calls().socket_name(fd, peer, address.get(), address.mutable_length());
  if (result < 0) return internal::errno_status(-result, operation, absl::StrCat("fd=", fd));
  return address;
}

}  // namespace

// ---- SocketStream ----

std::string SocketStream::describe(int fd) {
  absl::StatusOr<SocketAddress> peer = socket_name(fd, /*peer=*/true, "getpeername");
  return peer.ok() ? peer->to_string() : absl::StrCat("fd=", fd);
}

Task<absl::StatusOr<SocketStream>> SocketStream::connect(SocketAddress address) {
  const std::string target = address.to_string();
  const int fd = internal::system_calls().socket(address.family(), SOCK_STREAM);
  if (fd < 0) co_return internal::errno_status(-fd, "connect", target);
  SocketStream stream(fd);  // closes the socket on every way out but success
  internal::IoOperation op(OpKind::kConnect, fd);
  op.address = address.get();
  socklen_t length = address.length();
  op.address_length = &length;
  const int64_t result = co_await op;
  if (result < 0) co_return internal::errno_status(static_cast<int>(-result), "connect", target);
  co_return std::move(stream);
}

Task<absl::StatusOr<std::string>> SocketStream::read_some(int64_t max_bytes) {
  return core_.read_some(max_bytes, describe);
}

absl::Status SocketStream::send_eof() {
  if (!is_open()) return closed_error("shutdown");
  if (const int result = internal::system_calls().shutdown(fd(), SHUT_WR); result < 0) {
    return internal::errno_status(-result, "shutdown", describe(fd()));
  }
  return absl::OkStatus();
}

absl::Status SocketStream::close() { return core_.close(); }

absl::Status SocketStream::set_nodelay(bool on) {
  if (!is_open()) return closed_error("set_nodelay");
  const int result = internal::system_calls().set_option(fd(), IPPROTO_TCP, TCP_NODELAY, on);
  if (result < 0) return internal::errno_status(-result, "set_nodelay", describe(fd()));
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> SocketStream::local_address() const {
  if (!is_open()) return closed_error("local_address");
  return socket_name(fd(), /*peer=*/false, "getsockname");
}

absl::StatusOr<SocketAddress> SocketStream::peer_address() const {
  if (!is_open()) return closed_error("peer_address");
  return socket_name(fd(), /*peer=*/true, "getpeername");
}

absl::StatusOr<std::pair<SocketStream, SocketStream>> socket_pair() {
  int fds[2];
  if (const int result = internal::system_calls().socket_pair(fds); result < 0) {
    return internal::errno_status(-result, "socketpair", "AF_UNIX");
  }
  return std::make_pair(SocketStream(fds[0]), SocketStream(fds[1]));
}

// ---- SocketListener ----

SocketListener::SocketListener(SocketListener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      local_address_(other.local_address_),
      accepting_(std::exchange(other.accepting_, nullptr)) {}

SocketListener& SocketListener::operator=(SocketListener&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) (void)close();
    fd_ = std::exchange(other.fd_, -1);
    local_address_ = other.local_address_;
    accepting_ = std::exchange(other.accepting_, nullptr);
  }
  return *this;
}

SocketListener::~SocketListener() {
  if (fd_ >= 0) (void)close();
}

absl::StatusOr<SocketListener> SocketListener::listen(const SocketAddress& address,
                                                      ListenOptions options) {
  const std::string target = address.to_string();
  if (options.backlog < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen(", target, "): negative backlog ", options.backlog));
  }
  SystemCalls& calls = internal::system_calls();
  const int fd = calls.socket(address.family(), SOCK_STREAM);
  if (fd < 0) return internal::errno_status(-fd, "listen", target);
  SocketListener listener;
  listener.fd_ = fd;
  int result = 0;
  if (options.reuse_address && (result = calls.set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0) {
    return internal::errno_status(-result, "listen: SO_REUSEADDR", target);
  }
  if (options.reuse_port && (result = calls.set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0) {
    return internal::errno_status(-result, "listen: SO_REUSEPORT", target);
  }
  if ((result = calls.bind(fd, address.get(), address.length())) < 0) {
    return internal::errno_status(-result, "bind", target);
  }
  if ((result = calls.listen(fd, options.backlog)) < 0) {
    return internal::errno_status(-result, "listen", target);
  }
  absl::StatusOr<SocketAddress> bound = socket_name(fd, /*peer=*/false, "getsockname");
  if (!bound.ok()) return bound.status();
  listener.local_address_ = *bound;
  return listener;
}

Task<absl::StatusOr<SocketStream>> SocketListener::accept() {
  if (fd_ < 0) co_return closed_error("accept");
  if (accepting_ != nullptr) co_return internal::busy_error("accept", "accepting on");
  internal::IoOperation op(OpKind::kAccept, fd_);
  int64_t result;
  {
    internal::BusySlot busy(accepting_, op);
    result = co_await op;
  }
  if (fd_ < 0) {
    if (result >= 0) internal::system_calls().close(static_cast<int>(result));
    co_return closed_error("accept");
  }
  if (result < 0) {
    co_return internal::errno_status(static_cast<int>(-result), "accept",
                                     local_address_.to_string());
  }
  co_return SocketStream(static_cast<int>(result));
}

absl::Status SocketListener::close() {
  if (fd_ < 0) return closed_error("close");
  const int fd = std::exchange(fd_, -1);
  internal::withdraw(accepting_);
  if (const int result = internal::system_calls().close(fd); result < 0) {
    return internal::errno_status(-result, "close", absl::StrCat("fd=", fd));
  }
  return absl::OkStatus();
}

}  // namespace giambio

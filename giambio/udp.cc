#include "giambio/udp.h"

#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/internal/io_operation.h"
#include "giambio/internal/stream_core.h"

namespace giambio {

UdpSocket::UdpSocket(UdpSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), local_address_(other.local_address_) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) (void)close();
    fd_ = std::exchange(other.fd_, -1);
    local_address_ = other.local_address_;
  }
  return *this;
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) (void)close();
}

absl::StatusOr<UdpSocket> UdpSocket::bind(const SocketAddress& address) {
  const std::string target = address.to_string();
  UdpSocket socket;
  SystemCalls& calls = internal::system_calls();
  const int fd = calls.socket(address.family(), SOCK_DGRAM);
  if (fd < 0) return internal::errno_status(-fd, "bind", target);
  socket.fd_ = fd;
  if (const int result = calls.bind(fd, address.get(), address.length()); result < 0) {
    return internal::errno_status(-result, "bind", target);
  }
  *socket.local_address_.mutable_length() = SocketAddress::capacity();
  if (const int result = calls.socket_name(fd, /*peer=*/false, socket.local_address_.get(),
                                           socket.local_address_.mutable_length());
      result < 0) {
    return internal::errno_status(-result, "getsockname", target);
  }
  return socket;
}

Task<absl::Status> UdpSocket::send_to(std::string_view data, SocketAddress to) {
  if (fd_ < 0) co_return internal::StreamCore::closed_error("sendmsg");
  iovec vector{const_cast<char*>(data.data()), data.size()};
  msghdr message{};
  message.msg_name = to.get();
  message.msg_namelen = to.length();
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  internal::IoOperation op(OpKind::kSendMessage, fd_);
  op.message = &message;
  const int64_t result = co_await op;
  if (result < 0) {
    co_return internal::errno_status(static_cast<int>(-result), "sendmsg", to.to_string());
  }
  co_return absl::OkStatus();
}

Task<absl::StatusOr<Datagram>> UdpSocket::receive_from(int64_t max_bytes) {
  if (fd_ < 0) co_return internal::StreamCore::closed_error("recvmsg");
  if (max_bytes <= 0) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("receive_from(", max_bytes, "): max_bytes must be positive"));
  }
  Datagram datagram;
  // No UDP datagram is longer than 65,535 bytes, so a larger buffer would only waste memory. The
  // buffer is not zeroed, and the datagram keeps only the bytes that came (a small copy, where
  // zeroing max_bytes and keeping them all cost more for the short datagrams most protocols send).
  const size_t capacity = static_cast<size_t>(std::min<int64_t>(max_bytes, 65536));
  const std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(capacity);
  iovec vector{buffer.get(), capacity};
  msghdr message{};
  message.msg_name = datagram.from.get();
  message.msg_namelen = SocketAddress::capacity();
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  internal::IoOperation op(OpKind::kReceiveMessage, fd_);
  op.message = &message;
  const int64_t result = co_await op;
  if (result < 0) {
    co_return internal::errno_status(static_cast<int>(-result), "recvmsg",
                                     local_address_.to_string());
  }
  *datagram.from.mutable_length() = message.msg_namelen;
  datagram.data.assign(buffer.get(), static_cast<size_t>(result));
  datagram.truncated = (message.msg_flags & MSG_TRUNC) != 0;
  co_return datagram;
}

absl::Status UdpSocket::close() {
  if (fd_ < 0) return internal::StreamCore::closed_error("close");
  if (const int result = internal::system_calls().close(std::exchange(fd_, -1)); result < 0) {
    return internal::errno_status(-result, "close", local_address_.to_string());
  }
  return absl::OkStatus();
}

}  // namespace giambio

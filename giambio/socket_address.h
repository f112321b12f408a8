// giambio/socket_address.h: SocketAddress, an IPv4, IPv6 or Unix socket address.
//
//   absl::StatusOr<SocketAddress> a = SocketAddress::parse("127.0.0.1", 8080);
//   absl::StatusOr<SocketAddress> b = SocketAddress::parse("::1", 0);     // port 0: any
//   a->to_string()  // "127.0.0.1:8080"; IPv6 as "[::1]:0"; Unix as "unix:/path"
//
// parse() takes numeric addresses only; names go through giambio's resolver (off the loop
// thread). Bad input is an InvalidArgument status naming the value.
#ifndef GIAMBIO_SOCKET_ADDRESS_H_
#define GIAMBIO_SOCKET_ADDRESS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace giambio {

class SocketAddress {
 public:
  SocketAddress() = default;
  // From a sockaddr the kernel filled in (accept, getsockname).
  SocketAddress(const sockaddr* address, socklen_t length);

  static absl::StatusOr<SocketAddress> parse(const std::string& host, int port);
  static absl::StatusOr<SocketAddress> unix_path(const std::string& path);

  int family() const { return storage_.ss_family; }
  // The port of an IP address; 0 otherwise.
  int port() const;
  std::string to_string() const;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  socklen_t* mutable_length() { return &length_; }
  static constexpr socklen_t capacity() { return sizeof(sockaddr_storage); }

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

}  // namespace giambio

#endif  // GIAMBIO_SOCKET_ADDRESS_H_

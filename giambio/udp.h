// giambio/udp.h: UDP sockets, on every driver.
//
//   absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
//   co_await socket->send_to("ping", peer);
//   absl::StatusOr<Datagram> d = co_await socket->receive_from();   // d->data, d->from
//
// A datagram is sent whole or not at all. receive_from() returns one datagram; one longer than
// `max_bytes` is truncated (Datagram::truncated says so). Errors are statuses naming the
// operation and the address; a cancelled receive consumes no datagram.
#ifndef GIAMBIO_UDP_H_
#define GIAMBIO_UDP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/socket_address.h"
#include "giambio/task.h"

namespace giambio {

struct Datagram {
  std::string data;
  SocketAddress from;
  bool truncated = false;
};

class UdpSocket {
 public:
  UdpSocket() = default;
  UdpSocket(UdpSocket&& other) noexcept;
  UdpSocket& operator=(UdpSocket&& other) noexcept;
  ~UdpSocket();

  // Port 0 picks a free port (see local_address()).
  static absl::StatusOr<UdpSocket> bind(const SocketAddress& address);

  Task<absl::Status> send_to(std::string_view data, SocketAddress to);
  Task<absl::StatusOr<Datagram>> receive_from(int64_t max_bytes = 65536);
  const SocketAddress& local_address() const { return local_address_; }
  absl::Status close();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SocketAddress local_address_;
};

}  // namespace giambio

#endif  // GIAMBIO_UDP_H_

#include "sim/network.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "sim/network_parts.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

bool is_stream_write(OpKind kind) { return kind == OpKind::kSend || kind == OpKind::kWrite; }

}  // namespace

Network::Network(World& world)
    : world_(world),
      links_(world, world.stream("network")),
      datagram_prng_(world.stream("datagrams")) {}

Network::~Network() = default;

// ---- Addresses and routing ----

Network::Addr Network::Addr::v4(uint32_t ip, uint16_t port) {
  Addr a;
  a.ip[10] = a.ip[11] = 0xff;
  a.ip[12] = static_cast<uint8_t>(ip >> 24);
  a.ip[13] = static_cast<uint8_t>(ip >> 16);
  a.ip[14] = static_cast<uint8_t>(ip >> 8);
  a.ip[15] = static_cast<uint8_t>(ip);
  a.port = port;
  return a;
}

bool Network::Addr::is_v4() const {
  for (int i = 0; i < 10; ++i) {
    if (ip[i] != 0) return false;
  }
  return ip[10] == 0xff && ip[11] == 0xff;
}

uint32_t Network::Addr::v4_ip() const {
  return (uint32_t{ip[12]} << 24) | (uint32_t{ip[13]} << 16) | (uint32_t{ip[14]} << 8) | ip[15];
}

bool Network::Addr::is_any() const {
  if (is_v4()) return v4_ip() == 0;
  for (uint8_t byte : ip) {
    if (byte != 0) return false;
  }
  return true;
}

bool Network::Addr::is_loopback() const {
  if (is_v4()) return v4_ip() == kLoopback;
  for (int i = 0; i < 15; ++i) {
    if (ip[i] != 0) return false;
  }
  return ip[15] == 1;
}

Network::Addr Network::to_addr(int family, const sockaddr* address, socklen_t length, int* error) {
  *error = 0;
  if (address == nullptr || address->sa_family != family) {
    *error = family == AF_INET6 ? EINVAL : EAFNOSUPPORT;  // what Linux says for each
    return {};
  }
  if (family == AF_INET) {
    if (length < static_cast<socklen_t>(sizeof(sockaddr_in))) {
      *error = EINVAL;
      return {};
    }
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    return Addr::v4(ntohl(in->sin_addr.s_addr), ntohs(in->sin_port));
  }
  if (length < static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    *error = EINVAL;
    return {};
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
  Addr a;
  std::memcpy(a.ip, &in6->sin6_addr, 16);
  a.port = ntohs(in6->sin6_port);
  return a;
}

void Network::fill(int family, Addr address, sockaddr* out, socklen_t* length) {
  if (out == nullptr || length == nullptr) return;
  sockaddr_storage storage{};
  socklen_t size = 0;
  if (family == AF_INET) {
    GIAMBIO_CHECK(address.is_v4(), "simulator: an IPv4 socket has the IPv6 address ", address.port);
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(address.v4_ip());
    in->sin_port = htons(address.port);
    size = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, address.ip, 16);
    in6->sin6_port = htons(address.port);
    size = sizeof(sockaddr_in6);
  }
  std::memcpy(out, &storage, std::min(*length, size));
  *length = size;
}

std::string Network::text(Addr a) const {
  if (a.is_v4()) {
    // std::to_chars, not StrCat: this names the peer of every datagram in the trace.
    char text[sizeof("255.255.255.255:65535")];
    char* end = text;
    const uint32_t ip = a.v4_ip();
    for (int shift = 24; shift >= 0; shift -= 8) {
      end = std::to_chars(end, std::end(text), (ip >> shift) & 0xff).ptr;
      *end++ = shift == 0 ? ':' : '.';
    }
    end = std::to_chars(end, std::end(text), a.port).ptr;
    return std::string(text, end);
  }
  char buffer[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.ip, buffer, sizeof(buffer));
  return absl::StrCat("[", buffer, "]:", a.port);
}

Network::Socket* Network::find(int fd) {
  auto it = sockets_.find(fd);
  return it == sockets_.end() ? nullptr : it->second.get();
}

uint32_t Network::route(uint32_t from, const Addr& to) {
  if (to.is_loopback()) return from;
  Host* host = to.is_v4() ? world_.host_by_ip(to.v4_ip()) : world_.host_by_ipv6(to.ip);
  return host == nullptr ? 0 : host->id();
}

Network::Addr Network::host_address(uint32_t host, int family) {
  if (family == AF_INET) return Addr::v4(0x0a000000u + host, 0);  // Host::ipv4()
  Addr own;
  own.ip[0] = 0xfd;  // Host::ipv6(): fd00::<id>
  own.ip[12] = static_cast<uint8_t>(host >> 24);
  own.ip[13] = static_cast<uint8_t>(host >> 16);
  own.ip[14] = static_cast<uint8_t>(host >> 8);
  own.ip[15] = static_cast<uint8_t>(host);
  return own;
}

Network::Addr Network::own_address(uint32_t host, const Addr& to) {
  if (!to.is_loopback()) return host_address(host, to.is_v4() ? AF_INET : AF_INET6);
  Addr loopback = to;
  loopback.port = 0;
  return loopback;
}

Network::Socket* Network::bound(uint32_t host, int type, uint16_t port, const Addr& from) {
  auto it = bindings_.find({host, type, port});
  if (it == bindings_.end()) return nullptr;
  const std::vector<int>& fds = it->second;
  if (fds.size() == 1) return find(fds.front());
  std::vector<Socket*> group;
  for (int fd : fds) {
    Socket* socket = find(fd);
    if (socket != nullptr && (type != SOCK_STREAM || socket->state == Socket::kListening)) {
      group.push_back(socket);
    }
  }
  if (group.empty()) return find(fds.front());
  // FNV-1a over the peer's address and port: the same flow reaches the same socket, on every
  // compiler (no std::hash).
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](uint8_t byte) { hash = (hash ^ byte) * 1099511628211ull; };
  for (uint8_t byte : from.ip) mix(byte);
  mix(static_cast<uint8_t>(from.port >> 8));
  mix(static_cast<uint8_t>(from.port & 0xff));
  return group[hash % group.size()];
}

// ---- Links ----

void Network::set_cut(uint32_t from, uint32_t to, bool cut) {
  links_.set_cut(from, to, cut);
  if (!cut) resume_stalled(from, to);
}

void Network::heal_all() {
  for (const auto& [from, to] : links_.cut_links()) set_cut(from, to, false);
}

void Network::clog(uint32_t from, uint32_t to, absl::Time until) { links_.clog(from, to, until); }

void Network::set_delay(uint32_t from, uint32_t to, absl::Duration latency, absl::Duration jitter) {
  links_.set_delay(from, to, latency, jitter);
}

// ---- Synchronous calls ----

int Network::socket(Host& host, int family, int type) {
  if (family != AF_INET && family != AF_INET6) return -EAFNOSUPPORT;
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return -EPROTONOSUPPORT;
  auto socket = std::make_unique<Socket>();
  socket->fd = world_.next_fd();
  socket->host = host.id();
  socket->type = type;
  socket->family = family;
  const int fd = socket->fd;
  sockets_[fd] = std::move(socket);
  return fd;
}

int Network::bind_port(Socket& socket, Addr address) {
  if (!address.is_any() && route(socket.host, address) != socket.host) return -EADDRNOTAVAIL;
  if (address.port == 0) {
    uint16_t& next = next_port_.try_emplace(socket.host, kFirstEphemeralPort).first->second;
    for (int tries = 0; tries < 65536 - kFirstEphemeralPort; ++tries) {
      const uint16_t port = next;
      next = next == 65535 ? kFirstEphemeralPort : next + 1;
      if (!bindings_.contains({socket.host, socket.type, port})) {
        address.port = port;
        break;
      }
    }
    if (address.port == 0) return -EADDRINUSE;
  } else if (auto taken = bindings_.find({socket.host, socket.type, address.port});
             taken != bindings_.end()) {
    // Shared only when every socket there, this one too, set SO_REUSEPORT (as on Linux).
    const bool shared = socket.reuse_port &&
                        std::all_of(taken->second.begin(), taken->second.end(), [this](int fd) {
                          Socket* other = find(fd);
                          return other != nullptr && other->reuse_port;
                        });
    if (!shared) return -EADDRINUSE;
  }
  bindings_[{socket.host, socket.type, address.port}].push_back(socket.fd);
  // Bound to "any", the socket's address is the host's of its family until it talks to a peer
  // (connect, sendto), which picks the family of that peer.
  socket.bound_any = address.is_any();
  socket.local = address.is_any() ? host_address(socket.host, socket.family) : address;
  socket.local.port = address.port;
  if (socket.state == Socket::kNew) socket.state = Socket::kBound;
  return 0;
}

int Network::bind(int fd, const sockaddr* address, socklen_t length) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (socket->dead) return -ENETDOWN;
  if (socket->state != Socket::kNew) return -EINVAL;
  int error = 0;
  const Addr addr = to_addr(socket->family, address, length, &error);
  if (error != 0) return -error;
  return bind_port(*socket, addr);
}

int Network::listen(int fd, int backlog) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (socket->dead) return -ENETDOWN;
  if (socket->type != SOCK_STREAM) return -EOPNOTSUPP;
  if (socket->state == Socket::kNew) {
    if (const int result = bind_port(*socket, Addr{}); result < 0) return result;
  }
  if (socket->state != Socket::kBound && socket->state != Socket::kListening) return -EINVAL;
  socket->state = Socket::kListening;
  socket->backlog_max = std::max(backlog, 1);
  return 0;
}

int Network::set_option(int fd, int level, int option, int value) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (level == SOL_SOCKET && option == SO_REUSEPORT) socket->reuse_port = value != 0;
  const bool known = (level == SOL_SOCKET && (option == SO_REUSEADDR || option == SO_REUSEPORT)) ||
                     (level == IPPROTO_TCP && option == TCP_NODELAY);
  return known ? 0 : -ENOPROTOOPT;
}

int Network::socket_name(int fd, bool peer, sockaddr* address, socklen_t* length) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (peer) {
    if (socket->state != Socket::kConnected) return -ENOTCONN;
    fill(socket->family, socket->peer, address, length);
  } else {
    fill(socket->family, socket->local, address, length);
  }
  return 0;
}

int Network::shutdown(int fd, int how) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (socket->dead) return -ENETDOWN;
  if (socket->state != Socket::kConnected) return -ENOTCONN;
  Endpoint& end = socket->conn->end[socket->side];
  if ((how == SHUT_WR || how == SHUT_RDWR) && !end.fin_out && !end.reset) {
    end.fin_out = true;
    transmit(socket->conn, socket->side, Segment{Segment::kFin, {}, {}, 0});
  }
  return 0;
}

int Network::close(int fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return -EBADF;
  std::unique_ptr<Socket> socket = std::move(it->second);
  sockets_.erase(it);
  // Whoever still waits on it (the I/O API withdraws its own operations first) sees EBADF.
  fail_parked(*socket, EBADF);
  if (socket->dead) return 0;
  unbind(*socket);
  if (socket->conn) close_endpoint(*socket->conn, socket->side, /*reset=*/false);
  reset_backlog(*socket);
  return 0;
}

size_t Network::open_sockets(const Host& host) const {
  size_t count = 0;
  for (const auto& [fd, socket] : sockets_) count += socket->host == host.id() ? 1 : 0;
  return count;
}

// ---- Operations ----

void Network::submit(Operation& op) {
  Socket* socket = find(op.fd());
  if (socket == nullptr) {
    op.complete(-EBADF);
    return;
  }
  if (socket->dead) {
    op.complete(-ECONNRESET);
    return;
  }
  const OpKind kind = op.kind();
  Operation*& slot = (kind == OpKind::kConnect || is_stream_write(kind) ||
                      kind == OpKind::kWaitWritable || kind == OpKind::kSendMessage)
                         ? socket->writer
                         : socket->reader;
  if (kind == OpKind::kSendMessage) {
    send_datagram(*socket, op);
    return;
  }
  if (slot != nullptr) {
    op.complete(-EBUSY);
    return;
  }
  switch (kind) {
    case OpKind::kConnect: {
      int error = 0;
      const Addr to =
          to_addr(socket->family, op.address, op.address_length ? *op.address_length : 0, &error);
      if (error != 0) {
        op.complete(-error);
      } else {
        start_connect(*socket, to, op);
      }
      return;
    }
    case OpKind::kAccept:
      if (socket->state != Socket::kListening) {
        op.complete(-EINVAL);
        return;
      }
      slot = &op;
      soon(socket->fd);
      return;
    case OpKind::kReceiveMessage:
      if (socket->type != SOCK_DGRAM) {
        op.complete(-EOPNOTSUPP);
        return;
      }
      slot = &op;
      soon(socket->fd);
      return;
    default:
      break;
  }
  if (socket->type == SOCK_DGRAM) {
    op.complete(-EOPNOTSUPP);
    return;
  }
  if (socket->state != Socket::kConnected && socket->state != Socket::kListening) {
    op.complete(-ENOTCONN);
    return;
  }
  slot = &op;
  soon(socket->fd);
}

void Network::soon(int fd) {
  // Like io_uring, and unlike a non-blocking syscall, an operation completes at the next poll
  // at the earliest, even when it could complete now: the task always suspends, and another
  // task that uses the same stream meanwhile finds it busy. Code that only works because
  // epoll's syscalls complete at once fails here too.
  world_.at(world_.now(), [this, fd] { wake(fd); });
}

void Network::cancel(Operation& op) {
  Socket* socket = find(op.fd());
  if (socket == nullptr) return;
  for (Operation** slot : {&socket->reader, &socket->writer}) {
    if (*slot != &op) continue;
    *slot = nullptr;
    if (op.kind() == OpKind::kConnect) socket->state = Socket::kBound;  // attempts stop
    op.complete(-ECANCELED);
    return;
  }
}

void Network::cancel_all() {
  for (auto& [fd, socket] : sockets_) fail_parked(*socket, ECANCELED);
}

void Network::crash(Host& host) {
  for (auto& [fd, socket] : sockets_) {
    if (socket->host != host.id() || socket->dead) continue;
    socket->dead = true;
    fail_parked(*socket, ECONNRESET);
    if (socket->conn) close_endpoint(*socket->conn, socket->side, /*reset=*/true);
    reset_backlog(*socket);
    socket->backlog.clear();
    socket->datagrams.clear();
    unbind(*socket);
  }
}

void Network::unbind(Socket& socket) {
  auto binding = bindings_.find({socket.host, socket.type, socket.local.port});
  if (binding == bindings_.end()) return;
  std::erase(binding->second, socket.fd);
  if (binding->second.empty()) bindings_.erase(binding);
}

void Network::fail_parked(Socket& socket, int error) {
  for (Operation** slot : {&socket.reader, &socket.writer}) {
    if (Operation* op = std::exchange(*slot, nullptr)) op->complete(-error);
  }
}

void Network::wake(int fd) {
  Socket* socket = find(fd);
  if (socket == nullptr || socket->dead) return;
  if (socket->type == SOCK_DGRAM) {
    try_receive_datagram(*socket);
  } else if (socket->state == Socket::kListening) {
    try_accept(*socket);
  } else {
    try_receive(*socket);
    try_send(*socket);
  }
}

}  // namespace giambio::sim

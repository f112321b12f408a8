#include "sim/network.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

constexpr size_t kWindow = 256 * 1024;   // per direction: in flight + unread
constexpr size_t kMaxDatagram = 65507;   // IPv4: 65535 - 20 (IP header) - 8 (UDP header)
constexpr size_t kDatagramQueue = 1024;  // datagrams waiting in one socket
constexpr absl::Duration kConnectGiveUp = absl::Seconds(127);  // Linux's tcp_syn_retries=6
constexpr uint32_t kLoopback = 0x7f000001;
constexpr uint16_t kFirstEphemeralPort = 32768;

bool is_stream_write(OpKind kind) { return kind == OpKind::kSend || kind == OpKind::kWrite; }

}  // namespace

struct Network::Segment {
  enum Kind : uint8_t { kSynAck, kData, kFin, kRst };
  Kind kind;
  std::string data;
  absl::Time arrive;
  uint64_t flow = 0;
};

// One side of a connection: what it has received, and what it sent that is still on the way.
struct Network::Endpoint {
  uint32_t host = 0;
  int fd = -1;          // -1 until accepted
  bool closed = false;  // its socket is gone (closed, or its host crashed)
  std::string inbox;    // received, unread: inbox.substr(inbox_head)
  size_t inbox_head = 0;
  bool fin_in = false;
  bool fin_out = false;
  bool reset = false;
  std::deque<Segment> out;  // toward the other side, in order
  size_t out_bytes = 0;
  absl::Time last_arrival = absl::InfinitePast();
  bool stalled = false;  // its front segment waits for the link

  size_t unread() const { return inbox.size() - inbox_head; }
};

struct Network::Connection {
  uint64_t id = 0;
  Endpoint end[2];  // 0: the client, 1: the server
  Addr addr[2];
};

struct Network::Datagram {
  Addr from;
  std::string data;
};

struct Network::Socket {
  enum State : uint8_t { kNew, kBound, kListening, kConnecting, kConnected };
  int fd = -1;
  uint32_t host = 0;
  int type = SOCK_STREAM;
  State state = kNew;
  bool dead = false;  // its host crashed: every call fails until it is closed
  Addr local;
  Addr peer;
  std::shared_ptr<Connection> conn;
  int side = 0;
  uint64_t connect_attempt = 0;
  int backlog_max = 0;
  std::deque<std::shared_ptr<Connection>> backlog;
  std::deque<Datagram> datagrams;
  Operation* reader = nullptr;  // accept, recv, recvmsg, wait_readable
  Operation* writer = nullptr;  // connect, send, wait_writable
};

struct Network::Link {
  bool cut = false;
  absl::Time clogged_until = absl::InfinitePast();
  absl::Time busy_until = absl::InfinitePast();
  std::optional<std::pair<absl::Duration, absl::Duration>> delay;  // latency, jitter
};

Network::Network(World& world)
    : world_(world), prng_(world.stream("network")), datagram_prng_(world.stream("datagrams")) {}

Network::~Network() = default;

// ---- Addresses, links, routing ----

Network::Addr Network::to_addr(const sockaddr* address, socklen_t length, int* error) {
  *error = 0;
  if (address == nullptr || length < static_cast<socklen_t>(sizeof(sockaddr_in)) ||
      address->sa_family != AF_INET) {
    *error = EAFNOSUPPORT;
    return {};
  }
  const auto* in = reinterpret_cast<const sockaddr_in*>(address);
  return Addr{ntohl(in->sin_addr.s_addr), ntohs(in->sin_port)};
}

void Network::fill(Addr address, sockaddr* out, socklen_t* length) {
  if (out == nullptr || length == nullptr) return;
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(address.ip);
  in.sin_port = htons(address.port);
  const socklen_t size = std::min<socklen_t>(*length, sizeof(in));
  std::memcpy(out, &in, size);
  *length = sizeof(in);
}

std::string Network::text(Addr a) const {
  return absl::StrCat(a.ip >> 24, ".", (a.ip >> 16) & 0xff, ".", (a.ip >> 8) & 0xff, ".",
                      a.ip & 0xff, ":", a.port);
}

Network::Socket* Network::find(int fd) {
  auto it = sockets_.find(fd);
  return it == sockets_.end() ? nullptr : it->second.get();
}

Network::Link& Network::link(uint32_t from, uint32_t to) { return links_[{from, to}]; }

bool Network::blocked(uint32_t from, uint32_t to) {
  const Link& l = link(from, to);
  return l.cut || world_.now() < l.clogged_until;
}

absl::Duration Network::delay(uint32_t from, uint32_t to) {
  if (from == to) return absl::ZeroDuration();
  const Link& l = link(from, to);
  absl::Duration latency = world_.faults().network.latency;
  absl::Duration jitter = world_.faults().network.jitter;
  if (l.delay) std::tie(latency, jitter) = *l.delay;
  if (jitter > absl::ZeroDuration()) {
    latency += absl::Nanoseconds(static_cast<int64_t>(
        prng_.uniform(static_cast<uint64_t>(absl::ToInt64Nanoseconds(jitter)) + 1)));
  }
  return latency;
}

uint32_t Network::route(uint32_t from, uint32_t ip) {
  if (ip == kLoopback) return from;
  Host* host = world_.host_by_ip(ip);
  return host == nullptr ? 0 : host->id();
}

Network::Socket* Network::bound(uint32_t host, int type, uint16_t port) {
  auto it = bindings_.find({host, type, port});
  return it == bindings_.end() ? nullptr : find(it->second);
}

void Network::set_cut(uint32_t from, uint32_t to, bool cut) {
  link(from, to).cut = cut;
  if (!cut) {
    // Data that waited for the link flows again, one latency after the heal.
    for (auto& [id, conn] : connections_) {
      for (int side = 0; side < 2; ++side) {
        Endpoint& end = conn->end[side];
        if (!end.stalled || end.host != from || conn->end[1 - side].host != to) continue;
        end.stalled = false;
        absl::Time at = world_.now() + delay(from, to);
        for (Segment& segment : end.out) {
          at = std::max(at, segment.arrive);
          segment.arrive = at;
        }
        end.last_arrival = at;
        std::shared_ptr<Connection> keep = conn;
        for (const Segment& segment : end.out) {
          world_.at(segment.arrive, [this, keep, side] { pump(keep, side); });
        }
      }
    }
  }
}

void Network::heal_all() {
  std::vector<std::pair<uint32_t, uint32_t>> cut;
  for (const auto& [key, l] : links_) {
    if (l.cut) cut.push_back(key);
  }
  for (const auto& [from, to] : cut) set_cut(from, to, false);
}

void Network::clog(uint32_t from, uint32_t to, absl::Time until) {
  Link& l = link(from, to);
  l.clogged_until = std::max(l.clogged_until, until);
}

void Network::set_delay(uint32_t from, uint32_t to, absl::Duration latency, absl::Duration jitter) {
  link(from, to).delay = std::make_pair(latency, jitter);
}

// ---- Synchronous calls ----

int Network::socket(Host& host, int family, int type) {
  if (family != AF_INET) return -EAFNOSUPPORT;
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return -EPROTONOSUPPORT;
  auto socket = std::make_unique<Socket>();
  socket->fd = world_.next_fd();
  socket->host = host.id();
  socket->type = type;
  const int fd = socket->fd;
  sockets_[fd] = std::move(socket);
  return fd;
}

int Network::bind_port(Socket& socket, Addr address) {
  Host* host = world_.host_by_id(socket.host);
  if (address.ip != 0 && address.ip != kLoopback && world_.host_by_ip(address.ip) != host) {
    return -EADDRNOTAVAIL;
  }
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
  } else if (bindings_.contains({socket.host, socket.type, address.port})) {
    return -EADDRINUSE;
  }
  bindings_[{socket.host, socket.type, address.port}] = socket.fd;
  socket.local = Addr{address.ip == 0 ? host->ipv4() : address.ip, address.port};
  if (socket.state == Socket::kNew) socket.state = Socket::kBound;
  return 0;
}

int Network::bind(int fd, const sockaddr* address, socklen_t length) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (socket->dead) return -ENETDOWN;
  if (socket->state != Socket::kNew) return -EINVAL;
  int error = 0;
  const Addr addr = to_addr(address, length, &error);
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
  (void)value;
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  const bool known = (level == SOL_SOCKET && (option == SO_REUSEADDR || option == SO_REUSEPORT)) ||
                     (level == IPPROTO_TCP && option == TCP_NODELAY);
  return known ? 0 : -ENOPROTOOPT;
}

int Network::socket_name(int fd, bool peer, sockaddr* address, socklen_t* length) {
  Socket* socket = find(fd);
  if (socket == nullptr) return -EBADF;
  if (peer) {
    if (socket->state != Socket::kConnected) return -ENOTCONN;
    fill(socket->peer, address, length);
  } else {
    fill(socket->local, address, length);
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
  for (Operation** slot : {&socket->reader, &socket->writer}) {
    if (Operation* op = std::exchange(*slot, nullptr)) op->complete(-EBADF);
  }
  if (socket->dead) return 0;
  auto binding = bindings_.find({socket->host, socket->type, socket->local.port});
  if (binding != bindings_.end() && binding->second == fd) bindings_.erase(binding);
  if (socket->conn) close_endpoint(*socket->conn, socket->side, /*reset=*/false);
  for (const std::shared_ptr<Connection>& pending : socket->backlog) {
    close_endpoint(*pending, 1, /*reset=*/true);
  }
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
      const Addr to = to_addr(op.address, op.address_length ? *op.address_length : 0, &error);
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
  for (auto& [fd, socket] : sockets_) {
    for (Operation** slot : {&socket->reader, &socket->writer}) {
      if (Operation* op = std::exchange(*slot, nullptr)) op->complete(-ECANCELED);
    }
  }
}

void Network::crash(Host& host) {
  for (auto& [fd, socket] : sockets_) {
    if (socket->host != host.id() || socket->dead) continue;
    socket->dead = true;
    for (Operation** slot : {&socket->reader, &socket->writer}) {
      if (Operation* op = std::exchange(*slot, nullptr)) op->complete(-ECONNRESET);
    }
    if (socket->conn) close_endpoint(*socket->conn, socket->side, /*reset=*/true);
    for (const std::shared_ptr<Connection>& pending : socket->backlog) {
      close_endpoint(*pending, 1, /*reset=*/true);
    }
    socket->backlog.clear();
    socket->datagrams.clear();
    auto binding = bindings_.find({socket->host, socket->type, socket->local.port});
    if (binding != bindings_.end() && binding->second == fd) bindings_.erase(binding);
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

// ---- TCP ----

void Network::start_connect(Socket& socket, Addr to, Operation& op) {
  if (socket.type != SOCK_STREAM) {
    op.complete(-EOPNOTSUPP);
    return;
  }
  if (socket.state == Socket::kConnected) {
    op.complete(-EISCONN);
    return;
  }
  if (socket.state != Socket::kNew && socket.state != Socket::kBound) {
    op.complete(-EALREADY);
    return;
  }
  if (socket.state == Socket::kNew) {
    if (const int result = bind_port(socket, Addr{}); result < 0) {
      op.complete(result);
      return;
    }
  }
  socket.state = Socket::kConnecting;
  socket.peer = to;
  socket.writer = &op;
  world_.record("connect", text(to));
  send_syn(socket.fd, ++socket.connect_attempt, world_.now(), 0);
}

void Network::send_syn(int fd, uint64_t attempt, absl::Time started, int tries) {
  Socket* socket = find(fd);
  if (socket == nullptr || socket->state != Socket::kConnecting ||
      socket->connect_attempt != attempt || socket->conn) {
    return;  // answered, cancelled or closed
  }
  if (world_.now() - started >= kConnectGiveUp) {
    socket->state = Socket::kBound;
    world_.record("connect timed out", text(socket->peer), 0, 0, socket->host);
    if (Operation* op = std::exchange(socket->writer, nullptr)) op->complete(-ETIMEDOUT);
    return;
  }
  const uint32_t from = socket->host;
  const uint32_t to_host = route(from, socket->peer.ip);
  if (to_host != 0 && !blocked(from, to_host)) {
    const Addr client = socket->local;
    const Addr to = socket->peer;
    world_.at(world_.now() + delay(from, to_host), [this, fd, attempt, from, client, to] {
      syn_arrives(fd, attempt, from, client, to);
    });
  }
  // Linux retries after 1, 2, 4, ... seconds and gives up after 127.
  const absl::Time retry =
      std::min(world_.now() + absl::Seconds(int64_t{1} << tries), started + kConnectGiveUp);
  world_.at(retry,
            [this, fd, attempt, started, tries] { send_syn(fd, attempt, started, tries + 1); });
}

void Network::syn_arrives(int fd, uint64_t attempt, uint32_t from, Addr client, Addr to) {
  Socket* socket = find(fd);
  if (socket == nullptr || socket->state != Socket::kConnecting ||
      socket->connect_attempt != attempt || socket->conn) {
    return;
  }
  const uint32_t to_host = route(from, to.ip);
  Host* host = world_.host_by_id(to_host);
  if (host == nullptr || !host->alive() || blocked(from, to_host)) return;  // lost; retried
  Socket* listener = bound(to_host, SOCK_STREAM, to.port);
  if (listener == nullptr || listener->state != Socket::kListening) {
    // A reset answers: refused, one latency later.
    world_.at(world_.now() + delay(to_host, from), [this, fd, attempt] {
      Socket* s = find(fd);
      if (s == nullptr || s->state != Socket::kConnecting || s->connect_attempt != attempt ||
          s->conn) {
        return;
      }
      s->state = Socket::kBound;
      world_.record("refused", text(s->peer), 0, 0, s->host);
      if (Operation* op = std::exchange(s->writer, nullptr)) op->complete(-ECONNREFUSED);
    });
    return;
  }
  if (listener->backlog.size() >= static_cast<size_t>(listener->backlog_max)) return;  // retried
  auto conn = std::make_shared<Connection>();
  conn->id = ++last_connection_;
  conn->end[0].host = from;
  conn->end[0].fd = fd;
  conn->end[1].host = to_host;
  conn->addr[0] = client;
  conn->addr[1] = to;
  connections_[conn->id] = conn;
  ++stats_.connections;
  socket->conn = conn;
  socket->side = 0;
  listener->backlog.push_back(conn);
  world_.record("syn", absl::StrCat(text(client), " -> ", text(to)), 0, 0, to_host);
  try_accept(*listener);
  transmit(conn, 1, Segment{Segment::kSynAck, {}, {}, 0});
}

void Network::try_accept(Socket& listener) {
  Operation* op = listener.reader;
  if (op == nullptr || listener.backlog.empty()) return;
  if (op->kind() == OpKind::kWaitReadable) {
    listener.reader = nullptr;
    op->complete(POLLIN);
    return;
  }
  std::shared_ptr<Connection> conn = std::move(listener.backlog.front());
  listener.backlog.pop_front();
  auto socket = std::make_unique<Socket>();
  socket->fd = world_.next_fd();
  socket->host = listener.host;
  socket->state = Socket::kConnected;
  socket->local = conn->addr[1];
  socket->peer = conn->addr[0];
  socket->conn = conn;
  socket->side = 1;
  conn->end[1].fd = socket->fd;
  const int fd = socket->fd;
  fill(socket->peer, op->address, op->address_length);
  sockets_[fd] = std::move(socket);
  listener.reader = nullptr;
  op->complete(fd);
}

void Network::transmit(const std::shared_ptr<Connection>& conn, int side, Segment segment) {
  Endpoint& end = conn->end[side];
  const uint32_t from = end.host;
  const uint32_t to = conn->end[1 - side].host;
  absl::Time start = world_.now();
  if (const int64_t bandwidth = world_.faults().network.bandwidth;
      bandwidth > 0 && from != to && !segment.data.empty()) {
    Link& l = link(from, to);
    l.busy_until =
        std::max(l.busy_until, world_.now()) +
        absl::Nanoseconds(static_cast<int64_t>(segment.data.size()) * 1'000'000'000 / bandwidth);
    start = l.busy_until;
  }
  segment.arrive = std::max(start + delay(from, to), end.last_arrival);
  end.last_arrival = segment.arrive;
  segment.flow = world_.mutable_trace().new_flow();
  static constexpr const char* kNames[] = {"syn-ack", "send", "fin", "rst"};
  world_.record(kNames[segment.kind], absl::StrCat(segment.data.size(), " bytes"), segment.flow, 0,
                from);
  end.out_bytes += segment.data.size();
  const absl::Time at = segment.arrive;
  end.out.push_back(std::move(segment));
  std::shared_ptr<Connection> keep = conn;
  world_.at(at, [this, keep, side] { pump(keep, side); });
}

void Network::pump(const std::shared_ptr<Connection>& conn, int side) {
  Endpoint& end = conn->end[side];
  const uint32_t from = end.host;
  const uint32_t to = conn->end[1 - side].host;
  while (!end.out.empty() && end.out.front().arrive <= world_.now()) {
    if (blocked(from, to)) {
      end.stalled = true;
      const Link& l = link(from, to);
      if (!l.cut) {
        // Clogged: try again when the clog ends, one latency later.
        const absl::Time at = l.clogged_until + delay(from, to);
        for (Segment& segment : end.out) segment.arrive = std::max(segment.arrive, at);
        end.last_arrival = std::max(end.last_arrival, at);
        end.stalled = false;
        std::shared_ptr<Connection> keep = conn;
        world_.at(at, [this, keep, side] { pump(keep, side); });
      }
      return;
    }
    Segment segment = std::move(end.out.front());
    end.out.pop_front();
    end.out_bytes -= segment.data.size();
    arrive(*conn, 1 - side, segment);
  }
}

void Network::arrive(Connection& conn, int side, Segment& segment) {
  Endpoint& end = conn.end[side];
  ++stats_.segments_delivered;
  static constexpr const char* kNames[] = {"syn-ack in", "recv", "fin in", "rst in"};
  world_.record(kNames[segment.kind], absl::StrCat(segment.data.size(), " bytes"), 0, segment.flow,
                end.host);
  if (end.closed) {
    // Data for a socket that is gone: the peer gets a reset.
    if (segment.kind == Segment::kData || segment.kind == Segment::kSynAck) {
      Endpoint& peer = conn.end[1 - side];
      if (!peer.closed && !peer.reset) {
        transmit(connections_.at(conn.id), side, Segment{Segment::kRst, {}, {}, 0});
      }
    }
    return;
  }
  switch (segment.kind) {
    case Segment::kSynAck: {
      Socket* socket = find(end.fd);
      if (socket != nullptr && socket->state == Socket::kConnecting) {
        socket->state = Socket::kConnected;
        if (Operation* op = std::exchange(socket->writer, nullptr)) op->complete(0);
      }
      return;
    }
    case Segment::kData:
      if (end.reset) return;
      if (end.inbox_head > 0 && end.inbox_head * 2 >= end.inbox.size()) {
        end.inbox.erase(0, end.inbox_head);
        end.inbox_head = 0;
      }
      end.inbox += segment.data;
      break;
    case Segment::kFin:
      end.fin_in = true;
      break;
    case Segment::kRst:
      end.reset = true;
      end.inbox.clear();
      end.inbox_head = 0;
      break;
  }
  if (end.fd >= 0) wake(end.fd);
}

void Network::close_endpoint(Connection& conn, int side, bool reset) {
  Endpoint& end = conn.end[side];
  if (end.closed) return;
  end.closed = true;
  std::shared_ptr<Connection> keep = connections_.at(conn.id);
  Endpoint& peer = conn.end[1 - side];
  if (!peer.closed && !end.reset) {
    // Closing with unread data resets the connection, as Linux does.
    if (reset || end.unread() > 0) {
      transmit(keep, side, Segment{Segment::kRst, {}, {}, 0});
    } else if (!end.fin_out) {
      end.fin_out = true;
      transmit(keep, side, Segment{Segment::kFin, {}, {}, 0});
    }
  }
  // The peer's writer may wait for window space that will never open.
  if (peer.fd >= 0 && end.unread() > 0) wake(peer.fd);
  if (peer.closed) connections_.erase(conn.id);
}

void Network::try_receive(Socket& socket) {
  Operation* op = socket.reader;
  if (op == nullptr || socket.state != Socket::kConnected) return;
  Endpoint& end = socket.conn->end[socket.side];
  const bool ready = end.unread() > 0 || end.fin_in || end.reset;
  if (!ready) return;
  socket.reader = nullptr;
  if (op->kind() == OpKind::kWaitReadable) {
    op->complete(POLLIN);
    return;
  }
  if (end.unread() > 0) {
    const size_t n = std::min(op->length, end.unread());
    std::memcpy(op->buffer, end.inbox.data() + end.inbox_head, n);
    end.inbox_head += n;
    if (end.inbox_head == end.inbox.size()) {
      end.inbox.clear();
      end.inbox_head = 0;
    }
    op->complete(static_cast<int64_t>(n));
    // The window opened: the peer's writer may go on.
    const int peer_fd = socket.conn->end[1 - socket.side].fd;
    if (peer_fd >= 0) {
      if (Socket* peer = find(peer_fd)) try_send(*peer);
    }
    return;
  }
  op->complete(end.reset ? -ECONNRESET : 0);
}

void Network::try_send(Socket& socket) {
  Operation* op = socket.writer;
  if (op == nullptr || socket.state != Socket::kConnected) return;
  Endpoint& end = socket.conn->end[socket.side];
  const Endpoint& peer = socket.conn->end[1 - socket.side];
  if (end.reset || end.fin_out) {
    socket.writer = nullptr;
    op->complete(end.reset ? -ECONNRESET : -EPIPE);
    return;
  }
  const size_t used = end.out_bytes + peer.unread();
  if (used >= kWindow) return;  // waits for the reader
  socket.writer = nullptr;
  if (op->kind() == OpKind::kWaitWritable) {
    op->complete(POLLOUT);
    return;
  }
  const size_t n = std::min(op->length, kWindow - used);
  transmit(socket.conn, socket.side,
           Segment{Segment::kData, std::string(static_cast<const char*>(op->buffer), n), {}, 0});
  op->complete(static_cast<int64_t>(n));
}

// ---- UDP ----

void Network::send_datagram(Socket& socket, Operation& op) {
  if (socket.type != SOCK_DGRAM) {
    op.complete(-EOPNOTSUPP);
    return;
  }
  const msghdr* message = op.message;
  if (message == nullptr) {
    op.complete(-EINVAL);
    return;
  }
  int error = 0;
  const Addr to =
      to_addr(static_cast<const sockaddr*>(message->msg_name), message->msg_namelen, &error);
  if (error != 0) {
    op.complete(-error);
    return;
  }
  if (socket.state == Socket::kNew) {
    if (const int result = bind_port(socket, Addr{}); result < 0) {
      op.complete(result);
      return;
    }
  }
  std::string data;
  for (size_t i = 0; i < message->msg_iovlen; ++i) {
    data.append(static_cast<const char*>(message->msg_iov[i].iov_base),
                message->msg_iov[i].iov_len);
  }
  if (data.size() > kMaxDatagram) {  // what Linux says for IPv4
    op.complete(-EMSGSIZE);
    return;
  }
  ++stats_.datagrams_sent;
  // The same draws for every datagram, whatever the outcome, keep the stream aligned.
  const NetworkFaults& faults = world_.faults().network;
  const bool lost = datagram_prng_.chance(faults.loss);
  const bool duplicated = datagram_prng_.chance(faults.duplication);
  const uint32_t from = socket.host;
  const uint32_t to_host = route(from, to.ip);
  const uint64_t flow = world_.mutable_trace().new_flow();
  world_.record("sendto", absl::StrCat(data.size(), " bytes to ", text(to)), flow);
  const int64_t sent = static_cast<int64_t>(data.size());
  if (to_host == 0 || link(from, to_host).cut) {
    ++stats_.datagrams_cut;
    world_.record("datagram cut", text(to), 0, flow, from);
  } else if (lost) {
    ++stats_.datagrams_lost;
    world_.record("datagram lost", text(to), 0, flow, from);
  } else {
    if (duplicated) ++stats_.datagrams_duplicated;
    const Addr source = Addr{socket.local.ip, socket.local.port};
    for (int copy = 0; copy < (duplicated ? 2 : 1); ++copy) {
      absl::Time at = world_.now() + delay(from, to_host);
      if (datagram_prng_.chance(faults.reorder)) {
        ++stats_.datagrams_reordered;
        at += faults.latency * (1 + static_cast<int64_t>(datagram_prng_.uniform(3)));
      }
      const Link& l = link(from, to_host);
      if (world_.now() < l.clogged_until) at = std::max(at, l.clogged_until + faults.latency);
      world_.at(at, [this, to_host, to, source, data, flow] {
        deliver_datagram(to_host, to, source, data, flow);
      });
    }
  }
  op.complete(sent);
}

void Network::deliver_datagram(uint32_t to_host, Addr to, Addr from, const std::string& data,
                               uint64_t flow) {
  Host* host = world_.host_by_id(to_host);
  const uint32_t from_host = route(to_host, from.ip);
  if (host == nullptr || !host->alive() || (from_host != 0 && link(from_host, to_host).cut)) {
    ++stats_.datagrams_cut;
    return;
  }
  Socket* socket = bound(to_host, SOCK_DGRAM, to.port);
  if (socket == nullptr || socket->datagrams.size() >= kDatagramQueue) return;
  ++stats_.datagrams_delivered;
  world_.record("recvfrom", absl::StrCat(data.size(), " bytes from ", text(from)), 0, flow,
                to_host);
  socket->datagrams.push_back(Datagram{from, data});
  try_receive_datagram(*socket);
}

void Network::try_receive_datagram(Socket& socket) {
  Operation* op = socket.reader;
  if (op == nullptr || socket.datagrams.empty()) return;
  socket.reader = nullptr;
  if (op->kind() == OpKind::kWaitReadable) {
    op->complete(POLLIN);
    return;
  }
  Datagram datagram = std::move(socket.datagrams.front());
  socket.datagrams.pop_front();
  msghdr* message = op->message;
  size_t copied = 0;
  for (size_t i = 0; i < message->msg_iovlen && copied < datagram.data.size(); ++i) {
    const size_t n = std::min(message->msg_iov[i].iov_len, datagram.data.size() - copied);
    std::memcpy(message->msg_iov[i].iov_base, datagram.data.data() + copied, n);
    copied += n;
  }
  message->msg_flags = copied < datagram.data.size() ? MSG_TRUNC : 0;
  fill(datagram.from, static_cast<sockaddr*>(message->msg_name), &message->msg_namelen);
  op->complete(static_cast<int64_t>(copied));
}

}  // namespace giambio::sim

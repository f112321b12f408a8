// The TCP room of the simulated network (see network.h): connect with SYN retries, accept,
// segments over the links, the receive window, FIN and RST.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "sim/network.h"
#include "sim/network_parts.h"
#include "sim/world.h"

namespace giambio::sim {

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
  if (socket.bound_any) {  // the source address follows the peer's family
    const uint16_t port = socket.local.port;
    socket.local = own_address(socket.host, to);
    socket.local.port = port;
  }
  socket.state = Socket::kConnecting;
  socket.peer = to;
  socket.writer = &op;
  world_.record("connect", text(to));
  send_syn(socket.fd, ++socket.connect_attempt, world_.now(), 0);
}

Network::Socket* Network::connecting(int fd, uint64_t attempt) {
  Socket* socket = find(fd);
  if (socket == nullptr || socket->state != Socket::kConnecting ||
      socket->connect_attempt != attempt || socket->conn) {
    return nullptr;
  }
  return socket;
}

void Network::send_syn(int fd, uint64_t attempt, absl::Time started, int tries) {
  Socket* socket = connecting(fd, attempt);
  if (socket == nullptr) return;  // answered, cancelled or closed
  if (world_.now() - started >= kConnectGiveUp) {
    socket->state = Socket::kBound;
    world_.record("connect timed out", text(socket->peer), {.host = socket->host});
    if (Operation* op = std::exchange(socket->writer, nullptr)) op->complete(-ETIMEDOUT);
    return;
  }
  const uint32_t from = socket->host;
  const uint32_t to_host = route(from, socket->peer);
  const bool vanishes = ipv6_broken_ && !socket->peer.is_v4() && !socket->peer.is_loopback();
  if (to_host != 0 && !links_.blocked(from, to_host) && !vanishes) {
    const Addr client = socket->local;
    const Addr to = socket->peer;
    world_.at(world_.now() + links_.delay(from, to_host), [this, fd, attempt, from, client, to] {
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
  Socket* socket = connecting(fd, attempt);
  if (socket == nullptr) return;
  const uint32_t to_host = route(from, to);
  Host* host = world_.host_by_id(to_host);
  if (host == nullptr || !host->alive() || links_.blocked(from, to_host)) return;  // lost; retried
  Socket* listener = bound(to_host, SOCK_STREAM, to.port, client);
  // An IPv4 listener does not hear IPv6 (an IPv6 one hears both).
  const bool hears = listener != nullptr && listener->state == Socket::kListening &&
                     (listener->family == AF_INET6 || to.is_v4());
  if (!hears) {
    // A reset answers: refused, one latency later.
    world_.at(world_.now() + links_.delay(to_host, from), [this, fd, attempt] {
      Socket* s = connecting(fd, attempt);
      if (s == nullptr) return;
      s->state = Socket::kBound;
      world_.record("refused", text(s->peer), {.host = s->host});
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
  world_.record("syn", absl::StrCat(text(client), " -> ", text(to)), {.host = to_host});
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
  socket->family = listener.family;
  socket->state = Socket::kConnected;
  socket->local = conn->addr[1];
  socket->peer = conn->addr[0];
  socket->conn = conn;
  socket->side = 1;
  conn->end[1].fd = socket->fd;
  const int fd = socket->fd;
  fill(socket->family, socket->peer, op->address, op->address_length);
  sockets_[fd] = std::move(socket);
  listener.reader = nullptr;
  op->complete(fd);
}

void Network::transmit(const std::shared_ptr<Connection>& conn, int side, Segment segment) {
  Endpoint& end = conn->end[side];
  const uint32_t from = end.host;
  const uint32_t to = conn->end[1 - side].host;
  const absl::Time start = links_.start_sending(from, to, segment.data.size());
  segment.arrive = std::max(start + links_.delay(from, to), end.last_arrival);
  end.last_arrival = segment.arrive;
  segment.flow = world_.mutable_trace().new_flow();
  static constexpr const char* kNames[] = {"syn-ack", "send", "fin", "rst"};
  world_.record(kNames[segment.kind], absl::StrCat(segment.data.size(), " bytes"),
                {.host = from, .flow_out = segment.flow});
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
    if (links_.blocked(from, to)) {
      end.stalled = true;
      if (!links_.cut(from, to)) {
        // Clogged: try again when the clog ends, one latency later.
        const absl::Time at = links_.clogged_until(from, to) + links_.delay(from, to);
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
  world_.record(kNames[segment.kind], absl::StrCat(segment.data.size(), " bytes"),
                {.host = end.host, .flow_in = segment.flow});
  if (end.closed) {
    // Data for a socket that is gone: the peer gets a reset.
    if (segment.kind == Segment::kData || segment.kind == Segment::kSynAck) {
      Endpoint& peer = conn.end[1 - side];
      if (!peer.closed && !peer.reset) {
        transmit(live(conn), side, Segment{Segment::kRst, {}, {}, 0});
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
  std::shared_ptr<Connection> keep = live(conn);
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
  GIAMBIO_CHECK(end.inbox_head <= end.inbox.size(), "simulator: connection ", socket.conn->id,
                " read past its inbox (", end.inbox_head, " of ", end.inbox.size(), ")");
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
  GIAMBIO_CHECK(used <= kWindow, "simulator: connection ", socket.conn->id, " side ", socket.side,
                " has ", used, " bytes in flight and unread, over the ", kWindow, "-byte window");
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

void Network::resume_stalled(uint32_t from, uint32_t to) {
  for (auto& [id, conn] : connections_) {
    for (int side = 0; side < 2; ++side) {
      Endpoint& end = conn->end[side];
      if (!end.stalled || end.host != from || conn->end[1 - side].host != to) continue;
      end.stalled = false;
      absl::Time at = world_.now() + links_.delay(from, to);
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

std::shared_ptr<Network::Connection> Network::live(const Connection& conn) {
  auto it = connections_.find(conn.id);
  GIAMBIO_CHECK(it != connections_.end() && it->second.get() == &conn, "simulator: connection ",
                conn.id, " is in use but not in the table of live connections");
  return it->second;
}

void Network::reset_backlog(Socket& listener) {
  for (const std::shared_ptr<Connection>& pending : listener.backlog) {
    close_endpoint(*pending, 1, /*reset=*/true);
  }
}

}  // namespace giambio::sim

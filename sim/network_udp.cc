// The UDP room of the simulated network (see network.h): datagrams with loss, duplication,
// reordering and delay, dropped across partitions, queued per socket.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/network.h"
#include "sim/network_parts.h"
#include "sim/world.h"

namespace giambio::sim {

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
  const Addr to = to_addr(socket.family, static_cast<const sockaddr*>(message->msg_name),
                          message->msg_namelen, &error);
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
  if (data.size() > (to.is_v4() ? kMaxDatagram : kMaxDatagram6)) {  // what Linux says
    op.complete(-EMSGSIZE);
    return;
  }
  ++stats_.datagrams_sent;
  // The same draws for every datagram, whatever the outcome, keep the stream aligned.
  const NetworkFaults& faults = world_.faults().network;
  const bool lost = datagram_prng_.chance(faults.loss);
  const bool duplicated = datagram_prng_.chance(faults.duplication);
  const uint32_t from = socket.host;
  const uint32_t to_host = route(from, to);
  const bool vanishes = ipv6_broken_ && !to.is_v4() && !to.is_loopback();
  const uint64_t flow = world_.mutable_trace().new_flow();
  world_.record("sendto", absl::StrCat(data.size(), " bytes to ", text(to)), {.flow_out = flow});
  const int64_t sent = static_cast<int64_t>(data.size());
  if (to_host == 0 || links_.cut(from, to_host) || vanishes) {
    ++stats_.datagrams_cut;
    world_.record("datagram cut", text(to), {.host = from, .flow_in = flow});
  } else if (lost) {
    ++stats_.datagrams_lost;
    world_.record("datagram lost", text(to), {.host = from, .flow_in = flow});
  } else {
    if (duplicated) ++stats_.datagrams_duplicated;
    Addr source = socket.bound_any ? own_address(from, to) : socket.local;
    source.port = socket.local.port;
    const int copies = duplicated ? 2 : 1;
    for (int copy = 0; copy < copies; ++copy) {
      absl::Time at = world_.now() + links_.delay(from, to_host);
      if (datagram_prng_.chance(faults.reorder)) {
        ++stats_.datagrams_reordered;
        at += faults.latency * (1 + static_cast<int64_t>(datagram_prng_.uniform(3)));
      }
      const absl::Time clogged_until = links_.clogged_until(from, to_host);
      if (world_.now() < clogged_until) at = std::max(at, clogged_until + faults.latency);
      // The last copy takes the bytes; a duplicate's first copy has its own.
      std::string bytes = copy + 1 == copies ? std::move(data) : data;
      world_.at(at, [this, to_host, to, source, bytes = std::move(bytes), flow]() mutable {
        deliver_datagram(to_host, to, source, std::move(bytes), flow);
      });
    }
  }
  op.complete(sent);
}

void Network::deliver_datagram(uint32_t to_host, Addr to, Addr from, std::string data,
                               uint64_t flow) {
  Host* host = world_.host_by_id(to_host);
  const uint32_t from_host = route(to_host, from);
  if (host == nullptr || !host->alive() || (from_host != 0 && links_.cut(from_host, to_host))) {
    ++stats_.datagrams_cut;
    return;
  }
  Socket* socket = bound(to_host, SOCK_DGRAM, to.port, from);
  if (socket == nullptr || socket->datagrams.size() >= kDatagramQueue) return;
  if (socket->family == AF_INET && !to.is_v4()) return;  // an IPv4 socket hears no IPv6
  ++stats_.datagrams_delivered;
  world_.record("recvfrom", absl::StrCat(data.size(), " bytes from ", text(from)),
                {.host = to_host, .flow_in = flow});
  socket->datagrams.push_back(Datagram{from, std::move(data)});
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
  fill(socket.family, datagram.from, static_cast<sockaddr*>(message->msg_name),
       &message->msg_namelen);
  op->complete(static_cast<int64_t>(copied));
}

}  // namespace giambio::sim

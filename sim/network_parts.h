// sim/network_parts.h: the simulated network's inner records, shared by its three rooms
// (network.cc: the socket table and the driver's calls; network_tcp.cc: connections;
// network_udp.cc: datagrams). Only those files include it.
#ifndef SIM_NETWORK_PARTS_H_
#define SIM_NETWORK_PARTS_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "giambio/driver.h"
#include "sim/network.h"

namespace giambio::sim {

inline constexpr size_t kWindow = 256 * 1024;   // per direction: in flight + unread
inline constexpr size_t kMaxDatagram = 65507;   // IPv4: 65535 - 20 (IP header) - 8 (UDP header)
inline constexpr size_t kMaxDatagram6 = 65527;  // IPv6: 65535 - 8 (UDP header; no jumbograms)
inline constexpr size_t kDatagramQueue = 1024;  // datagrams waiting in one socket
inline constexpr absl::Duration kConnectGiveUp = absl::Seconds(127);  // tcp_syn_retries=6
inline constexpr uint32_t kLoopback = 0x7f000001;
inline constexpr uint16_t kFirstEphemeralPort = 32768;

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
  int family = AF_INET;
  State state = kNew;
  bool bound_any = false;   // bound to 0.0.0.0 or [::]: `local` follows the peer's family
  bool dead = false;        // its host crashed: every call fails until it is closed
  bool reuse_port = false;  // SO_REUSEPORT: shares its port with others that set it too
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

}  // namespace giambio::sim

#endif  // SIM_NETWORK_PARTS_H_

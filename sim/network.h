// sim/network.h: the simulated network between a world's hosts, behind the socket API.
//
// SocketListener, SocketStream and UdpSocket reach it through the simulator's driver, exactly as
// they reach the kernel in production. What it models:
//   - TCP: connect (refused when nobody listens, retried and finally timed out when the path
//     is cut or the host is down, like Linux's 127 s), accept with a backlog, ordered reliable
//     byte streams with latency, jitter, bandwidth and a 256 KiB window (a writer waits while
//     the reader does not read), half-close (FIN), reset (RST) when a host crashes or a socket
//     closes with unread data.
//   - UDP: datagrams with loss, duplication, reordering and delay, dropped across partitions.
//   - Links between hosts (each direction on its own): partitions (data waits and flows on
//     heal, as TCP retransmission would deliver it), clogging (stalled until a time), delays.
// IPv4 and IPv6: each host has 10.0.0.<id> and fd00::<id> (World's Host). A port is bound per
// host and protocol whatever the address or family (0.0.0.0, [::], the host's addresses, the
// loopbacks); an IPv4 socket reaches and is reached by IPv4 only, an IPv6 one by both (IPv4
// peers appear as ::ffff:a.b.c.d), as with Linux's default dual-stack sockets. The network can
// also drop every IPv6 packet (set_ipv6_broken), the failure happy eyeballs exists for.
//
// Three rooms: network.cc keeps the socket table and answers the driver's calls; network_tcp.cc
// runs connections (handshake, segments, window, FIN and RST); network_udp.cc carries datagrams.
// What passes between two hosts, and when, is decided by the links (links.h).
#ifndef SIM_NETWORK_H_
#define SIM_NETWORK_H_

#include <sys/socket.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "giambio/driver.h"
#include "giambio/prng.h"
#include "sim/links.h"

namespace giambio::sim {

class Host;
class World;

class Network {
 public:
  // Counters for tests and reports.
  struct Stats {
    uint64_t datagrams_sent = 0;
    uint64_t datagrams_lost = 0;        // dropped by the loss rate
    uint64_t datagrams_duplicated = 0;  // delivered twice
    uint64_t datagrams_reordered = 0;   // held back
    uint64_t datagrams_cut = 0;         // dropped by a partition
    uint64_t datagrams_delivered = 0;
    uint64_t segments_delivered = 0;
    uint64_t connections = 0;
  };

  explicit Network(World& world);
  ~Network();

  bool owns(int fd) const { return sockets_.contains(fd); }
  // Sockets `host` has open now (tests check that nothing leaks).
  size_t open_sockets(const Host& host) const;

  // The driver's calls, for a task of `host`. Results as SystemCalls and Operation describe.
  int socket(Host& host, int family, int type);
  int bind(int fd, const sockaddr* address, socklen_t length);
  int listen(int fd, int backlog);
  int set_option(int fd, int level, int option, int value);
  int socket_name(int fd, bool peer, sockaddr* address, socklen_t* length);
  int shutdown(int fd, int how);
  int close(int fd);
  void submit(Operation& op);
  void cancel(Operation& op);
  // Withdraws every parked operation (the loop is being torn down).
  void cancel_all();

  // Ends every socket of `host`: parked operations fail, peers get a reset.
  void crash(Host& host);

  void set_cut(uint32_t from, uint32_t to, bool cut);
  void heal_all();
  void clog(uint32_t from, uint32_t to, absl::Time until);
  void set_delay(uint32_t from, uint32_t to, absl::Duration latency, absl::Duration jitter);
  // Every IPv6 packet vanishes (SYNs go unanswered, datagrams are cut), as on a network whose
  // IPv6 route is broken; IPv4 is untouched.
  void set_ipv6_broken(bool broken) { ipv6_broken_ = broken; }

  const Stats& stats() const { return stats_; }

 private:
  // An address as a dual-stack kernel keeps it: 16 bytes, IPv4 as ::ffff:a.b.c.d.
  struct Addr {
    uint8_t ip[16] = {};
    uint16_t port = 0;
    auto operator<=>(const Addr&) const = default;

    static Addr v4(uint32_t ip, uint16_t port);  // ip in host byte order
    bool is_v4() const;                          // IPv4-mapped
    uint32_t v4_ip() const;                      // host byte order; for is_v4()
    bool is_any() const;                         // 0.0.0.0 or ::
    bool is_loopback() const;                    // 127.0.0.1 or ::1
  };
  // Defined in network_parts.h.
  struct Segment;
  struct Endpoint;
  struct Connection;
  struct Datagram;
  struct Socket;

  // ---- Sockets (network.cc) ----
  Socket* find(int fd);
  // The host an address reaches from `from` (a loopback is `from` itself), or 0.
  uint32_t route(uint32_t from, const Addr& to);
  // `host`'s address of `family` (port 0), and its own address of the kind that talks to `to`
  // (its IPv4 one for an IPv4 peer, the loopback for a loopback).
  static Addr host_address(uint32_t host, int family);
  static Addr own_address(uint32_t host, const Addr& to);
  int bind_port(Socket& socket, Addr address);
  // Gives up the socket's port, if the binding is still its own.
  void unbind(Socket& socket);
  // The socket bound to `port` that hears `from`: with several (SO_REUSEPORT), the one that
  // `from`'s address and port pick among them (listening ones, for TCP), as Linux hashes a flow
  // to one socket of the group.
  Socket* bound(uint32_t host, int type, uint16_t port, const Addr& from);
  // Completes the socket's parked reader and writer, if any, with -error.
  static void fail_parked(Socket& socket, int error);
  // A sockaddr given to a socket of `family` (AF_INET takes sockaddr_in, AF_INET6 sockaddr_in6).
  static Addr to_addr(int family, const sockaddr* address, socklen_t length, int* error);
  // Writes `address` as a socket of `family` reports it.
  static void fill(int family, Addr address, sockaddr* out, socklen_t* length);
  std::string text(Addr address) const;
  // Completes what the socket's parked operations can do now; soon(): at the next poll.
  void wake(int fd);
  void soon(int fd);

  // ---- TCP (network_tcp.cc) ----
  void start_connect(Socket& socket, Addr to, Operation& op);
  // The socket `fd` if it still waits for connect attempt `attempt` (not answered, cancelled,
  // closed or retried since), else nullptr: what every delayed step of a connect checks first.
  Socket* connecting(int fd, uint64_t attempt);
  void send_syn(int fd, uint64_t attempt, absl::Time started, int tries);
  void syn_arrives(int fd, uint64_t attempt, uint32_t from, Addr client, Addr to);
  void transmit(const std::shared_ptr<Connection>& conn, int side, Segment segment);
  void pump(const std::shared_ptr<Connection>& conn, int side);
  void arrive(Connection& conn, int side, Segment& segment);
  void close_endpoint(Connection& conn, int side, bool reset);
  // The table's owning pointer to `conn`, which must be live (checked).
  std::shared_ptr<Connection> live(const Connection& conn);
  // Resets every connection waiting in a listener's backlog (the listener closed or crashed).
  void reset_backlog(Socket& listener);
  // Segments that waited for the link from -> to flow again, one latency after the heal.
  void resume_stalled(uint32_t from, uint32_t to);
  void try_accept(Socket& socket);
  void try_receive(Socket& socket);
  void try_send(Socket& socket);

  // ---- UDP (network_udp.cc) ----
  void send_datagram(Socket& socket, Operation& op);
  void deliver_datagram(uint32_t to_host, Addr to, Addr from, std::string data, uint64_t flow);
  void try_receive_datagram(Socket& socket);

  World& world_;
  Links links_;  // before datagram_prng_: both draw from the world's streams at construction
  Prng datagram_prng_;
  std::map<int, std::unique_ptr<Socket>> sockets_;
  // (host, type, port) -> the sockets bound there, in the order they bound (several only when
  // each set SO_REUSEPORT).
  std::map<std::tuple<uint32_t, int, uint16_t>, std::vector<int>> bindings_;
  std::map<uint32_t, uint16_t> next_port_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  uint64_t last_connection_ = 0;
  bool ipv6_broken_ = false;
  Stats stats_;
};

}  // namespace giambio::sim

#endif  // SIM_NETWORK_H_

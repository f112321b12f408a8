// giambio/open_tcp_stream.h: connect to a host by name, trying its addresses with happy
// eyeballs (RFC 8305), as Trio's open_tcp_stream does.
//
//   absl::StatusOr<SocketStream> stream = co_await open_tcp_stream("example.com", 443);
//
// The host is resolved (resolve.h); the addresses are interleaved by family, starting with the
// family getaddrinfo preferred (IPv6, IPv4, IPv6, ...). The first connect attempt starts at once;
// each next one starts when the previous has failed or when `happy_eyeballs_delay` has passed,
// whichever comes first, so a dead first address costs one delay, not a connect timeout. The
// first connection made wins; every other attempt is cancelled and its socket closed. When
// every attempt fails, the status keeps every cause, in attempt order:
//   "open_tcp_stream(db:5432): all 2 attempts failed: connect([::1]:5432): Connection refused;
//    connect(127.0.0.1:5432): Connection refused"
// (its code is the causes' code when they agree, Unavailable otherwise).
//
// Cancellation: a cancel scope around the call (with_timeout) stops the lookup and every
// attempt; nothing stays open. A zero delay starts all attempts at once; a negative one is
// InvalidArgument.
#ifndef GIAMBIO_OPEN_TCP_STREAM_H_
#define GIAMBIO_OPEN_TCP_STREAM_H_

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "giambio/socket_address.h"
#include "giambio/socket_stream.h"
#include "giambio/task.h"

namespace giambio {

struct OpenTcpOptions {
  // RFC 8305's "connection attempt delay"; it recommends 250 ms.
  absl::Duration happy_eyeballs_delay = absl::Milliseconds(250);
  // AF_UNSPEC (any), AF_INET or AF_INET6.
  int family = AF_UNSPEC;
};

Task<absl::StatusOr<SocketStream>> open_tcp_stream(std::string host, int port,
                                                   OpenTcpOptions options = {});

// The same over addresses already known, tried in the given order (no interleaving); `what`
// names the target in errors.
Task<absl::StatusOr<SocketStream>> open_tcp_stream(std::vector<SocketAddress> addresses,
                                                   OpenTcpOptions options = {},
                                                   std::string what = "addresses");

}  // namespace giambio

#endif  // GIAMBIO_OPEN_TCP_STREAM_H_

// giambio/resolve.h: host names to socket addresses, without blocking the loop.
//
//   absl::StatusOr<std::vector<SocketAddress>> addresses = co_await resolve("db.internal", 5432);
//
// getaddrinfo blocks, so it runs on a worker thread (internal/worker_threads.h) under both real
// drivers; the simulator answers from its table of host names. Numeric addresses ("10.0.0.7",
// "::1") are parsed at once, without a lookup.
//
// The addresses come in getaddrinfo's order (RFC 6724 preference), without duplicates, at most
// kResolveAddressesMax of them. Errors name the host: NotFound "no such host" (also when the
// host has no address of the asked family), Unavailable when the name server did not answer,
// InvalidArgument for an empty or over-long name, a port outside 0..65535 or an unknown family.
//
// Cancellation: a lookup still queued is withdrawn; one already running is abandoned (its thread
// finishes alone), so a cancelled or timed-out resolve returns at once, whatever the resolver's
// own timeouts are.
#ifndef GIAMBIO_RESOLVE_H_
#define GIAMBIO_RESOLVE_H_

#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "giambio/socket_address.h"
#include "giambio/task.h"

namespace giambio {

inline constexpr size_t kResolveAddressesMax = 32;

// family: AF_UNSPEC (any), AF_INET or AF_INET6.
Task<absl::StatusOr<std::vector<SocketAddress>>> resolve(std::string host, int port,
                                                         int family = AF_UNSPEC);

}  // namespace giambio

#endif  // GIAMBIO_RESOLVE_H_

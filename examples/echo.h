// examples/echo.h: giambio's echo server, the one copy that the echo_server binary, the
// simulator's echo scenario and the tests all run.
//
//   co_await giambio::examples::serve_echo(listener);   // until cancelled or accept fails
//
// echo() is written against the byte-stream surface (giambio/byte_stream.h), so it runs over a
// socket, a pipe or a TLS stream alike; serve_echo runs it for every connection a
// listener accepts, on any driver and in the simulator.
#ifndef EXAMPLES_ECHO_H_
#define EXAMPLES_ECHO_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "giambio/buggify.h"
#include "giambio/byte_stream.h"
#include "giambio/serve.h"
#include "giambio/socket_stream.h"
#include "giambio/task.h"
#include "giambio/tls.h"
#include "giambio/tls_serve.h"

namespace giambio::examples {

// Sends back every byte `stream` receives, until end of stream or an error.
template <ByteStream S>
Task<> echo(S& stream) {
  char buffer[16384];
  while (true) {
    // In a simulation, now and then a one-byte read (giambio/buggify.h): however the bytes come
    // split, they go back the same.
    const size_t wanted = buggify() ? 1 : sizeof(buffer);
    absl::StatusOr<size_t> n = co_await stream.read(std::span<char>(buffer, wanted));
    if (!n.ok() || *n == 0) co_return;
    absl::Status written = co_await stream.write_all(std::string_view(buffer, *n));
    if (!written.ok()) co_return;
  }
}

// Runs echo for every connection `listener` accepts (serve_tcp: a cancel ends them all). Returns
// the accept error that ended it (serve_tcp rides out descriptor exhaustion), or OK after a
// graceful shutdown (`options`).
Task<absl::Status> serve_echo(SocketListener& listener);
Task<absl::Status> serve_echo(SocketListener& listener, ServeOptions options);

// The same over TLS (serve_tls): the handshake in each connection's task, then echo, then a
// clean close_notify.
Task<absl::Status> serve_tls_echo(SocketListener& listener,
                                  std::shared_ptr<const TlsContext> context,
                                  ServeTlsOptions options = {});

}  // namespace giambio::examples

#endif  // EXAMPLES_ECHO_H_

// giambio/tls_serve.h: TLS clients and servers in one call, over TCP.
//
//   absl::StatusOr<giambio::TlsStream<giambio::SocketStream>> stream =
//       co_await giambio::open_tls_stream("example.com", 443, context);
//
//   co_await giambio::serve_tls(listener, context,
//       [](giambio::TlsStream<giambio::SocketStream>& stream) -> giambio::Task<> { ... });
//
// open_tls_stream connects with happy eyeballs (open_tcp_stream.h), then runs the handshake with
// `host` as SNI and as the name the server's certificate must carry. Every failure is a status
// naming the host: the connect's (all attempts), or the handshake's (certificate, protocol).
//
// serve_tls is serve_tcp (serve.h) with TLS: each connection runs in its own task, where the
// handshake runs first under `handshake_timeout`; a connection whose handshake fails or times
// out is reported (on stderr, or to options.on_failed_handshake) and closed,
// and the server goes on. Then handler(stream) runs; the stream closes when it returns (call
// stream.shutdown() in the handler for a clean close_notify). Cancelling serve_tls ends every
// connection. In the simulator both run as everywhere else (tls.h).
#ifndef GIAMBIO_TLS_SERVE_H_
#define GIAMBIO_TLS_SERVE_H_

#include <concepts>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "giambio/open_tcp_stream.h"
#include "giambio/serve.h"
#include "giambio/socket_stream.h"
#include "giambio/timeouts.h"
#include "giambio/tls.h"

namespace giambio {

Task<absl::StatusOr<TlsStream<SocketStream>>> open_tls_stream(
    std::string host, int port, std::shared_ptr<const TlsContext> context,
    OpenTcpOptions options = {});

struct ServeTlsOptions {
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Told about every handshake that failed or timed out (the connection is then closed); by
  // default a line on stderr.
  std::function<void(const absl::Status&)> on_failed_handshake = nullptr;
  // Graceful shutdown, as for serve_tcp (serve.h).
  ServeOptions serve = {};
};

// `handler` is called as handler(TlsStream<SocketStream>&) and returns a Task<>.
template <typename Handler>
Task<absl::Status> serve_tls(SocketListener& listener, std::shared_ptr<const TlsContext> context,
                             Handler handler, ServeTlsOptions options = {}) {
  static_assert(std::invocable<Handler&, TlsStream<SocketStream>&>,
                "serve_tls: the handler takes a TlsStream<SocketStream>&");
  auto connection = [&handler, &context, &options](SocketStream tcp) -> Task<> {
    absl::StatusOr<SocketAddress> peer_address = tcp.peer_address();
    const std::string peer = peer_address.ok() ? peer_address->to_string() : "a client";
    absl::StatusOr<TlsStream<SocketStream>> tls =
        TlsStream<SocketStream>::server(std::move(tcp), context, peer);
    absl::Status handshake = tls.status();
    if (tls.ok()) handshake = co_await with_timeout(options.handshake_timeout, tls->handshake());
    if (!handshake.ok()) {
      // A timeout's status comes from with_timeout: name the peer. The others name it already.
      const absl::Status failure = absl::IsDeadlineExceeded(handshake)
                                       ? absl::DeadlineExceededError(absl::StrCat(
                                             "TLS handshake with ", peer, ": timed out after ",
                                             absl::FormatDuration(options.handshake_timeout)))
                                       : handshake;
      if (options.on_failed_handshake) {
        options.on_failed_handshake(failure);
      } else {
        std::fprintf(stderr, "serve_tls: %s\n", failure.ToString().c_str());
      }
      co_return;
    }
    co_await std::invoke(handler, *tls);
  };
  co_return co_await serve_tcp(listener, connection, options.serve);
}

}  // namespace giambio

#endif  // GIAMBIO_TLS_SERVE_H_

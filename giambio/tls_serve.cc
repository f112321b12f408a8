#include "giambio/tls_serve.h"

namespace giambio {

Task<absl::StatusOr<TlsStream<SocketStream>>> open_tls_stream(
    std::string host, int port, std::shared_ptr<const TlsContext> context, OpenTcpOptions options) {
  absl::StatusOr<SocketStream> tcp = co_await open_tcp_stream(host, port, options);
  if (!tcp.ok()) co_return tcp.status();
  absl::StatusOr<TlsStream<SocketStream>> tls =
      TlsStream<SocketStream>::client(*std::move(tcp), std::move(context), host);
  if (!tls.ok()) co_return tls.status();
  if (absl::Status handshake = co_await tls->handshake(); !handshake.ok()) {
    (void)tls->close();
    co_return handshake;
  }
  co_return *std::move(tls);
}

}  // namespace giambio

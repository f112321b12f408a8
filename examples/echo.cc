#include "examples/echo.h"

#include <utility>

#include "giambio/serve.h"
#include "giambio/tls_serve.h"

namespace giambio::examples {
namespace {

Task<> echo_connection(SocketStream stream) { co_await echo(stream); }

Task<> echo_tls_connection(TlsStream<SocketStream>& stream) {
  co_await echo(stream);
  (void)co_await stream.shutdown();
}

}  // namespace

Task<absl::Status> serve_echo(SocketListener& listener) {
  return serve_tcp(listener, echo_connection);
}

Task<absl::Status> serve_echo(SocketListener& listener, ServeOptions options) {
  return serve_tcp(listener, echo_connection, options);
}

Task<absl::Status> serve_tls_echo(SocketListener& listener,
                                  std::shared_ptr<const TlsContext> context,
                                  ServeTlsOptions options) {
  co_return co_await serve_tls(listener, std::move(context), echo_tls_connection,
                               std::move(options));
}

}  // namespace giambio::examples

#include "examples/echo.h"

#include <utility>

#include "giambio/serve.h"

namespace giambio::examples {
namespace {

Task<> echo_connection(SocketStream stream) { co_await echo(stream); }

}  // namespace

Task<absl::Status> serve_echo(SocketListener& listener) {
  return serve_tcp(listener, echo_connection);
}

}  // namespace giambio::examples

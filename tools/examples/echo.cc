#include "tools/examples/echo.h"

#include <string_view>

#include "giambio/serve.h"

namespace giambio::examples {

Task<> echo(SocketStream stream) {
  char buffer[16384];
  while (true) {
    absl::StatusOr<size_t> n = co_await stream.read(buffer);
    if (!n.ok() || *n == 0) co_return;
    if (!(co_await stream.write_all(std::string_view(buffer, *n))).ok()) co_return;
  }
}

Task<absl::Status> serve_echo(SocketListener& listener) { return serve_tcp(listener, echo); }

}  // namespace giambio::examples

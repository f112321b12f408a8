// examples/echo_server.cc: giambio's echo server. Sends back every byte it receives.
//
//   bazel run //examples:echo_server -- --port=9000
//
// Prints "listening on HOST:PORT" once ready (with --port=0 the port is picked for you).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/echo.h"
#include "giambio/giambio.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9000, "Port to listen on (0: any free port).");

namespace {

giambio::Task<int> serve(giambio::SocketAddress address) {
  absl::StatusOr<giambio::SocketListener> listener = giambio::SocketListener::listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->local_address().to_string().c_str());
  std::fflush(stdout);
  absl::Status status = co_await giambio::examples::serve_echo(*listener);
  std::fprintf(stderr, "echo_server: %s\n", status.ToString().c_str());
  co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<giambio::SocketAddress> address =
      giambio::SocketAddress::parse(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
  if (!address.ok()) {
    std::fprintf(stderr, "echo_server: --host/--port: %s\n", address.status().ToString().c_str());
    return 2;
  }
  return giambio::run(serve(*address));
}

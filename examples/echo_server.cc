// examples/echo_server.cc: giambio's echo server (examples/echo.h) as a program. Sends back
// every byte it receives.
//
//   bazel run //examples:echo_server -- --port=9000
//
// Prints "listening on HOST:PORT" once ready (with --port=0 the port is picked for you).
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/echo.h"
#include "examples/program.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9000, "Port to listen on (0: any free port).");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return giambio::examples::server_main(
      "echo_server", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      [](giambio::SocketListener& listener, const giambio::ServeOptions& options) {
        return giambio::examples::serve_echo(listener, options);
      });
}

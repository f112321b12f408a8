// examples/echo_server.cc: giambio's echo server (examples/echo.h) as a program. Sends back
// every byte it receives.
//
//   bazel run //examples:echo_server -- --port=9000
//
// Prints "listening on HOST:PORT" once ready (with --port=0 the port is picked for you).
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/echo.h"
#include "examples/program.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9000, "Port to listen on (0: any free port).");
ABSL_FLAG(int, threads, 1, "Loops to serve on, one per thread (SO_REUSEPORT spreads connections).");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_threads) < 1) {
    std::fprintf(stderr, "echo_server: --threads=%d: must be at least 1\n",
                 absl::GetFlag(FLAGS_threads));
    return 2;
  }
  return giambio::examples::server_main(
      "echo_server", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      [](giambio::SocketListener& listener, const giambio::ServeOptions& options) {
        return giambio::examples::serve_echo(listener, options);
      },
      "", static_cast<size_t>(absl::GetFlag(FLAGS_threads)));
}

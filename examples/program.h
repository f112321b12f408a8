// examples/program.h: what every example program does around its server.
//
//   int main(int argc, char** argv) {
//     absl::ParseCommandLine(argc, argv);
//     return giambio::examples::server_main("echo_server", host, port, serve_echo);
//   }
//
// server_main parses --host/--port (exit status 2 and the reason on stderr if they are bad),
// listens, prints "listening on HOST:PORT" and the note (the line that tests and benchmarks wait
// for), and runs serve(listener, options) on giambio::run until it ends. Each connection's
// connect and disconnect is a line on stderr with the peer ("echo_server: 127.0.0.1:51234
// connected"), unless --quiet (benchmarks and load tests pass it).
//
// Stopping: SIGTERM or SIGINT (Ctrl-C) shuts the server down gracefully (serve.h): no new
// connections, the open ones have --shutdown_grace (10s) to finish, then they are cancelled; the
// program says so on stderr and exits 0. A second SIGTERM or SIGINT stops at once: every
// connection is cancelled and the exit status is 128 + the signal. A server that ends any other
// way (accept failed) exits 1 with the reason on stderr.
//
// With `loops` > 1 (echo_server's --threads), the server runs on that many loops, one per thread
// (run_loops, giambio/threads.h): each listens on the same address with SO_REUSEPORT, so the
// kernel spreads connections over them; loop 0 binds first (it picks the port for --port=0),
// receives the signals and tells every loop to shut down.
#ifndef EXAMPLES_PROGRAM_H_
#define EXAMPLES_PROGRAM_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "giambio/serve.h"
#include "giambio/socket_stream.h"
#include "giambio/task.h"

namespace giambio::examples {

using Serve = std::function<Task<absl::Status>(SocketListener&, const ServeOptions&)>;

int server_main(const char* program, const std::string& host, int port, Serve serve,
                const std::string& note = "", size_t loops = 1);

}  // namespace giambio::examples

#endif  // EXAMPLES_PROGRAM_H_

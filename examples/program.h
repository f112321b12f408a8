// examples/program.h: what every example program does around its server.
//
//   int main(int argc, char** argv) {
//     absl::ParseCommandLine(argc, argv);
//     return giambio::examples::server_main("echo_server", host, port, serve_echo);
//   }
//
// server_main parses --host/--port (exit status 2 and the reason on stderr if they are bad),
// listens, prints "listening on HOST:PORT" and the note (the line that tests and benchmarks wait
// for), and runs serve(listener) on giambio::run until it ends: exit status 1 with the reason on
// stderr, since a server only ends when it could not listen or accept failed.
#ifndef EXAMPLES_PROGRAM_H_
#define EXAMPLES_PROGRAM_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "giambio/socket_stream.h"
#include "giambio/task.h"

namespace giambio::examples {

int server_main(const char* program, const std::string& host, int port,
                std::function<Task<absl::Status>(SocketListener&)> serve,
                const std::string& note = "");

}  // namespace giambio::examples

#endif  // EXAMPLES_PROGRAM_H_

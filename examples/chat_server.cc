// examples/chat_server.cc: giambio's chat server (examples/chat.h) as a program. Every line a
// client sends goes to all the other clients.
//
//   bazel run //examples:chat_server -- --port=9001
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/chat.h"
#include "giambio/giambio.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9001, "Port to listen on (0: any free port).");
ABSL_FLAG(int, backlog_lines, 1024, "Lines queued for a client before it is disconnected.");

namespace {

using giambio::Task;

Task<int> serve(giambio::SocketAddress address) {
  absl::StatusOr<giambio::SocketListener> listener = giambio::SocketListener::listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->local_address().to_string().c_str());
  std::fflush(stdout);
  absl::Status status = co_await giambio::examples::serve_chat(
      *listener, {.backlog_lines = absl::GetFlag(FLAGS_backlog_lines), .welcome = ""});
  std::fprintf(stderr, "chat_server: %s\n", status.ToString().c_str());
  co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<giambio::SocketAddress> address =
      giambio::SocketAddress::parse(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
  if (!address.ok()) {
    std::fprintf(stderr, "chat_server: --host/--port: %s\n", address.status().ToString().c_str());
    return 2;
  }
  return giambio::run(serve(*address));
}

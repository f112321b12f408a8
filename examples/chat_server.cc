// examples/chat_server.cc: giambio's chat server (examples/chat.h) as a program. Every line a
// client sends goes to all the other clients.
//
//   bazel run //examples:chat_server -- --port=9001
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/chat.h"
#include "examples/program.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9001, "Port to listen on (0: any free port).");
ABSL_FLAG(int, backlog_lines, 1024, "Lines queued for a client before it is disconnected.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  giambio::examples::ChatOptions options;
  options.backlog_lines = absl::GetFlag(FLAGS_backlog_lines);
  if (options.backlog_lines < 1) {
    std::fprintf(stderr, "chat_server: --backlog_lines=%d: must be at least 1\n",
                 options.backlog_lines);
    return 2;
  }
  return giambio::examples::server_main(
      "chat_server", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      [options](giambio::SocketListener& listener, const giambio::ServeOptions& serve) {
        giambio::examples::ChatOptions chat = options;
        chat.serve = serve;
        return giambio::examples::serve_chat(listener, chat);
      });
}

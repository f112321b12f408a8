// examples/tcp_proxy.cc: giambio's TCP proxy. Forwards every connection to a target and
// copies bytes both ways; an end of stream on one side is passed on as a half-close.
//
//   bazel run //examples:tcp_proxy -- --port=9002 --target_port=9000
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/program.h"
#include "giambio/giambio.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9002, "Port to listen on (0: any free port).");
ABSL_FLAG(std::string, target_host, "127.0.0.1", "Address to forward to.");
ABSL_FLAG(int, target_port, 9000, "Port to forward to.");

namespace {

using giambio::SocketStream;
using giambio::Task;

// Copies `from` to `to` until end of stream, then half-closes `to`.
Task<> pump(SocketStream& from, SocketStream& to) {
  char buffer[16384];
  while (true) {
    absl::StatusOr<size_t> n = co_await from.read(buffer);
    if (!n.ok() || *n == 0) break;
    if (!(co_await to.write_all(std::string_view(buffer, *n))).ok()) break;
  }
  (void)to.send_eof();
}

Task<> forward(SocketStream client, giambio::SocketAddress target) {
  absl::StatusOr<SocketStream> upstream = co_await SocketStream::connect(target);
  if (!upstream.ok()) {
    std::fprintf(stderr, "tcp_proxy: %s\n", upstream.status().ToString().c_str());
    co_return;
  }
  co_await giambio::with_pool([&](giambio::Pool& pool) -> Task<> {
    pool.spawn(pump(client, *upstream));
    pool.spawn(pump(*upstream, client));
    co_return;
  });
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<giambio::SocketAddress> target = giambio::SocketAddress::parse(
      absl::GetFlag(FLAGS_target_host), absl::GetFlag(FLAGS_target_port));
  if (!target.ok()) {
    std::fprintf(stderr, "tcp_proxy: --target_host/--target_port: %s\n",
                 target.status().ToString().c_str());
    return 2;
  }
  return giambio::examples::server_main(
      "tcp_proxy", absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port),
      [target = *target](giambio::SocketListener& listener, const giambio::ServeOptions& options) {
        return giambio::serve_tcp(
            listener, [target](SocketStream client) { return forward(std::move(client), target); },
            options);
      },
      ", forwarding to " + target->to_string());
}

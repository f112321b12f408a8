#include "examples/program.h"

#include <cstdio>
#include <utility>

#include "absl/status/statusor.h"
#include "giambio/run.h"
#include "giambio/socket_address.h"

namespace giambio::examples {
namespace {

Task<int> listen_and_serve(const char* program, SocketAddress address,
                           std::function<Task<absl::Status>(SocketListener&)> serve,
                           std::string note) {
  absl::StatusOr<SocketListener> listener = SocketListener::listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s%s\n", listener->local_address().to_string().c_str(), note.c_str());
  std::fflush(stdout);
  const absl::Status ended = co_await serve(*listener);
  std::fprintf(stderr, "%s: %s\n", program, ended.ToString().c_str());
  co_return 1;
}

}  // namespace

int server_main(const char* program, const std::string& host, int port,
                std::function<Task<absl::Status>(SocketListener&)> serve, const std::string& note) {
  absl::StatusOr<SocketAddress> address = SocketAddress::parse(host, port);
  if (!address.ok()) {
    std::fprintf(stderr, "%s: --host/--port: %s\n", program, address.status().ToString().c_str());
    return 2;
  }
  return run(listen_and_serve(program, *address, std::move(serve), note));
}

}  // namespace giambio::examples

#include "examples/program.h"

#include <signal.h>

#include <cstdio>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/signals.h"
#include "giambio/socket_address.h"

ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM or SIGINT: how long open connections may run on before they are "
          "cancelled.");

namespace giambio::examples {
namespace {

Task<int> listen_and_serve(const char* program, SocketAddress address, Serve serve,
                           std::string note) {
  absl::StatusOr<SocketListener> listener = SocketListener::listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, listener.status().ToString().c_str());
    co_return 1;
  }
  absl::StatusOr<SignalReceiver> signals = open_signal_receiver({SIGTERM, SIGINT});
  if (!signals.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, signals.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s%s\n", listener->local_address().to_string().c_str(), note.c_str());
  std::fflush(stdout);
  Event shutdown;
  ServeOptions options;
  options.shutdown = &shutdown;
  options.grace = absl::GetFlag(FLAGS_shutdown_grace);
  absl::Status ended;
  int stopped_by = 0;  // the second signal, if one came
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      const int first = co_await signals->receive();
      std::fprintf(stderr, "%s: %s: no new connections; open ones have %s to finish\n", program,
                   signal_name(first).c_str(), absl::FormatDuration(options.grace).c_str());
      shutdown.set();
      stopped_by = co_await signals->receive();
      std::fprintf(stderr, "%s: %s again: stopping now\n", program,
                   signal_name(stopped_by).c_str());
      pool.cancel();
    });
    ended = co_await serve(*listener, options);
    pool.cancel();
  });
  if (stopped_by != 0) co_return 128 + stopped_by;
  if (ended.ok() && shutdown.is_set()) {
    std::fprintf(stderr, "%s: shut down cleanly\n", program);
    co_return 0;
  }
  std::fprintf(stderr, "%s: %s\n", program, ended.ToString().c_str());
  co_return 1;
}

}  // namespace

int server_main(const char* program, const std::string& host, int port, Serve serve,
                const std::string& note) {
  absl::StatusOr<SocketAddress> address = SocketAddress::parse(host, port);
  if (!address.ok()) {
    std::fprintf(stderr, "%s: --host/--port: %s\n", program, address.status().ToString().c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_shutdown_grace) < absl::ZeroDuration()) {
    std::fprintf(stderr, "%s: --shutdown_grace=%s: must not be negative\n", program,
                 absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)).c_str());
    return 2;
  }
  return run(listen_and_serve(program, *address, std::move(serve), note));
}

}  // namespace giambio::examples

#include "examples/program.h"

#include <signal.h>

#include <cstdio>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/signals.h"
#include "giambio/socket_address.h"
#include "giambio/threads.h"

ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After SIGTERM or SIGINT: how long open connections may run on before they are "
          "cancelled.");
ABSL_FLAG(bool, quiet, false, "Do not log each connection's connect and disconnect on stderr.");

namespace giambio::examples {
namespace {

// One line on stderr per connect and disconnect, with the peer ("echo_server: 127.0.0.1:5123
// connected"), unless --quiet.
std::function<void(const SocketAddress&, ConnectionEvent)> connection_log(const char* program) {
  if (absl::GetFlag(FLAGS_quiet)) return nullptr;
  return [program](const SocketAddress& peer, ConnectionEvent event) {
    std::fprintf(stderr, "%s: %s %s\n", program, peer.to_string().c_str(),
                 event == ConnectionEvent::kOpened ? "connected" : "disconnected");
  };
}

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
  options.on_connection = connection_log(program);
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

// The same on `loops` loops (program.h).
int serve_on_loops(const char* program, SocketAddress address, const Serve& serve,
                   const std::string& note, size_t loops) {
  std::vector<Event*> shutdowns(loops, nullptr);  // loop i's thread only
  Event* bound = nullptr;                         // loop 0's: set once it listens
  SocketAddress chosen = address;                 // loop 0's: where it listens
  struct StopNow {
    int signal;
  };
  LoopsOptions options;
  options.count = loops;
  try {
    run_loops(options, [&](const LoopGroup& group, size_t i) -> Task<> {
      Event shutdown;
      shutdowns[i] = &shutdown;
      ListenOptions listen_options;
      listen_options.reuse_port = true;
      absl::StatusOr<SocketListener> listener;
      Event listening;
      if (i == 0) {
        bound = &listening;
        listener = SocketListener::listen(address, listen_options);
        if (listener.ok()) chosen = listener->local_address();
        listening.set();
      }
      co_await with_pool([&](Pool& pool) -> Task<> {
        if (i == 0) {
          if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
          std::printf("listening on %s%s (%zu loops)\n", chosen.to_string().c_str(), note.c_str(),
                      loops);
          std::fflush(stdout);
          pool.spawn([&]() -> Task<> {
            absl::StatusOr<SignalReceiver> signals = open_signal_receiver({SIGTERM, SIGINT});
            if (!signals.ok()) throw std::runtime_error(signals.status().ToString());
            const int first = co_await signals->receive();
            std::fprintf(stderr, "%s: %s: no new connections; open ones have %s to finish\n",
                         program, signal_name(first).c_str(),
                         absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)).c_str());
            // The other loops first: once this loop's own server ends, this task is cancelled.
            for (size_t j = 1; j < loops; ++j) {
              co_await submit_to(group[j], [&shutdowns, j]() -> Task<> {
                shutdowns[j]->set();
                co_return;
              });
            }
            shutdown.set();
            const int again = co_await signals->receive();
            throw StopNow{again};
          });
        } else {
          // Bind after loop 0, to the port it chose (asked on loop 0, where those live).
          const SocketAddress where = co_await submit_to(group[0], [&]() -> Task<SocketAddress> {
            while (bound == nullptr) co_await sleep(absl::Milliseconds(1));
            co_await bound->wait();
            co_return chosen;
          });
          listener = SocketListener::listen(where, listen_options);
          if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
        }
        ServeOptions serve_options;
        serve_options.shutdown = &shutdown;
        serve_options.grace = absl::GetFlag(FLAGS_shutdown_grace);
        serve_options.on_connection = connection_log(program);
        const absl::Status ended = co_await serve(*listener, serve_options);
        if (!ended.ok()) throw std::runtime_error(ended.ToString());
        pool.cancel();
      });
      shutdowns[i] = nullptr;
    });
  } catch (const StopNow& stop) {
    std::fprintf(stderr, "%s: %s again: stopping now\n", program, signal_name(stop.signal).c_str());
    return 128 + stop.signal;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", program, error.what());
    return 1;
  }
  std::fprintf(stderr, "%s: shut down cleanly\n", program);
  return 0;
}

}  // namespace

int server_main(const char* program, const std::string& host, int port, Serve serve,
                const std::string& note, size_t loops) {
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
  if (loops > 1) return serve_on_loops(program, *address, serve, note, loops);
  return run(listen_and_serve(program, *address, std::move(serve), note));
}

}  // namespace giambio::examples

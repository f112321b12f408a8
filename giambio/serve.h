// giambio/serve.h: serve_tcp, an accept loop that runs one task per connection.
//
//   co_await giambio::serve_tcp(listener, [](giambio::SocketStream stream) -> giambio::Task<> {
//     ... talk to one client ...
//   });
//
// Accepts connections until cancelled, running handler(stream) for each in a pool of its own,
// so cancelling serve_tcp ends every connection task too. A handler that throws fails the whole
// server, as in any pool; catch inside the handler what one connection may raise.
//
// Graceful shutdown (Go's Server.Shutdown): with ServeOptions::shutdown, once that Event is set
// serve_tcp stops accepting and closes the listener (new connections are refused), lets the
// connections it runs finish for ServeOptions::grace, then cancels those still running (reason:
// "cancelled by task 4 'serve_tcp shutdown': serve_tcp: shutdown grace period of 10s over"), and
// returns OK. Handlers that should finish early (an idle keep-alive connection) can wait on the
// same Event. A program stops on SIGTERM
// by setting the Event from a signal receiver (signals.h; examples/program.cc does).
//
// ServeOptions::on_connection, if set, hears each connection open and close with its peer (for
// logs and counters; the example programs log with it).
//
// Resource exhaustion does not kill the server: when accept fails with EMFILE, ENFILE, ENOBUFS
// or ENOMEM, serve_tcp backs off (1 ms, doubling up to 1 s) and keeps accepting, so it recovers
// as soon as descriptors or memory free up. Any other accept error ends serve_tcp with that
// status. The listener must outlive the call. Works in the simulator as on the real drivers.
#ifndef GIAMBIO_SERVE_H_
#define GIAMBIO_SERVE_H_

#include <concepts>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "giambio/cancel_scope.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/socket_stream.h"
#include "giambio/time.h"

namespace giambio {

namespace internal {
// True for the accept errors that mean "out of descriptors or memory for now".
bool is_resource_exhaustion(const absl::Status& status);
}  // namespace internal

// What ServeOptions::on_connection hears about a connection.
enum class ConnectionEvent { kOpened, kClosed };

struct ServeOptions {
  // Set it to shut down gracefully (above); nullptr: serve until cancelled.
  Event* shutdown = nullptr;
  // How long connections may run on after the shutdown (>= 0; infinite: until they end).
  absl::Duration grace = absl::Seconds(10);
  // Called on the loop with a connection's peer when it is accepted (kOpened), and when its
  // handler has ended, however it ended: returned, threw or was cancelled (kClosed). For logs and
  // counters; it cannot block the loop for long. If it throws, that connection's task fails as
  // if its handler had thrown (so serve_tcp does, cancelling the rest); a handler's own
  // exception wins over one kClosed throws after it. Empty: nothing is called.
  std::function<void(const SocketAddress& peer, ConnectionEvent event)> on_connection;
};

namespace internal {

// One connection's task with ServeOptions::on_connection: told when it opens and when it ends.
// kClosed is told on the task's own path, so what it throws fails the task; a frame destroyed
// unfinished (a loop torn down) tells it from the destructor, where a throw has nowhere to go
// and is dropped.
template <typename Handler>
Task<> observed_connection(Handler& handler, SocketStream stream, const ServeOptions& options) {
  struct Told {
    const ServeOptions& options;
    SocketAddress peer;
    bool closed = false;
    void close() {
      closed = true;
      options.on_connection(peer, ConnectionEvent::kClosed);
    }
    ~Told() {
      if (closed) return;
      try {
        close();
      } catch (...) {
      }
    }
  };
  Told told{options, stream.peer_address().value_or(SocketAddress())};
  options.on_connection(told.peer, ConnectionEvent::kOpened);
  std::exception_ptr failure;
  try {
    auto work = std::invoke(handler, std::move(stream));
    co_await std::move(work);
  } catch (...) {
    failure = std::current_exception();  // returned, threw or was cancelled: kClosed first
  }
  if (failure) {
    try {
      told.close();
    } catch (...) {
    }
    std::rethrow_exception(failure);
  }
  told.close();
}

// The accept loop: runs until cancelled, or until an accept error other than exhaustion (the
// status it returns).
template <typename Handler>
Task<absl::Status> accept_connections(SocketListener& listener, Handler& handler, Pool& connections,
                                      const ServeOptions& options) {
  absl::Duration backoff = absl::Milliseconds(1);
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await listener.accept();
    if (!stream.ok()) {
      if (!internal::is_resource_exhaustion(stream.status())) co_return stream.status();
      co_await sleep(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
      continue;
    }
    backoff = absl::Milliseconds(1);
    if (options.on_connection) {
      connections.spawn(observed_connection(handler, *std::move(stream), options));
      continue;
    }
    connections.spawn([&handler, s = *std::move(stream)]() mutable {
      return std::invoke(handler, std::move(s));
    });
  }
}

// After `shutdown` is set: stops the accept loop, closes the listener, and cancels the
// connections still running after `grace`.
Task<> shut_down_when_set(Event& shutdown, absl::Duration grace, CancelScope& accepting,
                          SocketListener& listener, Pool*& connections);

absl::Status check_serve_options(const ServeOptions& options);

}  // namespace internal

template <typename Handler>
requires std::invocable<Handler&, SocketStream> Task<absl::Status> serve_tcp(
    SocketListener& listener, Handler handler, ServeOptions options) {
  if (absl::Status valid = internal::check_serve_options(options); !valid.ok()) co_return valid;
  absl::Status result;
  CancelScope accepting;
  Pool* connections = nullptr;
  co_await with_pool([&](Pool& watchers) -> Task<> {
    if (options.shutdown != nullptr) {
      watchers.spawn(internal::shut_down_when_set(*options.shutdown, options.grace, accepting,
                                                  listener, connections),
                     "serve_tcp shutdown");
    }
    co_await with_pool([&](Pool& pool) -> Task<> {
      connections = &pool;
      std::optional<absl::Status> ended =
          co_await accepting.run(internal::accept_connections(listener, handler, pool, options));
      if (ended.has_value()) {  // accept failed: the server ends
        result = *ended;
        pool.cancel();
      }
    });
    connections = nullptr;
    watchers.cancel();
  });
  co_return result;
}

template <typename Handler>
requires std::invocable<Handler&, SocketStream> Task<absl::Status> serve_tcp(
    SocketListener& listener, Handler handler) {
  return serve_tcp(listener, std::move(handler), ServeOptions{});
}

}  // namespace giambio

#endif  // GIAMBIO_SERVE_H_

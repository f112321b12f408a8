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
// Resource exhaustion does not kill the server: when accept fails with EMFILE, ENFILE, ENOBUFS
// or ENOMEM, serve_tcp backs off (1 ms, doubling up to 1 s) and keeps accepting, so it recovers
// as soon as descriptors or memory free up. Any other accept error ends serve_tcp with that
// status. The listener must outlive the call.
#ifndef GIAMBIO_SERVE_H_
#define GIAMBIO_SERVE_H_

#include <concepts>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "giambio/pool.h"
#include "giambio/socket_stream.h"
#include "giambio/time.h"

namespace giambio {

namespace internal {
// True for the accept errors that mean "out of descriptors or memory for now".
bool is_resource_exhaustion(const absl::Status& status);
}  // namespace internal

template <typename Handler>
requires std::invocable<Handler&, SocketStream> Task<absl::Status> serve_tcp(
    SocketListener& listener, Handler handler) {
  absl::Status result;
  co_await with_pool([&](Pool& connections) -> Task<> {
    absl::Duration backoff = absl::Milliseconds(1);
    while (true) {
      absl::StatusOr<SocketStream> stream = co_await listener.accept();
      if (!stream.ok()) {
        if (!internal::is_resource_exhaustion(stream.status())) {
          result = stream.status();
          connections.cancel();
          co_return;
        }
        co_await sleep(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(1));
        continue;
      }
      backoff = absl::Milliseconds(1);
      connections.spawn([&handler, s = *std::move(stream)]() mutable {
        return std::invoke(handler, std::move(s));
      });
    }
  });
  co_return result;
}

}  // namespace giambio

#endif  // GIAMBIO_SERVE_H_

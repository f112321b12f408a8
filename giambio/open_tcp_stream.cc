#include "giambio/open_tcp_stream.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "giambio/event.h"
#include "giambio/pool.h"
#include "giambio/resolve.h"
#include "giambio/timeouts.h"

namespace giambio {
namespace {

// RFC 8305 section 4: alternate families, starting with the first address's.
std::vector<SocketAddress> interleave_families(const std::vector<SocketAddress>& addresses) {
  std::deque<SocketAddress> preferred;
  std::deque<SocketAddress> other;
  for (const SocketAddress& address : addresses) {
    (address.family() == addresses.front().family() ? preferred : other).push_back(address);
  }
  std::vector<SocketAddress> order;
  while (!preferred.empty() || !other.empty()) {
    for (std::deque<SocketAddress>* queue : {&preferred, &other}) {
      if (queue->empty()) continue;
      order.push_back(queue->front());
      queue->pop_front();
    }
  }
  return order;
}

Task<> wait_for(Event& event) { co_await event.wait(); }

absl::Status all_failed(const std::string& what, const std::vector<absl::Status>& failures) {
  if (failures.size() == 1) {
    return absl::Status(failures.front().code(),
                        absl::StrCat("open_tcp_stream(", what, "): ", failures.front().message()));
  }
  std::string causes;
  absl::StatusCode code = failures.front().code();
  for (const absl::Status& failure : failures) {
    absl::StrAppend(&causes, causes.empty() ? "" : "; ", failure.message());
    if (failure.code() != code) code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, absl::StrCat("open_tcp_stream(", what, "): all ", failures.size(),
                                         " attempts failed: ", causes));
}

}  // namespace

Task<absl::StatusOr<SocketStream>> open_tcp_stream(std::vector<SocketAddress> addresses,
                                                   OpenTcpOptions options, std::string what) {
  if (options.happy_eyeballs_delay < absl::ZeroDuration()) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("open_tcp_stream(", what, "): happy_eyeballs_delay ",
                     absl::FormatDuration(options.happy_eyeballs_delay), " is negative"));
  }
  if (addresses.empty()) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("open_tcp_stream(", what, "): no address to connect to"));
  }
  // Shared with the attempts, so declared outside the pool (pool.h).
  std::optional<SocketStream> winner;
  std::vector<absl::Status> failures(addresses.size());
  std::deque<Event> finished(addresses.size());
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (size_t i = 0; i < addresses.size(); ++i) {
      pool.spawn([&, pool, i]() mutable -> Task<> {
        absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(addresses[i]);
        if (stream.ok() && !winner) {
          winner = *std::move(stream);
          pool.cancel();  // the other attempts, and the body's wait
        } else if (!stream.ok()) {
          failures[i] = stream.status();
        }
        finished[i].set();
      });
      if (i + 1 < addresses.size()) {
        co_await skip_after(options.happy_eyeballs_delay, wait_for(finished[i]));
      }
    }
  });
  if (winner) co_return *std::move(winner);
  co_return all_failed(what, failures);
}

Task<absl::StatusOr<SocketStream>> open_tcp_stream(std::string host, int port,
                                                   OpenTcpOptions options) {
  absl::StatusOr<std::vector<SocketAddress>> addresses =
      co_await resolve(host, port, options.family);
  if (!addresses.ok()) co_return addresses.status();
  const std::string what = absl::StrCat(host, ":", port);
  co_return co_await open_tcp_stream(interleave_families(*addresses), options, what);
}

}  // namespace giambio

#include "giambio/serve.h"

#include "absl/strings/str_cat.h"

namespace giambio::internal {

bool is_resource_exhaustion(const absl::Status& status) {
  // EMFILE, ENFILE, ENOBUFS and ENOMEM are the errnos that map to ResourceExhausted.
  return absl::IsResourceExhausted(status);
}

absl::Status check_serve_options(const ServeOptions& options) {
  if (options.grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "serve_tcp: ServeOptions::grace ", absl::FormatDuration(options.grace), " is negative"));
  }
  return absl::OkStatus();
}

Task<> shut_down_when_set(Event& shutdown, absl::Duration grace, CancelScope& accepting,
                          SocketListener& listener, Pool*& connections) {
  co_await shutdown.wait();
  accepting.cancel("serve_tcp: shutting down");
  // Closed now, so the kernel refuses new connections (and resets those still in the backlog)
  // instead of completing handshakes nobody will accept.
  (void)listener.close();
  co_await sleep(grace);
  if (connections != nullptr) {
    connections->cancel(
        absl::StrCat("serve_tcp: shutdown grace period of ", absl::FormatDuration(grace), " over"));
  }
}

}  // namespace giambio::internal

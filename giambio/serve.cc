#include "giambio/serve.h"

namespace giambio::internal {

bool is_resource_exhaustion(const absl::Status& status) {
  // EMFILE, ENFILE, ENOBUFS and ENOMEM are the errnos that map to ResourceExhausted.
  return absl::IsResourceExhausted(status);
}

}  // namespace giambio::internal

#include "giambio/resolve.h"

#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "giambio/internal/io_operation.h"

namespace giambio {
namespace {

constexpr size_t kHostNameLengthMax = 253;  // RFC 1035, without the trailing dot

absl::Status check_arguments(const std::string& host, int port, int family) {
  const std::string what = absl::StrCat("resolve(\"", host.substr(0, 64), "\", ", port, ")");
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": the host is empty"));
  if (host.size() > kHostNameLengthMax) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the host is ", host.size(), " bytes; names have at most 253"));
  }
  if (host.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the host contains a NUL byte"));
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the port is not in 0..65535"));
  }
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": family ", family, " is not AF_UNSPEC, AF_INET or AF_INET6"));
  }
  return absl::OkStatus();
}

absl::Status lookup_status(int error, const std::string& host) {
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(absl::StrCat("resolve(", host, "): no such host"));
    case EAGAIN:
      return absl::UnavailableError(
          absl::StrCat("resolve(", host, "): the name server did not answer; try again later"));
    default:
      return internal::errno_status(error, "resolve", host);
  }
}

void set_port(SocketAddress& address, int port) {
  if (address.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(address.get())->sin_port = htons(port);
  } else if (address.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(address.get())->sin6_port = htons(port);
  }
}

socklen_t address_length(int family) {
  return family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

Task<absl::StatusOr<std::vector<SocketAddress>>> resolve(std::string host, int port, int family) {
  if (absl::Status status = check_arguments(host, port, family); !status.ok()) co_return status;
  if (absl::StatusOr<SocketAddress> numeric = SocketAddress::parse(host, port); numeric.ok()) {
    if (family != AF_UNSPEC && numeric->family() != family) co_return lookup_status(ENOENT, host);
    co_return std::vector<SocketAddress>{*numeric};
  }
  std::vector<sockaddr_storage> found(kResolveAddressesMax);
  internal::IoOperation op(OpKind::kResolve, -1);
  op.path = host.c_str();
  op.flags = family;
  op.buffer = found.data();
  op.length = found.size();
  const int64_t count = co_await op;
  if (count < 0) co_return lookup_status(static_cast<int>(-count), host);
  std::vector<SocketAddress> addresses;
  for (int64_t i = 0; i < count && i < static_cast<int64_t>(found.size()); ++i) {
    const sockaddr* raw = reinterpret_cast<const sockaddr*>(&found[i]);
    if (raw->sa_family != AF_INET && raw->sa_family != AF_INET6) continue;
    SocketAddress address(raw, address_length(raw->sa_family));
    set_port(address, port);
    const bool seen = std::any_of(addresses.begin(), addresses.end(), [&](const SocketAddress& a) {
      return a.length() == address.length() && std::memcmp(a.get(), address.get(), a.length()) == 0;
    });
    if (!seen) addresses.push_back(address);
  }
  if (addresses.empty()) co_return lookup_status(ENOENT, host);
  co_return addresses;
}

}  // namespace giambio

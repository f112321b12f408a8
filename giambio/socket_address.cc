#include "giambio/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace giambio {

SocketAddress::SocketAddress(const sockaddr* address, socklen_t length) {
  length_ = std::min<socklen_t>(length, sizeof(storage_));
  std::memcpy(&storage_, address, length_);
}

absl::StatusOr<SocketAddress> SocketAddress::parse(const std::string& host, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("SocketAddress::parse(\"", host, "\", ", port, "): port out of range"));
  }
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    address.length_ = sizeof(sockaddr_in);
    return address;
  }
  address.storage_ = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') {
    bare = bare.substr(1, bare.size() - 2);
  }
  if (inet_pton(AF_INET6, bare.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    address.length_ = sizeof(sockaddr_in6);
    return address;
  }
  return absl::InvalidArgumentError(absl::StrCat("SocketAddress::parse(\"", host, "\", ", port,
                                                 "): not a numeric IPv4 or IPv6 address"));
}

absl::StatusOr<SocketAddress> SocketAddress::unix_path(const std::string& path) {
  SocketAddress address;
  auto* un = reinterpret_cast<sockaddr_un*>(&address.storage_);
  if (path.empty() || path.size() >= sizeof(un->sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("SocketAddress::unix_path(\"", path,
                                                   "\"): empty or longer than ",
                                                   sizeof(un->sun_path) - 1, " bytes"));
  }
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  address.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return address;
}

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text,
                sizeof(text));
      return absl::StrCat(text, ":", port());
    case AF_INET6:
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text,
                sizeof(text));
      return absl::StrCat("[", text, "]:", port());
    case AF_UNIX:
      return absl::StrCat("unix:", reinterpret_cast<const sockaddr_un*>(&storage_)->sun_path);
    default:
      return "(no address)";
  }
}

}  // namespace giambio

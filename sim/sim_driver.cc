#include "sim/sim_driver.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/world.h"

namespace giambio::sim {

absl::Time SimDriver::now() { return world_.now(); }

Host& SimDriver::host_for(const char* call) {
  Host* host = world_.current_host();
  if (host == nullptr) {
    throw UsageError(absl::StrCat(call, ": the task belongs to no simulated host (seed ",
                                  world_.seed(), "); run it with World::on(host, ...)"));
  }
  return *host;
}

void SimDriver::check_simulated(int fd, const char* call) {
  if (fd >= 0 && fd < World::kFirstFd) {
    world_.touched_real_world(absl::StrCat(call, " on descriptor ", fd));
  }
}

void SimDriver::resolve(Operation& op) {
  if (!host_for("getaddrinfo").alive()) {
    op.complete(-ENETDOWN);
    return;
  }
  const uint64_t id = ++last_lookup_;
  lookups_.emplace(id, &op);
  world_.record("resolve", op.path);
  world_.at(world_.now(), [this, id] { finish_lookup(id); });
}

void SimDriver::finish_lookup(uint64_t id) {
  auto it = lookups_.find(id);
  if (it == lookups_.end()) return;  // withdrawn
  Operation& op = *it->second;
  lookups_.erase(it);
  for (const std::unique_ptr<Host>& host : world_.hosts()) {
    if (host->name() != op.path) continue;
    // Its IPv6 address first when it publishes one, as getaddrinfo orders them (RFC 6724).
    std::vector<SocketAddress> addresses;
    if (host->publishes_ipv6() && op.flags != AF_INET) addresses.push_back(host->address6(0));
    if (op.flags != AF_INET6) addresses.push_back(host->address(0));
    if (addresses.empty()) break;  // no address of the family asked for
    const size_t count = std::min(addresses.size(), op.length);
    auto* out = static_cast<sockaddr_storage*>(op.buffer);
    for (size_t i = 0; i < count; ++i) {
      out[i] = sockaddr_storage{};
      std::memcpy(&out[i], addresses[i].get(), addresses[i].length());
    }
    op.complete(static_cast<int64_t>(count));
    return;
  }
  op.complete(-ENOENT);
}

void SimDriver::submit(Operation& op) {
  if (op.kind() == OpKind::kResolve) {
    resolve(op);
    return;
  }
  if (op.kind() == OpKind::kOpen) {
    Host& host = host_for("open");
    if (!host.alive()) {
      op.complete(-EIO);
      return;
    }
    world_.disk().submit(host, op);
    return;
  }
  check_simulated(op.fd(), op.name());
  if (world_.network().owns(op.fd())) {
    world_.network().submit(op);
  } else if (world_.disk().owns(op.fd())) {
    world_.disk().submit(host_for(op.name()), op);
  } else {
    op.complete(-EBADF);
  }
}

void SimDriver::cancel(Operation& op) {
  if (op.kind() == OpKind::kResolve) {
    for (auto it = lookups_.begin(); it != lookups_.end(); ++it) {
      if (it->second != &op) continue;
      lookups_.erase(it);
      op.complete(-ECANCELED);
      return;
    }
    return;
  }
  if (world_.network().owns(op.fd())) {
    world_.network().cancel(op);
  } else {
    world_.disk().cancel(op);
  }
}

void SimDriver::poll(absl::Time deadline) { world_.advance(deadline); }

size_t SimDriver::pending() const { return world_.scheduled(); }

void SimDriver::cancel_all() {
  for (auto& [id, op] : std::exchange(lookups_, {})) op->complete(-ECANCELED);
  world_.network().cancel_all();
  world_.disk().cancel_all();
}

int SimDriver::socket(int family, int type) {
  Host& host = host_for("socket");
  if (!host.alive()) return -ENETDOWN;
  return world_.network().socket(host, family, type);
}

int SimDriver::socket_pair(int fds[2]) {
  (void)fds;
  return -EAFNOSUPPORT;  // no Unix sockets in the simulation
}

int SimDriver::bind(int fd, const sockaddr* address, socklen_t length) {
  check_simulated(fd, "bind");
  return world_.network().bind(fd, address, length);
}

int SimDriver::listen(int fd, int backlog) {
  check_simulated(fd, "listen");
  return world_.network().listen(fd, backlog);
}

int SimDriver::set_option(int fd, int level, int option, int value) {
  check_simulated(fd, "setsockopt");
  return world_.network().set_option(fd, level, option, value);
}

int SimDriver::socket_name(int fd, bool peer, sockaddr* address, socklen_t* length) {
  check_simulated(fd, peer ? "getpeername" : "getsockname");
  return world_.network().socket_name(fd, peer, address, length);
}

int SimDriver::shutdown(int fd, int how) {
  check_simulated(fd, "shutdown");
  return world_.network().shutdown(fd, how);
}

int SimDriver::close(int fd) {
  // Closing runs in destructors, which must not throw: a real descriptor is left alone (the
  // call that brought it in has tripped the wire already).
  if (fd < World::kFirstFd) return -EBADF;
  if (world_.network().owns(fd)) return world_.network().close(fd);
  return world_.disk().close(fd);
}

int64_t SimDriver::file_size(int fd) {
  check_simulated(fd, "fstat");
  return world_.disk().size(fd);
}

int SimDriver::adopt(int fd) {
  check_simulated(fd, "AsyncStream");
  return 0;
}

internal::SignalHub* SimDriver::signal_hub() {
  return &host_for("open_signal_receiver").signal_hub();
}

absl::Time SimDriver::wall_time() {
  Host* host = world_.current_host();
  return host == nullptr ? world_.now() : host->wall_time(world_.now());
}

}  // namespace giambio::sim

// sim/sim_driver.h: the driver under giambio's scheduler when a World runs.
//
// It is the one place where the unchanged scheduler and I/O API meet the simulation: the clock
// is the world's virtual clock (it jumps to the next event or timer when every task waits),
// sockets go to the simulated network, files to the simulated disk, the wall clock to the
// running task's host, name lookups to the world's table of host names (a host's name resolves
// to its IPv4 address, and first to its IPv6 one if it publishes that; anything else is "no
// such host"). A descriptor the simulation did not create is the real world: using it throws
// UsageError naming the call and the seed.
#ifndef SIM_SIM_DRIVER_H_
#define SIM_SIM_DRIVER_H_

#include <cstdint>
#include <map>

#include "giambio/driver.h"

namespace giambio::sim {

class Host;
class World;

class SimDriver final : public Driver {
 public:
  explicit SimDriver(World& world) : world_(world) {}

  const char* name() const override { return "sim"; }
  absl::Time now() override;
  void submit(Operation& op) override;
  void cancel(Operation& op) override;
  void poll(absl::Time deadline) override;
  size_t pending() const override;
  void cancel_all() override;

  int socket(int family, int type) override;
  int socket_pair(int fds[2]) override;
  int bind(int fd, const sockaddr* address, socklen_t length) override;
  int listen(int fd, int backlog) override;
  int set_option(int fd, int level, int option, int value) override;
  int socket_name(int fd, bool peer, sockaddr* address, socklen_t* length) override;
  int shutdown(int fd, int how) override;
  int close(int fd) override;
  int64_t file_size(int fd) override;
  int adopt(int fd) override;
  absl::Time wall_time() override;
  // The running task's host's signals (World::signal delivers them).
  internal::SignalHub* signal_hub() override;
  // No threads: they would break determinism (to_thread runs inline here).
  bool threads_allowed() const override { return false; }

 private:
  // The running task's host; throws UsageError naming `call` for a task on no host.
  Host& host_for(const char* call);
  // Checks that `fd` is simulated; a real descriptor trips the wire.
  void check_simulated(int fd, const char* call);
  // Name lookups answer at the next poll, like every simulated operation; keyed by a counter so
  // a withdrawn lookup's event finds nothing.
  void resolve(Operation& op);
  void finish_lookup(uint64_t id);

  World& world_;
  uint64_t last_lookup_ = 0;
  std::map<uint64_t, Operation*> lookups_;
};

}  // namespace giambio::sim

#endif  // SIM_SIM_DRIVER_H_

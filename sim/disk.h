// sim/disk.h: each simulated host's disk, behind giambio's File API.
//
// File::open, read_at, write_all_at, sync, size and close reach it through the simulator's
// driver. Every operation takes the configured disk latency; reads may fail with EIO at the
// configured rate. A write changes what every later read sees at once, but it is durable only
// after fsync: when the host crashes, each write not yet fsynced is kept, lost or torn (a
// prefix of it kept), drawn from the seed, and the restarted program finds the disk as that
// left it. Creating a file is durable at once (as if its directory had been synced).
//
// Paths are plain keys per host: there are no directories, permissions or links.
#ifndef SIM_DISK_H_
#define SIM_DISK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "giambio/driver.h"
#include "giambio/prng.h"

namespace giambio::sim {

class Host;
class World;

class Disk {
 public:
  struct Stats {
    uint64_t reads = 0;
    uint64_t read_errors = 0;
    uint64_t writes = 0;
    uint64_t syncs = 0;
    uint64_t crash_writes_kept = 0;
    uint64_t crash_writes_lost = 0;
    uint64_t crash_writes_torn = 0;
  };

  explicit Disk(World& world);

  bool owns(int fd) const { return open_.contains(fd); }
  // open (fd -1), pread, pwrite, fsync, from a task of `host`.
  void submit(Host& host, Operation& op);
  void cancel(Operation& op);
  void cancel_all();
  int close(int fd);
  int64_t size(int fd);

  // Applies the crash to `host`'s files (see the top of this file).
  void crash(Host& host);
  // The host's program died (killed by a signal) but the machine did not: every write it made
  // is kept, synced or not, and its open files and pending operations end.
  void process_died(Host& host);

  // What `host`'s programs would read from `path` now, or nullopt if there is no such file; for
  // checkers and tests.
  std::optional<std::string> contents(const Host& host, const std::string& path) const;

  const Stats& stats() const { return stats_; }

 private:
  // Pending operations of `host` fail with EIO; its open files are dead.
  void end_operations(Host& host);
  struct Write {
    int64_t offset;
    std::string data;
    bool truncate = false;  // O_TRUNC: the file became empty
  };
  struct File {
    std::string durable;  // what survives any crash
    std::string current;  // what reads see
    std::vector<Write> unsynced;
  };
  struct Open {
    uint32_t host;
    std::string path;
    bool readable;
    bool writable;
    bool dead = false;  // its host crashed
  };
  struct Pending {
    Operation* op;
    uint32_t host;
  };

  void perform(Operation& op, uint32_t host);
  int64_t open_file(Operation& op, uint32_t host);
  static void apply(std::string& content, const Write& write);
  static void make_durable(File& file);

  World& world_;
  Prng prng_;
  std::map<std::pair<uint32_t, std::string>, File> files_;
  std::map<int, Open> open_;
  std::map<uint32_t, Pending> pending_;  // by the id kept in Operation::driver_state
  uint32_t last_pending_ = 0;
  Stats stats_;
};

}  // namespace giambio::sim

#endif  // SIM_DISK_H_

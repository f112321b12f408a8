// sim/world.h: a simulated world of hosts, network, disks and clocks, run from one seed.
//
//   sim::World world({.seed = 42});
//   sim::Host& server = world.add_host("server", [&]() -> Task<> { co_await serve(...); });
//   sim::Host& client = world.add_host("client");
//   world.run([&]() -> Task<> {          // the control task: drives the scenario, checks it
//     co_await world.on(client, talk_to(server.address(7)));
//     world.partition(client, server);
//     ...
//   });
//
// Everything runs on giambio's unchanged scheduler with the simulator's driver underneath, so the
// programs are ordinary giambio code: SocketListener, SocketStream, UdpSocket and File reach the
// simulated network and disks instead of the kernel. Hosts get IPv4 addresses 10.0.0.1, 10.0.0.2,
// ... in the order they are added; a host can also reach itself as 127.0.0.1.
//
// A task belongs to the host whose program (or world.on call) started it, and so do the tasks
// it spawns. crash(host) ends all of them at once: their connections reset for the peers, their
// disk writes that were not fsynced are lost or torn, and further I/O fails. restart(host)
// starts the host's program afresh with its disk as the crash left it.
//
// signal(host, SIGTERM) delivers a signal at the current virtual time: to every signal receiver
// the host's tasks have open for it (giambio/signals.h), so a program can stop gracefully and be
// restarted; with none open, the signal's default action applies, as for a real process: the
// terminating ones kill the host's program (like a crash, except that a process's death loses no
// written data: the kernel keeps it), the others (SIGCHLD, SIGURG, SIGWINCH, SIGCONT) are ignored.
//
// Determinism: one seed decides everything (the scheduling order, latencies, faults); the
// world draws from separate streams per subsystem. Touching the real world from inside a run
// (a real driver, a descriptor the simulator did not create, a thread) throws UsageError naming
// the call and the seed. A run where every task waits and nothing is scheduled fails with
// DeadlockError naming the seed, the virtual time and what each task waits on.
#ifndef SIM_WORLD_H_
#define SIM_WORLD_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "giambio/parking_lot.h"
#include "giambio/prng.h"
#include "giambio/socket_address.h"
#include "giambio/task.h"
#include "sim/faults.h"
#include "sim/history.h"
#include "sim/trace.h"

namespace giambio {
class CancelScope;
namespace internal {
class SignalHub;
}
}  // namespace giambio

namespace giambio::sim {

class Disk;
class Network;
class World;

// Where World::record places an event, and which message arrow it starts or ends.
struct RecordOptions {
  static constexpr uint32_t kCurrentHost = ~0u;
  uint32_t host = kCurrentHost;  // the host it happens on (0: the world itself; default: the
                                 // running task's host)
  uint64_t flow_out = 0;         // starts a message arrow (Trace::new_flow) ...
  uint64_t flow_in = 0;          // ... or ends one
};

// Which of the nemesis's faults a run carries out (WorldOptions::only_faults): all of them, or
// only those numbered (World::faults_drawn() of a run of the same seed). The numbers are a sorted
// vector, not a std::set or an optional: GCC 12 reports moved red-black trees in aggregates as
// maybe-uninitialized at -O1 and above.
struct FaultSelection {
  bool all = true;
  std::vector<uint64_t> numbers;  // when not all: ascending

  static FaultSelection only(const std::set<uint64_t>& numbers) {
    return FaultSelection{false, std::vector<uint64_t>(numbers.begin(), numbers.end())};
  }
  bool keeps(uint64_t number) const {
    return all || std::binary_search(numbers.begin(), numbers.end(), number);
  }
};

struct WorldOptions {
  uint64_t seed = 0;
  Faults faults = {};
  // Ignore `faults` and draw them from the seed (swarm testing).
  bool swarm = false;
  // Keep every trace event (for write_chrome_json and trace_diff); the fingerprint is always
  // computed.
  bool keep_trace = false;
  // BUGGIFY (giambio/buggify.h): the chance that a call site is enabled for the run, and that an
  // enabled site fires on a call (FoundationDB's 25% and 25%). 0 turns it off.
  double buggify_sites = 0.25;
  double buggify_fires = 0.25;
  // Replay with only some of the nemesis's faults; the others are drawn as before but not carried
  // out, so the kept ones happen at the same times to the same hosts. Default: all of them.
  FaultSelection only_faults = {};
};

// One fault the nemesis drew (faults.h's schedule faults), numbered from 1 in the order drawn.
struct FaultRecord {
  uint64_t number = 0;
  absl::Duration at;  // since the start of the run
  std::string what;   // "crash follower1", "partition leader -> client", "clog a <-> b for 1s"
  // False when it was left out (WorldOptions::only_faults) or had nothing to do (a crash of a
  // host that was down).
  bool carried_out = true;
};

// World::eventually's verdict: the system did not recover in time after the faults stopped.
class LivenessFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One buggify() call site in a run: whether it was enabled, how often it was called and fired.
struct BuggifySite {
  bool enabled = false;
  uint64_t calls = 0;
  uint64_t fired = 0;
};

class Host {
 public:
  using Program = std::function<Task<>()>;

  uint32_t id() const { return id_; }
  const std::string& name() const { return name_; }
  // "10.0.0.<id>"
  const std::string& ip() const { return ip_; }
  uint32_t ipv4() const { return 0x0a000000u + id_; }  // host byte order
  SocketAddress address(int port) const;
  // Every host also has an IPv6 address, "fd00::<id>" (a unique local address); a listener bound
  // to [::] takes both families, one bound to 0.0.0.0 only IPv4, as on Linux.
  std::string ipv6() const;
  SocketAddress address6(int port) const;
  // Whether the host's name resolves to its IPv6 address as well (listed first, as getaddrinfo
  // orders them); off by default, so a name gives its IPv4 address only.
  void publish_ipv6(bool publish) { publish_ipv6_ = publish; }
  bool publishes_ipv6() const { return publish_ipv6_; }
  bool alive() const { return alive_; }
  // Incremented by every crash or kill, and by a restart after the program ended by itself.
  uint32_t incarnation() const { return incarnation_; }
  // Whether the host's program runs now (false once it ended, or while the host is down).
  bool program_running() const { return program_running_; }
  // How many times its program has ended by itself in this run (World::programs_finished).
  uint64_t finished_count() const { return programs_finished_; }
  // Whether one of the host's tasks has a signal receiver open for `signal` (signals.h).
  bool listens_for(int signal) const;
  // For the simulator's driver: the host's signals, as its receivers see them.
  internal::SignalHub& signal_hub() { return *signals_; }
  // Nemesis crashes pick only crashable hosts (those with a program, by default).
  void set_crashable(bool crashable) { crashable_ = crashable; }
  bool crashable() const { return crashable_; }

  // This host's wall clock at world time `now`: offset and drift applied.
  absl::Time wall_time(absl::Time now) const;

 private:
  friend class World;
  Host(uint32_t id, std::string name, Program program);

  uint32_t id_;
  std::string name_;
  std::string ip_;
  Program program_;
  bool alive_ = true;
  bool crashable_ = false;
  bool publish_ipv6_ = false;
  uint32_t incarnation_ = 0;
  bool program_running_ = false;
  std::unique_ptr<internal::SignalHub> signals_;
  absl::Duration clock_offset_;
  double clock_drift_ = 0;            // fraction: 1e-6 per ppm
  std::vector<CancelScope*> scopes_;  // what a crash cancels: the program's, World::on's
  ParkingLot restarted_;
  uint64_t programs_finished_ = 0;
  ParkingLot finished_;
};

class World {
 public:
  explicit World(WorldOptions options = {});
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // A host with the next address. `program`, if given, starts when run() does and again on
  // every restart; such hosts are crashable by the nemesis unless told otherwise.
  Host& add_host(std::string name, Host::Program program = nullptr);
  Host& host(std::string_view name);
  const std::vector<std::unique_ptr<Host>>& hosts() const { return hosts_; }

  // Runs the world until `control` returns, then stops every host (their tasks are cancelled).
  // Rethrows what `control` or a host's program throws. Call once per World.
  void run(std::function<Task<>()> control);

  // From the control task: runs `work` as part of `host` (its I/O is the host's, a crash of
  // the host ends it) and returns true when it ended, false when a crash ended it.
  Task<bool> on(Host& host, Task<> work);
  // From the control task: waits until `host`'s program has ended normally `times` times in
  // this run (a restart starts it again).
  Task<> programs_finished(Host& host, uint64_t times = 1);

  // ---- Faults, from the control task (or any task of the run) ----
  // Cuts a->b, and b->a unless one_way. Stream data waits (TCP retransmits) and flows on heal;
  // datagrams are lost; connects time out after 127 s like Linux's.
  void partition(Host& a, Host& b, bool one_way = false);
  void heal(Host& a, Host& b);
  void heal_all();
  // Stalls a->b and b->a for `duration`: data waits, then flows.
  void clog(Host& a, Host& b, absl::Duration duration);
  // Per-link delay, replacing the faults' latency and jitter for a->b and b->a.
  void set_link_delay(Host& a, Host& b, absl::Duration latency, absl::Duration jitter);
  // Liveness (Jepsen's final heal, then a check that the system recovers). stop_faults ends the
  // faults: the nemesis draws no more, every partition heals, every crashed host with a program
  // restarts, datagrams are no longer lost, duplicated or reordered, disk reads no longer fail
  // (a clog already under way runs out: at most ScheduleFaults::clog_length).
  void stop_faults();
  // From the control task, after stop_faults: waits until still_pending() returns "" (asked
  // every `every` of virtual time), at most `within`; if it still names something then, throws
  // LivenessFailure with the seed, the time and what it named ("no leader elected", "3 requests
  // unanswered").
  Task<> eventually(std::function<std::string()> still_pending, absl::Duration within,
                    absl::Duration every = absl::Milliseconds(10));
  void crash(Host& host);
  // Starts a host's program again: after a crash or kill, or after the program ended by itself.
  // UsageError while it runs.
  void restart(Host& host);
  // Delivers `signal` to `host` now (see the top of this file). UsageError for a host that is
  // down, for SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU (stopping is not modelled) and a number that is no
  // signal.
  void signal(Host& host, int signal);

  // ---- What the run is ----
  uint64_t seed() const { return options_.seed; }
  const Faults& faults() const { return faults_; }
  bool swarm() const { return options_.swarm; }
  // "seed=42 swarm faults{latency=1ms loss=0.05 ...}"
  std::string describe() const;
  // The description of the newest World made on this thread ("" after clear): how a seed sweep
  // names the world of a failing seed without the test passing it along.
  static const std::string& last_description();
  static void clear_last_description();
  absl::Time now() const { return now_; }
  absl::Duration elapsed() const { return now_ - absl::UnixEpoch(); }
  uint64_t fingerprint() const { return trace_.fingerprint(); }
  const Trace& trace() const { return trace_; }
  // The clients' history (sim/history.h): times are the world's, hosts and tasks the running
  // task's. Check it with check_linearizability (sim/linearizability.h); write it into the trace
  // with history().annotate(mutable_trace(), witness) before the trace is written.
  History& history() { return history_; }
  // Every fault the nemesis drew in this run, in order (what minimal fault schedules are made
  // of: replay a subset with WorldOptions::only_faults).
  const std::vector<FaultRecord>& faults_drawn() const { return faults_drawn_; }
  // Every buggify() call site reached in this run, by name or "file:line" (giambio/buggify.h).
  const std::map<std::string, BuggifySite>& buggify_sites() const { return buggify_sites_; }
  // The hook's decision for a call at `site` (recorded in the trace when it fires).
  bool buggify(const std::string& site);
  Network& network() { return *network_; }
  Disk& disk() { return *disk_; }

  // ---- For the simulator's parts (network, disk, driver) ----
  // Schedules `event` at `time` (not before now); events at the same time run in the order
  // they were scheduled.
  void at(absl::Time time, std::function<void()> event);
  size_t scheduled() const { return events_.size(); }
  // Runs the events due by `deadline` (the earliest time first); advances the clock.
  void advance(absl::Time deadline);
  // Records an event at the current virtual time, from the running task (its id, and its host
  // unless options name one), e.g. record("recv", "12 bytes", {.host = 2, .flow_in = flow}).
  void record(std::string_view what, std::string_view detail = "", RecordOptions options = {});
  Trace& mutable_trace() { return trace_; }
  // The host of the running task (nullptr: the world's own tasks, or no task runs).
  Host* current_host();
  Host* host_by_id(uint32_t id);
  Host* host_by_ip(uint32_t ip);  // ip in host byte order
  Host* host_by_ipv6(const uint8_t (&ip)[16]);
  // A generator for one subsystem; the same name gives the same stream for a seed.
  Prng stream(std::string_view subsystem) const;
  // Descriptors the simulator hands out, never reused in a run and beyond any real one.
  int next_fd() { return next_fd_++; }
  static constexpr int kFirstFd = 1 << 30;
  // Throws UsageError "simulation (seed=S, t=...): <call> reaches the real world".
  [[noreturn]] void touched_real_world(const std::string& call) const;

 private:
  // What a crash and a kill share: the host goes down, its tasks are cancelled, its connections
  // reset. Its disk is the caller's to decide (lost or torn writes, or all kept).
  void end_programs(Host& host);
  Task<> main(std::function<Task<>()> control);
  Task<> run_host(Host& host);
  Task<> nemesis();

  WorldOptions options_;
  Faults faults_;
  Trace trace_;
  History history_;
  absl::Time now_ = absl::UnixEpoch();
  // Scheduled events, a binary heap with the earliest (time, then order scheduled) on top.
  struct Scheduled {
    absl::Time time;
    uint64_t order;
    std::function<void()> run;
  };
  struct Later {
    bool operator()(const Scheduled& a, const Scheduled& b) const {
      return a.time != b.time ? a.time > b.time : a.order > b.order;
    }
  };
  std::vector<Scheduled> events_;
  uint64_t events_scheduled_ = 0;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::unique_ptr<Network> network_;
  std::unique_ptr<Disk> disk_;
  Prng nemesis_prng_;
  Prng buggify_prng_;
  std::map<std::string, BuggifySite> buggify_sites_;
  std::vector<FaultRecord> faults_drawn_;
  bool faults_stopped_ = false;
  // The nemesis's next fault: recorded, and whether to carry it out.
  bool draw_fault(std::string what);
  int next_fd_ = kFirstFd;
  bool ran_ = false;
};

}  // namespace giambio::sim

#endif  // SIM_WORLD_H_

#include "sim/world.h"

#include <signal.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "giambio/buggify.h"
#include "giambio/cancel_scope.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/instrument.h"
#include "giambio/internal/signal_hub.h"
#include "giambio/pool.h"
#include "giambio/run.h"
#include "giambio/signals.h"
#include "giambio/time.h"
#include "giambio/tls.h"
#include "sim/disk.h"
#include "sim/network.h"
#include "sim/sim_driver.h"
#include "sim/tls_environment.h"

namespace giambio::sim {
namespace {

thread_local std::string last_world_description;

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

// Records every scheduling decision into the trace.
class Recorder final : public Instrument {
 public:
  explicit Recorder(World& world) : world_(world) {}
  void on_task_spawned(const TaskInfo& task) override {
    world_.mutable_trace().name_task(
        task.domain, task.id,
        task.name.empty() ? absl::StrCat("task ", task.id) : std::string(task.name));
  }
  void before_task_step(const TaskInfo& task) override {
    world_.record("step", "", {.host = task.domain});
  }
  void on_task_exited(const TaskInfo& task) override {
    world_.record("exit", "", {.host = task.domain});
  }
  void before_cancel(const TaskInfo& task) override {
    world_.record("cancelled", "", {.host = task.domain});
  }

 private:
  World& world_;
};

// While a world runs, giambio calls that would reach the real world end up here.
class Tripwire final : public RealWorldGuard {
 public:
  explicit Tripwire(const World& world) : world_(world), previous_(set_real_world_guard(this)) {}
  ~Tripwire() { set_real_world_guard(previous_); }
  void touched(const char* call) override { world_.touched_real_world(call); }

 private:
  const World& world_;
  RealWorldGuard* previous_;
};

// While a world runs, giambio::buggify() asks it.
class BuggifyDecider final : public BuggifyHook {
 public:
  explicit BuggifyDecider(World& world) : world_(world), previous_(set_buggify_hook(this)) {}
  ~BuggifyDecider() { set_buggify_hook(previous_); }
  bool fire(const char* name, const char* file, int line) override {
    if (name != nullptr) return world_.buggify(name);
    // The same name from every compiler: GCC names a header reached through a relative include
    // "./examples/echo.h".
    std::string_view path = file;
    if (path.starts_with("./")) path.remove_prefix(2);
    return world_.buggify(absl::StrCat(std::string(path), ":", line));
  }

 private:
  World& world_;
  BuggifyHook* previous_;
};

// A host's signals: delivered by World::signal, never read from a kernel.
class HostSignals final : public internal::SignalHub {
 protected:
  absl::Status watch(int) override { return absl::OkStatus(); }
  void unwatch(int) override {}
  bool has_source() const override { return false; }
};

// What a signal does to a process that has no receiver for it (signal(7)): true to end it.
bool ends_the_process(int signal) {
  switch (signal) {
    case SIGCHLD:
    case SIGURG:
    case SIGWINCH:
    case SIGCONT:
      return false;
    default:
      return true;
  }
}

// Keeps `scope` in the host's list of what a crash cancels, while it is entered.
class CrashScope {
 public:
  CrashScope(std::vector<CancelScope*>& scopes, CancelScope& scope)
      : scopes_(scopes), scope_(scope) {
    scopes_.push_back(&scope_);
  }
  ~CrashScope() { std::erase(scopes_, &scope_); }

 private:
  std::vector<CancelScope*>& scopes_;
  CancelScope& scope_;
};

}  // namespace

// ---- Host ----

Host::Host(uint32_t id, std::string name, Program program)
    : id_(id),
      name_(std::move(name)),
      ip_(absl::StrCat((ipv4() >> 24) & 0xff, ".", (ipv4() >> 16) & 0xff, ".", (ipv4() >> 8) & 0xff,
                       ".", ipv4() & 0xff)),
      program_(std::move(program)),
      crashable_(program_ != nullptr),
      signals_(std::make_unique<HostSignals>()),
      restarted_("Host::restart"),
      finished_("World::programs_finished") {}

bool Host::listens_for(int signal) const { return signals_->watched(signal); }

SocketAddress Host::address(int port) const { return *SocketAddress::parse(ip_, port); }

std::string Host::ipv6() const { return absl::StrCat("fd00::", absl::Hex(id_)); }

SocketAddress Host::address6(int port) const { return *SocketAddress::parse(ipv6(), port); }

absl::Time Host::wall_time(absl::Time now) const {
  return absl::UnixEpoch() + clock_offset_ + (now - absl::UnixEpoch()) * (1.0 + clock_drift_);
}

// ---- World ----

World::World(WorldOptions options)
    : options_(std::move(options)),
      trace_(options_.keep_trace),
      history_(History::Clock{[this] { return elapsed(); },
                              [this] {
                                Host* host = current_host();
                                return host != nullptr ? host->id() : 0u;
                              },
                              [] {
                                Loop* loop = Loop::current_or_null();
                                const std::optional<TaskInfo> task =
                                    loop == nullptr ? std::nullopt : loop->running_task_info();
                                return task ? task->id : uint64_t{0};
                              }}),
      nemesis_prng_(stream("nemesis")),
      buggify_prng_(stream("buggify")) {
  if (options_.swarm) {
    Prng swarm = stream("swarm");
    faults_ = draw_swarm(swarm);
  } else {
    faults_ = options_.faults;
  }
  network_ = std::make_unique<Network>(*this);
  disk_ = std::make_unique<Disk>(*this);
  trace_.name_host(0, "world");
  last_world_description = describe();
}

const std::string& World::last_description() { return last_world_description; }

void World::clear_last_description() { last_world_description.clear(); }

World::~World() = default;

Prng World::stream(std::string_view subsystem) const {
  return Prng(options_.seed ^ fnv1a(subsystem));
}

Host& World::add_host(std::string name, Host::Program program) {
  if (ran_) throw UsageError(absl::StrCat("World::add_host(", name, "): the world already ran"));
  for (const auto& host : hosts_) {
    if (host->name_ == name) {
      throw UsageError(absl::StrCat("World::add_host(", name, "): a host has that name"));
    }
  }
  const uint32_t id = static_cast<uint32_t>(hosts_.size()) + 1;
  hosts_.push_back(std::unique_ptr<Host>(new Host(id, std::move(name), std::move(program))));
  Host& host = *hosts_.back();
  Prng clock = stream(absl::StrCat("clock:", id));
  const int64_t max_offset = absl::ToInt64Nanoseconds(faults_.clock.max_offset);
  if (max_offset > 0) {
    host.clock_offset_ = absl::Nanoseconds(
        static_cast<int64_t>(clock.uniform(2 * static_cast<uint64_t>(max_offset) + 1)) -
        max_offset);
  }
  host.clock_drift_ = (clock.uniform_double() * 2 - 1) * faults_.clock.max_drift_ppm * 1e-6;
  trace_.name_host(id, host.name_);
  return host;
}

Host& World::host(std::string_view name) {
  for (const auto& host : hosts_) {
    if (host->name_ == name) return *host;
  }
  throw UsageError(absl::StrCat("World::host(", std::string(name), "): no such host"));
}

Host* World::host_by_id(uint32_t id) {
  return id >= 1 && id <= hosts_.size() ? hosts_[id - 1].get() : nullptr;
}

Host* World::host_by_ip(uint32_t ip) {
  return ip > 0x0a000000u ? host_by_id(ip - 0x0a000000u) : nullptr;
}

Host* World::host_by_ipv6(const uint8_t (&ip)[16]) {
  // fd00::<id>: the first byte 0xfd, the id in the last four, zeros between.
  if (ip[0] != 0xfd) return nullptr;
  for (int i = 1; i < 12; ++i) {
    if (ip[i] != 0) return nullptr;
  }
  return host_by_id((uint32_t{ip[12]} << 24) | (uint32_t{ip[13]} << 16) | (uint32_t{ip[14]} << 8) |
                    ip[15]);
}

Host* World::current_host() {
  Loop* loop = Loop::current_or_null();
  const std::optional<TaskInfo> task = loop == nullptr ? std::nullopt : loop->running_task_info();
  return task ? host_by_id(task->domain) : nullptr;
}

std::string World::describe() const {
  return absl::StrCat("seed=", options_.seed, options_.swarm ? " swarm" : "", " faults{",
                      sim::describe(faults_), "}");
}

void World::touched_real_world(const std::string& call) const {
  throw UsageError(absl::StrCat("simulation (seed=", options_.seed,
                                ", t=", absl::FormatDuration(now_ - absl::UnixEpoch()), "): ", call,
                                " reaches the real world; inside a simulation use the simulated "
                                "network, disk and clocks"));
}

void World::at(absl::Time time, std::function<void()> event) {
  events_.push_back(Scheduled{std::max(time, now_), ++events_scheduled_, std::move(event)});
  std::push_heap(events_.begin(), events_.end(), Later());
}

void World::advance(absl::Time deadline) {
  if (deadline == absl::InfinitePast()) deadline = now_;
  if (events_.empty() || events_.front().time > deadline) {
    if (deadline != absl::InfiniteFuture() && deadline > now_) now_ = deadline;
    return;
  }
  now_ = std::max(now_, events_.front().time);
  while (!events_.empty() && events_.front().time <= now_) {
    std::pop_heap(events_.begin(), events_.end(), Later());
    Scheduled event = std::move(events_.back());
    events_.pop_back();
    GIAMBIO_CHECK(event.time == now_, "simulator: an event due at ", absl::FormatTime(event.time),
                  " ran at ", absl::FormatTime(now_),
                  " (events run in time order, none in the past)");
    event.run();
  }
}

bool World::buggify(const std::string& site) {
  auto [it, first] = buggify_sites_.try_emplace(site);
  BuggifySite& state = it->second;
  if (first) {
    // Whether a site is enabled depends on the seed and the site alone, not on which site was
    // reached first.
    state.enabled = stream(absl::StrCat("buggify site ", site)).chance(options_.buggify_sites);
  }
  ++state.calls;
  if (!state.enabled || !buggify_prng_.chance(options_.buggify_fires)) return false;
  ++state.fired;
  record("buggify", site);
  return true;
}

void World::record(std::string_view what, std::string_view detail, RecordOptions options) {
  uint32_t host = options.host;
  Loop* loop = Loop::current_or_null();
  const std::optional<TaskInfo> task = loop == nullptr ? std::nullopt : loop->running_task_info();
  if (host == RecordOptions::kCurrentHost) host = task ? task->domain : 0;
  trace_.record(now_ - absl::UnixEpoch(), host, task ? task->id : 0, what, detail, options.flow_out,
                options.flow_in);
}

// ---- Running ----

void World::run(std::function<Task<>()> control) {
  if (ran_) throw UsageError("World::run: a world runs once; make a new World for another run");
  ran_ = true;
  Recorder recorder(*this);
  Tripwire tripwire(*this);
  BuggifyDecider buggify(*this);
  // OpenSSL's randomness and clock come from the world while it runs (sim/tls_environment.h).
  SimTlsEnvironment tls(stream("tls"), [this] {
    Host* host = current_host();
    return host != nullptr ? host->wall_time(now_) : now_;
  });
  TlsEnvironment* const previous_tls = set_tls_environment(&tls);
  struct RestoreTls {
    TlsEnvironment* previous;
    ~RestoreTls() { set_tls_environment(previous); }
  } restore_tls{previous_tls};
  // A failed invariant check names the run, so it can be replayed.
  const std::string check_context = absl::StrCat("simulation ", describe());
  CheckContext context(check_context);
  RunOptions options;
  options.custom_driver = std::make_unique<SimDriver>(*this);
  options.schedule_seed = stream("schedule").next();
  options.instruments = {&recorder};
  try {
    giambio::run(main(std::move(control)), std::move(options));
  } catch (const DeadlockError& deadlock) {
    throw DeadlockError(absl::StrCat("simulation ", describe(), ": ", deadlock.what()));
  }
}

Task<> World::main(std::function<Task<>()> control) {
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (const auto& host : hosts_) {
      if (host->program_ == nullptr) continue;
      Host* h = host.get();
      pool.spawn([this, h] { return run_host(*h); }, h->name_);
    }
    const ScheduleFaults& schedule = faults_.schedule;
    if (schedule.partitions_per_minute + schedule.clogs_per_minute + schedule.crashes_per_minute +
            schedule.splits_per_minute >
        0) {
      pool.spawn([this] { return nemesis(); }, "nemesis");
    }
    co_await control();
    pool.cancel();
  });
}

Task<> World::run_host(Host& host) {
  Loop::current("World::run").set_running_domain(host.id_);
  while (true) {
    while (!host.alive_) co_await host.restarted_.park();
    const uint32_t incarnation = host.incarnation_;
    record("boot", absl::StrCat("incarnation ", incarnation));
    {
      CancelScope scope;
      CrashScope registered(host.scopes_, scope);
      host.program_running_ = true;
      co_await scope.run(host.program_());
      host.program_running_ = false;
      if (!scope.cancel_called()) {
        ++host.programs_finished_;
        record("program ended", "");
        host.finished_.unpark_all();
      }
    }
    while (host.incarnation_ == incarnation || !host.alive_) co_await host.restarted_.park();
  }
}

Task<bool> World::on(Host& host, Task<> work) {
  if (!host.alive_) co_return false;
  Loop& loop = Loop::current("World::on");
  const uint32_t saved = loop.running_task_info()->domain;
  loop.set_running_domain(host.id_);
  // Restored when the work ends, however it ends (the frame is resumed in the same task).
  struct RestoreDomain {
    Loop& loop;
    uint32_t domain;
    ~RestoreDomain() {
      if (loop.running_task_info()) loop.set_running_domain(domain);  // not at loop teardown
    }
  } restore{loop, saved};
  CancelScope scope;
  CrashScope registered(host.scopes_, scope);
  co_await scope.run(std::move(work));
  co_return !scope.cancel_called();
}

Task<> World::programs_finished(Host& host, uint64_t times) {
  while (host.programs_finished_ < times) co_await host.finished_.park();
}

Task<> World::nemesis() {
  const ScheduleFaults& f = faults_.schedule;
  const double total =
      f.partitions_per_minute + f.clogs_per_minute + f.crashes_per_minute + f.splits_per_minute;
  const uint64_t mean = static_cast<uint64_t>(60e9 / total);
  while (true) {
    // Uniform in [0, 2 * mean]: the configured mean rate, drawn with integer arithmetic only.
    co_await sleep(absl::Nanoseconds(static_cast<int64_t>(nemesis_prng_.uniform(2 * mean + 1))));
    if (faults_stopped_) co_return;
    // Every draw below depends on the seed alone, never on what earlier faults did, so a replay
    // that leaves some of them out (only_faults) draws the others identically.
    const double pick = nemesis_prng_.uniform_double() * total;
    if (pick < f.partitions_per_minute + f.clogs_per_minute) {
      if (hosts_.size() < 2) continue;
      const size_t i = nemesis_prng_.uniform(hosts_.size());
      const size_t j = (i + 1 + nemesis_prng_.uniform(hosts_.size() - 1)) % hosts_.size();
      Host* a = hosts_[i].get();
      Host* b = hosts_[j].get();
      if (pick < f.partitions_per_minute) {
        const bool one_way = nemesis_prng_.chance(0.5);
        if (!draw_fault(absl::StrCat("partition ", a->name_, one_way ? " -> " : " <-> ", b->name_,
                                     " for ", absl::FormatDuration(f.partition_length)))) {
          continue;
        }
        partition(*a, *b, one_way);
        at(now_ + f.partition_length, [this, a, b] { heal(*a, *b); });
      } else {
        if (!draw_fault(absl::StrCat("clog ", a->name_, " <-> ", b->name_, " for ",
                                     absl::FormatDuration(f.clog_length)))) {
          continue;
        }
        clog(*a, *b, f.clog_length);
      }
      continue;
    }
    if (pick >= f.partitions_per_minute + f.clogs_per_minute + f.crashes_per_minute) {
      std::vector<Host*> sides[2];
      for (const auto& host : hosts_)
        sides[nemesis_prng_.chance(0.5) ? 1 : 0].push_back(host.get());
      std::vector<std::string> names[2];
      for (int side = 0; side < 2; ++side) {
        for (Host* host : sides[side]) names[side].push_back(host->name_);
      }
      if (!draw_fault(absl::StrCat("split {", absl::StrJoin(names[0], " "), "} | {",
                                   absl::StrJoin(names[1], " "), "} for ",
                                   absl::FormatDuration(f.partition_length)))) {
        continue;
      }
      if (sides[0].empty() || sides[1].empty()) {
        faults_drawn_.back().carried_out = false;  // one side holds every host: nothing to cut
        continue;
      }
      record("split", faults_drawn_.back().what, {.host = 0});
      for (Host* a : sides[0]) {
        for (Host* b : sides[1]) {
          network_->set_cut(a->id_, b->id_, true);
          network_->set_cut(b->id_, a->id_, true);
        }
      }
      at(now_ + f.partition_length, [this, sides] {
        record("split healed", "", {.host = 0});
        for (Host* a : sides[0]) {
          for (Host* b : sides[1]) {
            network_->set_cut(a->id_, b->id_, false);
            network_->set_cut(b->id_, a->id_, false);
          }
        }
      });
      continue;
    }
    std::vector<Host*> crashable;
    for (const auto& host : hosts_) {
      if (host->crashable_) crashable.push_back(host.get());
    }
    if (crashable.empty()) continue;
    Host* victim = crashable[nemesis_prng_.uniform(crashable.size())];
    if (!draw_fault(
            absl::StrCat("crash ", victim->name_, " for ", absl::FormatDuration(f.downtime)))) {
      continue;
    }
    if (!victim->alive_) {
      faults_drawn_.back().carried_out = false;  // down already
      continue;
    }
    crash(*victim);
    at(now_ + f.downtime, [this, victim] {
      if (!victim->alive_) restart(*victim);
    });
  }
}

void World::stop_faults() {
  record("faults stopped", "", {.host = 0});
  faults_stopped_ = true;
  network_->heal_all();
  for (const auto& host : hosts_) {
    if (!host->alive_ && host->program_ != nullptr) restart(*host);
  }
  faults_.network.loss = 0;
  faults_.network.duplication = 0;
  faults_.network.reorder = 0;
  faults_.disk.read_error = 0;
}

Task<> World::eventually(std::function<std::string()> still_pending, absl::Duration within,
                         absl::Duration every) {
  if (!faults_stopped_) {
    throw UsageError(
        "World::eventually: call stop_faults() first (liveness is checked once the "
        "faults have stopped)");
  }
  if (every <= absl::ZeroDuration() || within < absl::ZeroDuration()) {
    throw UsageError(absl::StrCat("World::eventually: within=", absl::FormatDuration(within),
                                  " every=", absl::FormatDuration(every),
                                  ": both must be positive"));
  }
  const absl::Time deadline = now_ + within;
  while (true) {
    std::string pending = still_pending();
    if (pending.empty()) co_return;
    if (now_ >= deadline) {
      record("liveness failed", pending, {.host = 0});
      throw LivenessFailure(absl::StrCat(
          "simulation (", describe(), ") at ", absl::FormatDuration(elapsed()), ": not live ",
          absl::FormatDuration(within), " after the faults stopped: ", pending));
    }
    co_await sleep(std::min(every, deadline - now_));
  }
}

bool World::draw_fault(std::string what) {
  FaultRecord fault;
  fault.number = faults_drawn_.size() + 1;
  fault.at = elapsed();
  fault.what = std::move(what);
  fault.carried_out = options_.only_faults.keeps(fault.number);
  if (!fault.carried_out)
    record("fault left out", absl::StrCat("#", fault.number, " ", fault.what));
  faults_drawn_.push_back(std::move(fault));
  return faults_drawn_.back().carried_out;
}

// ---- Faults ----

void World::partition(Host& a, Host& b, bool one_way) {
  record("partition", absl::StrCat(a.name_, one_way ? " -> " : " <-> ", b.name_), {.host = 0});
  network_->set_cut(a.id_, b.id_, true);
  if (!one_way) network_->set_cut(b.id_, a.id_, true);
}

void World::heal(Host& a, Host& b) {
  record("heal", absl::StrCat(a.name_, " <-> ", b.name_), {.host = 0});
  network_->set_cut(a.id_, b.id_, false);
  network_->set_cut(b.id_, a.id_, false);
}

void World::heal_all() {
  record("heal all", "", {.host = 0});
  network_->heal_all();
}

void World::clog(Host& a, Host& b, absl::Duration duration) {
  record("clog", absl::StrCat(a.name_, " <-> ", b.name_, " for ", absl::FormatDuration(duration)),
         {.host = 0});
  network_->clog(a.id_, b.id_, now_ + duration);
  network_->clog(b.id_, a.id_, now_ + duration);
}

void World::set_link_delay(Host& a, Host& b, absl::Duration latency, absl::Duration jitter) {
  network_->set_delay(a.id_, b.id_, latency, jitter);
  network_->set_delay(b.id_, a.id_, latency, jitter);
}

void World::crash(Host& host) {
  if (!host.alive_) {
    throw UsageError(absl::StrCat("World::crash(", host.name_, "): the host is already down"));
  }
  record("crash", host.name_, {.host = host.id_});
  end_programs(host);
  disk_->crash(host);
}

void World::end_programs(Host& host) {
  host.alive_ = false;
  ++host.incarnation_;
  for (CancelScope* scope : std::vector<CancelScope*>(host.scopes_)) scope->cancel();
  network_->crash(host);
}

void World::restart(Host& host) {
  if (host.alive_ && (host.program_running_ || host.program_ == nullptr)) {
    throw UsageError(absl::StrCat("World::restart(", host.name_, "): the host is running"));
  }
  record("restart", host.name_, {.host = host.id_});
  if (host.alive_) ++host.incarnation_;  // its program had ended by itself
  host.alive_ = true;
  host.restarted_.unpark_all();
}

void World::signal(Host& host, int signal) {
  const std::string call =
      absl::StrCat("World::signal(", host.name_, ", ", signal_name(signal), ")");
  if (signal < 1 || signal > internal::SignalHub::kMaxSignal) {
    throw UsageError(call + ": no such signal");
  }
  if (signal == SIGSTOP || signal == SIGTSTP || signal == SIGTTIN || signal == SIGTTOU) {
    throw UsageError(call + ": stopping a process is not modelled");
  }
  if (!host.alive_) throw UsageError(call + ": the host is down");
  if (host.signals_->watched(signal)) {  // never SIGKILL: no receiver may take it
    record("signal", signal_name(signal), {.host = host.id_});
    host.signals_->deliver(signal);
    return;
  }
  if (!ends_the_process(signal) || !host.program_running_) {
    record("signal ignored", signal_name(signal), {.host = host.id_});
    return;
  }
  // The default action: the program dies, the machine does not.
  record("killed", signal_name(signal), {.host = host.id_});
  end_programs(host);
  disk_->process_died(host);
}

}  // namespace giambio::sim

// The kv scenario: a small replicated key-value store. A leader appends each write to its log
// file, fsyncs it, copies it to two followers (each appends and fsyncs, then acknowledges) and
// acknowledges the client once one follower has it. Hosts crash, links partition, and every 7 s
// a follower is stopped gracefully with SIGTERM (it stops accepting, finishes the records in
// flight, ends) and restarted; the checker crashes the leader at the end and verifies that every
// acknowledged write is in its log.
//
// --bug plants a classic: the leader acknowledges before its fsync has completed, so a crash
// in between loses a write the client was told is safe.
#include <fcntl.h>
#include <signal.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "giambio/giambio.h"
#include "sim/disk.h"
#include "sim/scenarios/run_world.h"

namespace giambio::sim {
namespace {

constexpr int kClientPort = 9000;
constexpr int kReplicaPort = 9001;
constexpr const char* kLog = "/kv.log";

// The log's records up to the first damaged one ("k12=v12\n" each), and where that ends.
struct Recovered {
  std::vector<std::string> records;
  int64_t end = 0;
};

Recovered parse_log(const std::string& log) {
  Recovered recovered;
  size_t at = 0;
  for (size_t newline; (newline = log.find('\n', at)) != std::string::npos; at = newline + 1) {
    const std::string record = log.substr(at, newline - at);
    std::vector<std::string> kv = absl::StrSplit(record, '=');
    int64_t k = 0, v = 0;
    if (kv.size() != 2 || kv[0].size() < 2 || kv[0][0] != 'k' || kv[1].size() < 2 ||
        kv[1][0] != 'v' || !absl::SimpleAtoi(kv[0].substr(1), &k) ||
        !absl::SimpleAtoi(kv[1].substr(1), &v)) {
      break;  // a torn or lost write: what follows is not trusted
    }
    recovered.records.push_back(record);
    recovered.end = static_cast<int64_t>(newline + 1);
  }
  return recovered;
}

// Reads a line, at most `timeout` long.
Task<std::optional<std::string>> read_line(SocketStream& stream, std::string& buffer,
                                           absl::Duration timeout) {
  co_return co_await skip_after(timeout, [&]() -> Task<std::string> {
    while (buffer.find('\n') == std::string::npos) {
      absl::StatusOr<std::string> data = co_await stream.read_some(4096);
      if (!data.ok() || data->empty()) co_return "";
      buffer += *data;
    }
    const size_t end = buffer.find('\n');
    std::string line = buffer.substr(0, end);
    buffer.erase(0, end + 1);
    co_return line;
  }());
}

// The append-only log on this host's disk.
class Log {
 public:
  Task<> open() {
    while (true) {
      absl::StatusOr<File> file = co_await File::open(kLog, O_CREAT | O_RDWR);
      if (!file.ok()) continue;
      absl::StatusOr<std::string> content = co_await file->read_at(1 << 24, 0);
      if (!content.ok()) continue;  // a read error: try again
      end_ = parse_log(*content).end;
      file_ = std::move(*file);
      co_return;
    }
  }
  Task<bool> append(const std::string& record) {
    const int64_t at = end_;
    if (!(co_await file_.write_all_at(record + "\n", at)).ok()) co_return false;
    end_ = at + static_cast<int64_t>(record.size()) + 1;
    co_return true;
  }
  Task<bool> sync() { co_return (co_await file_.sync()).ok(); }

 private:
  File file_;
  int64_t end_ = 0;
};

Task<> follower() {
  Log log;
  co_await log.open();
  absl::StatusOr<SignalReceiver> signals = open_signal_receiver({SIGTERM});
  if (!signals.ok()) throw CheckFailure(signals.status().ToString());
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", kReplicaPort));
  if (!listener.ok()) throw CheckFailure(listener.status().ToString());
  Lock lock;
  auto replicate = [&](SocketStream stream) -> Task<> {
    std::string buffer;
    while (true) {
      std::optional<std::string> record =
          co_await read_line(stream, buffer, absl::InfiniteDuration());
      if (!record.has_value() || record->empty()) co_return;
      LockGuard guard = co_await lock.guard();
      if (!co_await log.append(*record) || !co_await log.sync()) co_return;
      if (!(co_await stream.write_all("ACK\n")).ok()) co_return;
    }
  };
  // SIGTERM: a graceful stop (serve_tcp's shutdown); the leader's connection gets half a second.
  Event stop;
  ServeOptions options;
  options.shutdown = &stop;
  options.grace = absl::Milliseconds(500);
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      co_await signals->receive();
      stop.set();
    });
    const absl::Status served = co_await serve_tcp(*listener, replicate, options);
    if (!served.ok()) throw CheckFailure(served.ToString());
    pool.cancel();
  });
}

// Every 7 s, stops one follower (in turn) with SIGTERM once its program listens for it, waits
// for the program to end, and starts it again.
Task<> restart_followers(World& world, std::vector<Host*> followers) {
  for (size_t turn = 0;; ++turn) {
    co_await sleep(absl::Seconds(7));
    Host& host = *followers[turn % followers.size()];
    if (!host.alive() || !host.listens_for(SIGTERM)) continue;
    const uint64_t finished = host.finished_count();
    world.signal(host, SIGTERM);
    // A crash meanwhile ends it too; the nemesis then restarts it.
    (void)co_await skip_after(absl::Seconds(3), world.programs_finished(host, finished + 1));
    if (host.alive() && !host.program_running()) world.restart(host);
  }
}

// The leader's connection to one follower, made again after any failure.
struct Replica {
  SocketAddress address;
  std::optional<SocketStream> stream;
  std::string buffer;

  Task<bool> copy(const std::string& record) {
    if (!stream.has_value()) {
      std::optional<absl::StatusOr<SocketStream>> connected =
          co_await skip_after(absl::Seconds(1), SocketStream::connect(address));
      if (!connected.has_value() || !connected->ok()) co_return false;
      stream = std::move(**connected);
      buffer.clear();
    }
    if ((co_await stream->write_all(record + "\n")).ok()) {
      std::optional<std::string> ack = co_await read_line(*stream, buffer, absl::Seconds(1));
      if (ack.has_value() && *ack == "ACK") co_return true;
    }
    stream.reset();
    co_return false;
  }
};

Task<> leader(std::vector<SocketAddress> followers, bool bug) {
  Log log;
  co_await log.open();
  std::vector<Replica> replicas;
  for (const SocketAddress& address : followers) replicas.push_back(Replica{address, {}, {}});
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", kClientPort));
  if (!listener.ok()) throw CheckFailure(listener.status().ToString());
  while (true) {
    absl::StatusOr<SocketStream> client = co_await listener->accept();
    if (!client.ok()) continue;
    std::string buffer;
    while (true) {
      std::optional<std::string> request =
          co_await read_line(*client, buffer, absl::InfiniteDuration());
      if (!request.has_value() || request->empty()) break;
      std::vector<std::string> words = absl::StrSplit(*request, ' ');
      if (words.size() != 3 || words[0] != "SET") break;
      const std::string record = absl::StrCat(words[1], "=", words[2]);
      if (!co_await log.append(record)) break;
      if (!bug && !co_await log.sync()) break;
      int copies = 0;
      for (Replica& replica : replicas) copies += co_await replica.copy(record) ? 1 : 0;
      const std::string reply = copies > 0 ? "OK\n" : "ERR\n";
      if (!(co_await client->write_all(reply)).ok()) break;
      if (bug && !co_await log.sync()) break;  // the bug: acknowledged before it was durable
    }
  }
}

Task<> writer(SocketAddress leader, std::vector<int64_t>& acknowledged) {
  int64_t next = 0;
  while (true) {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(leader);
    if (!stream.ok()) {
      co_await sleep(absl::Milliseconds(100));
      continue;
    }
    std::string buffer;
    while (true) {
      const int64_t n = next++;
      if (!(co_await stream->write_all(absl::StrCat("SET k", n, " v", n, "\n"))).ok()) break;
      std::optional<std::string> reply = co_await read_line(*stream, buffer, absl::Seconds(5));
      if (!reply.has_value() || reply->empty()) break;
      if (*reply == "OK") acknowledged.push_back(n);
    }
  }
}

RunResult run_kv(const RunSettings& settings) {
  Faults faults;
  faults.network.latency = absl::Milliseconds(1);
  faults.network.jitter = absl::Milliseconds(1);
  faults.disk.latency = absl::Milliseconds(2);
  faults.disk.jitter = absl::Milliseconds(3);
  faults.schedule.crashes_per_minute = 4;
  faults.schedule.downtime = absl::Seconds(1);
  faults.schedule.partitions_per_minute = 2;
  faults.schedule.partition_length = absl::Seconds(2);
  World world(world_options(settings, faults));
  Host& lead = world.add_host("leader", [&world, bug = settings.bug] {
    return leader({world.host("follower1").address(kReplicaPort),
                   world.host("follower2").address(kReplicaPort)},
                  bug);
  });
  Host& follower1 = world.add_host("follower1", [] { return follower(); });
  Host& follower2 = world.add_host("follower2", [] { return follower(); });
  Host& client = world.add_host("client");
  const absl::Duration duration = workload_duration(settings, absl::Seconds(60));
  std::vector<int64_t> acknowledged;
  return run_world(
      world,
      [&]() -> Task<> {
        co_await with_pool([&](Pool& pool) -> Task<> {
          pool.spawn([&]() -> Task<> {
            co_await world.on(client, writer(lead.address(kClientPort), acknowledged));
          });
          pool.spawn([&] { return restart_followers(world, {&follower1, &follower2}); });
          co_await sleep(duration);
          pool.cancel();
        });
        // The check: crash the leader (its unsynced writes are decided now) and read its log.
        if (lead.alive()) world.crash(lead);
        const Recovered log = parse_log(world.disk().contents(lead, kLog).value_or(""));
        std::vector<bool> present;
        for (const std::string& record : log.records) {
          int64_t k = 0;
          (void)absl::SimpleAtoi(record.substr(1, record.find('=') - 1), &k);
          if (k >= static_cast<int64_t>(present.size())) present.resize(k + 1);
          present[k] = true;
        }
        for (const int64_t k : acknowledged) {
          if (k >= static_cast<int64_t>(present.size()) || !present[k]) {
            throw CheckFailure(absl::StrCat("kv: acknowledged write k", k, "=v", k,
                                            " is not in the leader's log after a crash (",
                                            acknowledged.size(), " writes acknowledged)"));
          }
        }
        if (acknowledged.empty()) throw CheckFailure("kv: no write was acknowledged");
      },
      settings);
}

}  // namespace

Scenario kv_scenario() {
  return Scenario{
      .name = "kv",
      .summary = "a leader logs writes to disk with fsync and copies them to 2 followers",
      .faults =
          "2 ms +0-3 ms disk latency, 4 crashes (torn and lost unsynced writes) and "
          "2 partitions per minute, a follower stopped with SIGTERM and restarted every 7 s",
      .checks =
          "every write acknowledged to the client is in the leader's log after a final "
          "crash; --bug acknowledges before fsync",
      .has_bug = true,
      .run = run_kv,
  };
}

}  // namespace giambio::sim

// The chat scenario: giambio's chat server (every line a client sends goes to all the others)
// with clients that join, leave and crash.
#include "examples/chat.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "giambio/giambio.h"
#include "sim/scenarios/run_world.h"

namespace giambio::sim {
namespace {

constexpr int kPort = 6667;
constexpr int kClients = 4;

// giambio's chat server (examples/chat.h), the same code as the chat_server program.
Task<> chat_server() {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", kPort));
  if (!listener.ok()) throw CheckFailure(listener.status().ToString());
  const absl::Status ended = co_await examples::serve_chat(*listener);
  throw CheckFailure(absl::StrCat("chat server: ", ended.ToString()));
}

// What every client incarnation has seen: the last sequence number per sending connection.
using Seen = std::map<std::string, std::map<std::string, int64_t>>;

Task<> chat_client(SocketAddress server, const Host& self, Prng prng, Seen& seen,
                   int64_t& lines_heard) {
  const std::string incarnation = absl::StrCat(self.name(), ".", self.incarnation());
  int64_t next = 0;
  for (int connection = 0;; ++connection) {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server);
    if (!stream.ok()) {
      co_await sleep(absl::Milliseconds(200));
      continue;
    }
    // Lines carry their connection: a line sent on an old connection may still be on its way
    // when the new one has joined (other connections are not ordered with it), and the server
    // rightly passes it on to the new one.
    const std::string me = absl::StrCat(incarnation, "/", connection);
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        std::string pending;
        while (true) {
          absl::StatusOr<std::string> data = co_await stream->read_some(4096);
          if (!data.ok() || data->empty()) break;
          pending += *data;
          for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
            const std::string line = pending.substr(0, end);
            pending.erase(0, end + 1);
            std::vector<std::string> parts = absl::StrSplit(line, '#');
            int64_t number = 0;
            if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &number)) {
              throw CheckFailure(absl::StrCat("chat: ", me, " got a garbled line '", line, "'"));
            }
            if (parts[0] == me) throw CheckFailure(absl::StrCat("chat: ", me, " heard itself"));
            auto [it, fresh] = seen[incarnation].try_emplace(parts[0], number);
            if (!fresh && number <= it->second) {
              throw CheckFailure(absl::StrCat("chat: ", me, " got ", line, " after #", it->second));
            }
            it->second = number;
            ++lines_heard;
          }
        }
        pool.cancel();
      });
      // Talk for a while, then leave (and maybe come back).
      const int64_t lines = 1 + static_cast<int64_t>(prng.uniform(20));
      for (int64_t i = 0; i < lines; ++i) {
        co_await sleep(absl::Milliseconds(100 + static_cast<int64_t>(prng.uniform(600))));
        if (!(co_await stream->write_all(absl::StrCat(me, "#", next++, "\n"))).ok()) break;
      }
      pool.cancel();
    });
    co_await sleep(absl::Milliseconds(static_cast<int64_t>(prng.uniform(3000))));
  }
}

RunResult run_chat(const RunSettings& settings) {
  Faults faults;
  faults.network.latency = absl::Milliseconds(5);
  faults.network.jitter = absl::Milliseconds(10);
  faults.schedule.crashes_per_minute = 4;
  faults.schedule.downtime = absl::Seconds(2);
  faults.schedule.partitions_per_minute = 2;
  faults.schedule.partition_length = absl::Seconds(2);
  World world(world_options(settings, faults));
  Seen seen;
  int64_t lines_heard = 0;
  world.add_host("server", [] { return chat_server(); }).set_crashable(false);
  const SocketAddress server = world.host("server").address(kPort);
  for (int i = 0; i < kClients; ++i) {
    const std::string name = absl::StrCat("client", i);
    world.add_host(name, [&world, &seen, &lines_heard, server, name]() {
      Host& self = world.host(name);
      // Each incarnation draws its own behaviour.
      return chat_client(server, self, world.stream(absl::StrCat(name, ".", self.incarnation())),
                         seen, lines_heard);
    });
  }
  const absl::Duration duration = workload_duration(settings, absl::Seconds(30));
  return run_world(
      world,
      [&]() -> Task<> {
        co_await sleep(duration);
        if (lines_heard == 0) throw CheckFailure("chat: no line was heard");
      },
      settings);
}

}  // namespace

Scenario chat_scenario() {
  return Scenario{
      .name = "chat",
      .summary = "4 clients join a chat server, talk, leave, come back; some crash",
      .faults = "5 ms +0-10 ms latency, 4 client crashes and 2 partitions per minute",
      .checks =
          "no line is garbled, heard on the connection that sent it, or out of order per "
          "sender; lines flow",
      .has_bug = false,
      .run = run_chat,
  };
}

}  // namespace giambio::sim

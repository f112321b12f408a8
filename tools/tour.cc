// tools/tour.cc: a two-second tour of giambio, on the loop's real clock and real sockets.
//
//   bazel run //tools:tour                  # real time and loopback sockets (io_uring, or epoll)
//   bazel run //tools:tour -- --virtual     # parts 1-4 on a virtual clock: no waiting, no sockets
//
// It runs the classic giambio examples in order: a pool of workers, a pool that fails and
// cancels its siblings, a with_timeout that fires, a skip_after that moves on, and giambio's own
// first I/O example: a server that greets and echoes, and three clients that connect to it and
// talk to it at the same time (the server is started by the tour, on 127.0.0.1 and a free port).
// Each line shows the loop's time, so the concurrency is visible.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "giambio/giambio.h"

ABSL_FLAG(bool, virtual, false, "Run on the virtual clock: the same program, no waiting.");
ABSL_FLAG(double, scale, 1.0, "Multiply every sleep by this factor (> 0).");

namespace {

using giambio::Pool;
using giambio::Task;

absl::Time start_time;
double scale = 1.0;

absl::Duration scaled(absl::Duration d) { return d * scale; }

void say(const std::string& line) {
  absl::PrintF("[%7.3fs] %s\n", absl::ToDoubleSeconds(giambio::now() - start_time), line);
  std::fflush(stdout);
}

Task<int> worker(std::string name, absl::Duration work, int result) {
  say(name + ": started, working for " + absl::FormatDuration(work));
  co_await giambio::sleep(scaled(work));
  say(name + ": done");
  co_return result;
}

Task<> failing_worker(absl::Duration after) {
  co_await giambio::sleep(scaled(after));
  say("failing worker: raising an error");
  throw std::runtime_error("the failing worker failed");
}

Task<> patient_worker() {
  try {
    co_await giambio::sleep_forever();
  } catch (const giambio::Cancelled&) {
    say("patient worker: cancelled by its failing sibling");
    throw;
  }
}

// giambio's first I/O example: the server greets each client, then answers every line with
// "Got: " and the line, until the client hangs up.
Task<> greeter(giambio::SocketStream stream) {
  const absl::StatusOr<giambio::SocketAddress> peer = stream.peer_address();
  const std::string who = peer.ok() ? peer->to_string() : "a client";
  say("server: " + who + " connected");
  const std::string welcome = "Welcome to the server pal, feel free to send me something!\n";
  const absl::Status greeted = co_await stream.write_all(welcome);
  while (greeted.ok()) {
    absl::StatusOr<std::string> data = co_await stream.read_some(1024);
    if (!data.ok() || data->empty()) break;
    const std::string reply = "Got: " + *data;
    const absl::Status sent = co_await stream.write_all(reply);
    if (!sent.ok()) break;
  }
  say("server: " + who + " closed");
}

// Reads until a newline (or the end, or an error), as a line-oriented client does.
Task<std::string> read_line(giambio::SocketStream& stream) {
  std::string line;
  while (line.empty() || line.back() != '\n') {
    absl::StatusOr<std::string> data = co_await stream.read_some(1024);
    if (!data.ok() || data->empty()) break;
    line += *data;
  }
  co_return line;
}

// A client: connects, reads the greeting, sends a line after a pause of its own, prints the
// answer, hangs up.
Task<> client(int id, giambio::SocketAddress server, absl::Duration pause) {
  absl::StatusOr<giambio::SocketStream> stream = co_await giambio::SocketStream::connect(server);
  if (!stream.ok()) {
    say(absl::StrCat("client ", id, ": ", stream.status().ToString()));
    co_return;
  }
  const std::string greeting = co_await read_line(*stream);
  say(absl::StrCat("client ", id, ": greeted: ", absl::StripTrailingAsciiWhitespace(greeting)));
  co_await giambio::sleep(scaled(pause));
  const std::string line = absl::StrCat("hello from client ", id, "\n");
  const absl::Status sent = co_await stream->write_all(line);
  if (!sent.ok()) co_return;
  const std::string answer = co_await read_line(*stream);
  say(absl::StrCat("client ", id, ": answer: ", absl::StripTrailingAsciiWhitespace(answer)));
}

Task<> sockets() {
  say("5. sockets: a greeting echo server, and three clients talking to it at once");
  absl::StatusOr<giambio::SocketListener> listener =
      giambio::SocketListener::listen(*giambio::SocketAddress::parse("127.0.0.1", 0));
  if (!listener.ok()) {
    say("   cannot listen: " + listener.status().ToString());
    co_return;
  }
  const giambio::SocketAddress address = listener->local_address();
  say("   server listening on " + address.to_string());
  co_await giambio::with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> { (void)co_await giambio::serve_tcp(*listener, greeter); },
               "server");
    co_await giambio::with_pool([&](Pool& clients) -> Task<> {
      clients.spawn(client(1, address, absl::Milliseconds(300)), "client 1");
      clients.spawn(client(2, address, absl::Milliseconds(100)), "client 2");
      clients.spawn(client(3, address, absl::Milliseconds(200)), "client 3");
      co_return;
    });
    say("   every client is done: the server's pool is cancelled");
    pool.cancel();
  });
}

Task<int> tour() {
  start_time = giambio::now();

  say("1. a pool of three workers; the block waits for all of them");
  int total = co_await giambio::with_pool([](Pool& pool) -> Task<int> {
    auto a = pool.spawn(worker("worker a", absl::Milliseconds(300), 1), "a");
    auto b = pool.spawn(worker("worker b", absl::Milliseconds(100), 2), "b");
    auto c = pool.spawn(worker("worker c", absl::Milliseconds(200), 3), "c");
    co_return co_await a.join() + co_await b.join() + co_await c.join();
  });
  say("   pool done, total " + std::to_string(total));

  say("2. a failing task cancels its siblings, and the pool rethrows its error");
  try {
    co_await giambio::with_pool([](Pool& pool) -> Task<> {
      pool.spawn(patient_worker(), "patient");
      pool.spawn(failing_worker(absl::Milliseconds(200)), "failing");
      co_return;
    });
  } catch (const std::runtime_error& e) {
    say(std::string("   caught: ") + e.what());
  }

  say("3. with_timeout: a slow pool is cut short, and the timeout comes back as a status");
  absl::Status status = co_await giambio::with_timeout(
      scaled(absl::Milliseconds(250)), giambio::with_pool([](Pool& pool) -> Task<> {
        pool.spawn(worker("quick", absl::Milliseconds(100), 0));
        pool.spawn(worker("slow", absl::Seconds(10), 0));
        co_return;
      }));
  say("   status: " + status.ToString());

  say("4. skip_after: give up quietly and move on");
  std::optional<int> answer = co_await giambio::skip_after(scaled(absl::Milliseconds(150)),
                                                           worker("ponder", absl::Seconds(5), 42));
  say(answer ? "   answer " + std::to_string(*answer) : "   skipped, no answer");

  if (absl::GetFlag(FLAGS_virtual)) {
    say("5. sockets: skipped on the virtual clock (it has no network; the simulator has one)");
  } else {
    co_await sockets();
  }

  say("tour complete");
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  scale = absl::GetFlag(FLAGS_scale);
  if (!(scale > 0)) {
    std::fprintf(stderr, "tour: --scale=%g: must be a number greater than 0\n", scale);
    return 2;
  }
  giambio::RunOptions options;
  if (absl::GetFlag(FLAGS_virtual)) options.driver = giambio::DriverKind::kVirtual;
  return giambio::run(tour(), std::move(options));
}

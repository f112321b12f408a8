// Fuzz target for the simulated network (sim/network): the input decides a world's network
// faults, up to 4 TCP connections and their byte streams, up to 16 datagrams, and a schedule of
// partitions, clogs, link delays, crashes and restarts. Host "b" runs an echo server (TCP port 7)
// and a datagram sink (UDP port 8); host "a" runs the clients. Checked after each run:
//   - the run ends: no hang (a 10-minute virtual deadline), no deadlock, nothing thrown;
//   - TCP: what the server read and what the client read back are prefixes of what the client
//     sent; in a run without crashes every connection that opened delivers everything, both ways;
//   - UDP: every datagram received was sent, at most once (twice with duplication on); one over
//     65,507 bytes fails with "Message too long" as on Linux, and none other fails;
//   - no socket left open on either host once the run is over;
//   - the same input gives the same fingerprint and the same bytes a second time.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "giambio/giambio.h"
#include "sim/network.h"
#include "sim/world.h"

namespace giambio::sim {
namespace {

constexpr size_t kMaxDatagram = 65507;  // IPv4: 65535 - 20 (IP header) - 8 (UDP header)
constexpr char kNotSent[] = "(not sent: host a crashed first)";

// Reads the fuzzer's bytes front to back; zeros once they run out.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  uint8_t next() { return at_ < size_ ? data_[at_++] : 0; }
  // `length` bytes made by repeating up to 16 bytes of input (long streams from short inputs).
  std::string pattern(size_t length) {
    std::string unit;
    const size_t want = 1 + next() % 16;
    while (unit.size() < want && !empty()) unit.push_back(static_cast<char>(next()));
    if (unit.empty()) unit.push_back('x');  // not `= "x"`: GCC 12 -O2 warns -Wrestrict
    std::string out;
    out.reserve(length);
    while (out.size() < length) out.append(unit, 0, std::min(unit.size(), length - out.size()));
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

struct Event {
  enum Kind { kPartition, kPartitionOneWay, kClog, kDelay, kCrash, kHealAll } kind;
  absl::Duration at;
  absl::Duration length;  // clog length, delay latency, downtime
  bool host_b;            // which host a crash takes down
};

struct Plan {
  uint64_t seed = 0;
  Faults faults;
  std::vector<std::string> streams;    // each starts with its connection's id byte
  std::vector<std::string> datagrams;  // sent in order, 1 ms apart
  std::vector<Event> events;
};

Plan decode(Bytes in) {
  Plan plan;
  plan.seed = in.next();
  NetworkFaults& net = plan.faults.network;
  net.latency = absl::Milliseconds(in.next() % 20);
  net.jitter = absl::Milliseconds(in.next() % 8);
  const uint8_t bandwidth = in.next();
  net.bandwidth = bandwidth < 128 ? 0 : (bandwidth - 127) * 4096;
  net.loss = (in.next() % 6) * 0.1;
  net.duplication = (in.next() % 6) * 0.1;
  net.reorder = (in.next() % 6) * 0.1;
  while (!in.empty()) {
    switch (in.next() % 3) {
      case 0: {
        if (plan.streams.size() == 4) break;
        std::string stream(1, static_cast<char>(plan.streams.size()));
        const int chunks = in.next() % 4;
        for (int i = 0; i < chunks; ++i) stream += in.pattern(in.next() * 97);
        plan.streams.push_back(std::move(stream));
        break;
      }
      case 1: {
        if (plan.datagrams.size() == 16) break;
        // Codes 250..255 land around the 65,507-byte limit.
        const int code = in.next();
        plan.datagrams.push_back(in.pattern(code < 250 ? code * 4 : 65501 + (code - 250) * 3));
        break;
      }
      default: {
        if (plan.events.size() == 16) break;
        Event event;
        event.kind = static_cast<Event::Kind>(in.next() % 6);
        event.at = absl::Milliseconds(in.next() * 50);
        event.length = absl::Milliseconds(in.next() * 50);
        event.host_b = in.next() % 2 == 0;
        plan.events.push_back(event);
      }
    }
  }
  return plan;
}

// What one run did, compared between the two runs of an input.
struct Outcome {
  uint64_t fingerprint = 0;
  std::map<int, std::string> server_read;  // by connection id
  std::vector<std::string> client_read;
  std::vector<size_t> written;
  std::vector<bool> connected;
  std::vector<std::string> received_datagrams;
  std::vector<std::string> send_errors;  // "" for a datagram that went out, kNotSent
  bool operator==(const Outcome&) const = default;
};

[[noreturn]] void fail(const Plan& plan, const std::string& what) {
  std::fprintf(stderr, "network_fuzz: %s (seed=%llu, %zu streams, %zu datagrams, %zu events)\n",
               what.c_str(), static_cast<unsigned long long>(plan.seed), plan.streams.size(),
               plan.datagrams.size(), plan.events.size());
  std::abort();
}

Task<> serve(Outcome& out) {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", 7));
  absl::StatusOr<UdpSocket> udp = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 8));
  if (!listener.ok() || !udp.ok()) throw std::runtime_error("the servers could not start");
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      while (true) {
        absl::StatusOr<Datagram> datagram = co_await udp->receive_from();
        if (!datagram.ok()) co_return;
        out.received_datagrams.push_back(std::move(datagram->data));
      }
    });
    while (true) {
      absl::StatusOr<SocketStream> accepted = co_await listener->accept();
      if (!accepted.ok()) continue;
      pool.spawn([&out, stream = std::move(*accepted)]() mutable -> Task<> {
        int id = -1;
        while (true) {
          absl::StatusOr<std::string> data = co_await stream.read_some(65536);
          if (!data.ok() || data->empty()) co_return;
          if (id < 0) id = static_cast<unsigned char>((*data)[0]);
          out.server_read[id] += *data;
          if (!(co_await stream.write_all(*data)).ok()) co_return;
        }
      });
    }
  });
}

Task<> client(const Plan& plan, Outcome& out, size_t k, SocketAddress server) {
  absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server);
  if (!stream.ok()) co_return;
  out.connected[k] = true;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn([&]() -> Task<> {
      while (true) {
        absl::StatusOr<std::string> data = co_await stream->read_some(65536);
        if (!data.ok() || data->empty()) co_return;
        out.client_read[k] += *data;
      }
    });
    if ((co_await stream->write_all(plan.streams[k], &out.written[k])).ok()) {
      (void)stream->send_eof();
    }
  });
}

Task<> send_datagrams(const Plan& plan, Outcome& out, SocketAddress server) {
  absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
  if (!socket.ok()) co_return;
  for (size_t i = 0; i < plan.datagrams.size(); ++i) {
    co_await sleep(absl::Milliseconds(1));
    const absl::Status sent = co_await socket->send_to(plan.datagrams[i], server);
    out.send_errors[i] = sent.ok() ? "" : std::string(sent.message());
  }
}

Task<> act(World& world, const Event& event, bool& crashed) {
  Host& a = world.host("a");
  Host& b = world.host("b");
  switch (event.kind) {
    case Event::kPartition:
    case Event::kPartitionOneWay:
      world.partition(a, b, event.kind == Event::kPartitionOneWay);
      break;
    case Event::kClog:
      world.clog(a, b, event.length);
      break;
    case Event::kDelay:
      world.set_link_delay(a, b, event.length, absl::ZeroDuration());
      break;
    case Event::kHealAll:
      world.heal_all();
      break;
    case Event::kCrash: {
      Host& host = event.host_b ? b : a;
      if (!host.alive()) break;
      crashed = true;
      world.crash(host);
      co_await sleep(event.length);
      world.restart(host);
    }
  }
}

Outcome run(const Plan& plan) {
  Outcome out;
  out.client_read.resize(plan.streams.size());
  out.written.resize(plan.streams.size());
  out.connected.resize(plan.streams.size());
  out.send_errors.assign(plan.datagrams.size(), kNotSent);
  World world({.seed = plan.seed, .faults = plan.faults});
  Host& a = world.add_host("a");
  Host& b = world.add_host("b", [&] { return serve(out); });
  bool crashed = false;
  absl::Status finished;
  world.run([&]() -> Task<> {
    finished =
        co_await with_timeout(absl::Minutes(10), with_pool([&](Pool& pool) -> Task<> {
                                pool.spawn([&]() -> Task<> {
                                  co_await with_pool([&](Pool& faults) -> Task<> {
                                    for (const Event& event : plan.events) {
                                      faults.spawn([&]() -> Task<> {
                                        co_await sleep(event.at);
                                        co_await act(world, event, crashed);
                                      });
                                    }
                                    co_return;
                                  });
                                  world.heal_all();  // partitions end, so every stream can finish
                                });
                                co_await sleep(absl::Milliseconds(1));  // b is listening
                                for (size_t k = 0; k < plan.streams.size(); ++k) {
                                  pool.spawn(world.on(a, client(plan, out, k, b.address(7))));
                                }
                                pool.spawn(world.on(a, send_datagrams(plan, out, b.address(8))));
                              }));
  });
  if (!finished.ok()) fail(plan, absl::StrCat("the run hung: ", finished.ToString()));
  if (world.network().open_sockets(a) != 0 || world.network().open_sockets(b) != 0) {
    fail(plan, absl::StrCat("sockets left open: a ", world.network().open_sockets(a), ", b ",
                            world.network().open_sockets(b)));
  }

  for (size_t k = 0; k < plan.streams.size(); ++k) {
    const std::string& sent = plan.streams[k];
    const std::string& server = out.server_read[static_cast<int>(k)];
    const std::string& echoed = out.client_read[k];
    if (!sent.starts_with(server)) fail(plan, absl::StrCat("stream ", k, ": server read garbage"));
    if (!sent.starts_with(echoed)) fail(plan, absl::StrCat("stream ", k, ": echo is not a prefix"));
    if (out.written[k] > sent.size()) fail(plan, absl::StrCat("stream ", k, ": wrote too much"));
    if (!crashed && out.connected[k] &&
        (out.written[k] != sent.size() || server != sent || echoed != sent)) {
      fail(plan, absl::StrCat("stream ", k, " lost data without a crash: sent ", sent.size(),
                              ", written ", out.written[k], ", server read ", server.size(),
                              ", echoed ", echoed.size()));
    }
  }
  std::map<std::string, int> copies;
  for (size_t i = 0; i < plan.datagrams.size(); ++i) {
    const bool too_long = plan.datagrams[i].size() > kMaxDatagram;
    const std::string& error = out.send_errors[i];
    if (error == kNotSent) continue;
    if (too_long != (error.find("Message too long") != std::string::npos)) {
      fail(plan, absl::StrCat("datagram of ", plan.datagrams[i].size(), " bytes: send gave '",
                              error, "'"));
    }
    if (!too_long && !error.empty()) fail(plan, "a datagram failed to send: " + error);
    if (error.empty()) copies[plan.datagrams[i]] += plan.faults.network.duplication > 0 ? 2 : 1;
  }
  for (const std::string& datagram : out.received_datagrams) {
    if (--copies[datagram] < 0) {
      fail(plan, absl::StrCat("a datagram of ", datagram.size(), " bytes arrived too often"));
    }
  }
  out.fingerprint = world.fingerprint();
  return out;
}

}  // namespace
}  // namespace giambio::sim

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace giambio::sim;
  const Plan plan = decode(Bytes(data, size));
  const auto first = run(plan);
  if (first != run(plan)) fail(plan, "the same input gave two different runs");
  // For tools/cross_compiler_check: a g++ and a clang build must print the same lines.
  static const bool print = std::getenv("GIAMBIO_FUZZ_FINGERPRINTS") != nullptr;
  if (print) {
    std::printf("fingerprint=%016llx\n", static_cast<unsigned long long>(first.fingerprint));
  }
  return 0;
}

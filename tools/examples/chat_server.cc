// tools/examples/chat_server.cc: giambio's chat server. Every line a client sends goes to all
// the other clients.
//
//   bazel run //tools/examples:chat_server -- --port=9001
//
// Each client gets a writer task fed by its own channel, so a slow client never holds up the
// others; a client whose channel overflows (it stopped reading) is disconnected.
#include <cstdio>
#include <map>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "giambio/giambio.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on.");
ABSL_FLAG(int, port, 9001, "Port to listen on (0: any free port).");
ABSL_FLAG(int, backlog_lines, 1024, "Lines queued for a client before it is disconnected.");

namespace {

using giambio::Task;

class ChatRoom {
 public:
  Task<> handle(giambio::SocketStream stream) {
    const int id = next_id_++;
    auto [outbox, inbox] =
        giambio::open_memory_channel<std::string>(absl::GetFlag(FLAGS_backlog_lines));
    members_.emplace(id, std::move(outbox));
    co_await giambio::with_pool([&](giambio::Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {  // writer: the channel to the socket
        while (true) {
          absl::StatusOr<std::string> line = co_await inbox.receive();
          if (!line.ok() || !(co_await stream.write_all(*line)).ok()) break;
        }
        pool.cancel();
      });
      std::string pending;  // reader: the socket, split into lines, to everyone else
      while (true) {
        absl::StatusOr<std::string> chunk = co_await stream.read_some(4096);
        if (!chunk.ok() || chunk->empty()) break;
        pending += *chunk;
        for (size_t end; (end = pending.find('\n')) != std::string::npos;) {
          broadcast(id, pending.substr(0, end + 1));
          pending.erase(0, end + 1);
        }
      }
      pool.cancel();
    });
    members_.erase(id);
  }

 private:
  void broadcast(int from, const std::string& line) {
    for (auto& [id, outbox] : members_) {
      if (id != from && !outbox.try_send(line).ok()) outbox.close();  // too slow: drop it
    }
  }

  int next_id_ = 0;
  std::map<int, giambio::MemorySendChannel<std::string>> members_;
};

Task<int> serve(giambio::SocketAddress address) {
  absl::StatusOr<giambio::SocketListener> listener = giambio::SocketListener::listen(address);
  if (!listener.ok()) {
    std::fprintf(stderr, "chat_server: %s\n", listener.status().ToString().c_str());
    co_return 1;
  }
  std::printf("listening on %s\n", listener->local_address().to_string().c_str());
  std::fflush(stdout);
  ChatRoom room;
  absl::Status status = co_await giambio::serve_tcp(
      *listener, [&room](giambio::SocketStream stream) { return room.handle(std::move(stream)); });
  std::fprintf(stderr, "chat_server: %s\n", status.ToString().c_str());
  co_return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<giambio::SocketAddress> address =
      giambio::SocketAddress::parse(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_port));
  if (!address.ok()) {
    std::fprintf(stderr, "chat_server: --host/--port: %s\n", address.status().ToString().c_str());
    return 2;
  }
  return giambio::run(serve(*address));
}

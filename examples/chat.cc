#include "examples/chat.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "giambio/pool.h"
#include "giambio/serve.h"

namespace giambio::examples {

ChatRoom::ChatRoom(ChatOptions options) : options_(std::move(options)) {
  if (options_.backlog_lines < 1) {
    throw UsageError(
        absl::StrCat("ChatRoom: backlog_lines=", options_.backlog_lines, ": must be at least 1"));
  }
}

Task<> ChatRoom::handle(SocketStream stream) {
  if (!options_.welcome.empty() && !(co_await stream.write_all(options_.welcome)).ok()) {
    co_return;
  }
  const int id = next_id_++;
  // Named handles, not a structured binding: the writer lambda below captures the inbox, and
  // clang 14 (the fuzz build) cannot capture a structured binding.
  std::pair<MemorySendChannel<std::string>, MemoryReceiveChannel<std::string>> channel =
      open_memory_channel<std::string>(options_.backlog_lines);
  MemoryReceiveChannel<std::string>& inbox = channel.second;
  members_.emplace(id, Member{std::move(channel.first), std::nullopt});
  struct Leave {  // however the connection ends, cancelled included
    std::map<int, Member>& members;
    int id;
    ~Leave() { members.erase(id); }
  } leave{members_, id};
  co_await with_pool([&](Pool& pool) -> Task<> {
    members_.at(id).connection = pool;
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
}

void ChatRoom::broadcast(int from, const std::string& line) {
  for (auto& [id, member] : members_) {
    if (id == from || member.outbox.try_send(line).ok()) continue;
    member.outbox.close();  // too slow (or gone): disconnect it
    if (member.connection) member.connection->cancel();
  }
}

Task<absl::Status> serve_chat(SocketListener& listener, ChatOptions options) {
  ChatRoom room(std::move(options));
  auto handler = [&room](SocketStream stream) { return room.handle(std::move(stream)); };
  const absl::Status ended = co_await serve_tcp(listener, handler, room.options().serve);
  co_return ended;
}

Task<absl::Status> serve_chat(SocketListener& listener) { return serve_chat(listener, {}); }

}  // namespace giambio::examples

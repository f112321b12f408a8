// examples/chat.h: giambio's chat server, the one copy that the chat_server binary, the
// simulator's chat scenario and the protocol test all run. Every line a client sends goes to
// all the other clients.
//
//   co_await giambio::examples::serve_chat(listener, {.welcome = "welcome\n"});
//
// Each client gets a writer task fed by its own channel, so a slow client never holds up the
// others; a client whose channel overflows (it stopped reading) is disconnected at once (its
// connection's tasks are cancelled, even a writer stuck on a full socket). Lines from one
// client reach every other client in the order it sent them.
#ifndef EXAMPLES_CHAT_H_
#define EXAMPLES_CHAT_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "giambio/channel.h"
#include "giambio/pool.h"
#include "giambio/serve.h"
#include "giambio/socket_stream.h"
#include "giambio/task.h"

namespace giambio::examples {

struct ChatOptions {
  // Lines queued for a client before it is disconnected as too slow (> 0).
  int backlog_lines = 1024;
  // Sent to each client before it joins the room (nothing if empty): a client that has read it
  // hears every line sent after.
  std::string welcome;
  // Graceful shutdown of the server (giambio/serve.h).
  ServeOptions serve = {};
};

class ChatRoom {
 public:
  // A backlog_lines below 1 is a UsageError.
  explicit ChatRoom(ChatOptions options = {});

  // Talks to one client until it leaves (end of stream, an error, or too slow).
  Task<> handle(SocketStream stream);
  size_t members() const { return members_.size(); }
  const ChatOptions& options() const { return options_; }

 private:
  void broadcast(int from, const std::string& line);

  struct Member {
    MemorySendChannel<std::string> outbox;
    std::optional<Pool> connection;  // its reader and writer; cancelled when it is too slow
  };
  ChatOptions options_;
  int next_id_ = 0;
  std::map<int, Member> members_;
};

// Runs a chat room for every connection `listener` accepts (serve_tcp: a cancel ends them all).
// Returns the accept error that ended it. (Two overloads rather than a default argument: GCC 12
// miscompiles a temporary with a destructor, such as a default ChatOptions, in a co_await
// expression; inside a coroutine pass a named ChatOptions.)
Task<absl::Status> serve_chat(SocketListener& listener);
Task<absl::Status> serve_chat(SocketListener& listener, ChatOptions options);

}  // namespace giambio::examples

#endif  // EXAMPLES_CHAT_H_

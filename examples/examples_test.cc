// End to end: starts the example servers as processes and talks to them over loopback.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "giambio/giambio.h"
#include "giambio/tls_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace giambio {
namespace {

// A server process, stopped when this goes away.
class Server {
 public:
  // `errors`: a file for its stderr ("": the test's).
  explicit Server(const std::string& name, std::vector<std::string> flags = {},
                  const std::string& errors = "") {
    const std::string path = std::string(std::getenv("TEST_SRCDIR")) + "/giambio/examples/" + name;
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    if (!errors.empty()) {
      posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errors.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    flags.insert(flags.begin(), "--port=0");
    std::vector<char*> argv{const_cast<char*>(path.c_str())};
    for (std::string& flag : flags) argv.push_back(flag.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // The first line says where it listens: "listening on 127.0.0.1:PORT...".
    FILE* output = fdopen(out[0], "r");
    char line[256] = {};
    EXPECT_NE(fgets(line, sizeof(line), output), nullptr) << name << " printed nothing";
    fclose(output);
    const std::string text(line);
    const size_t colon = text.find(':', text.find("127.0.0.1"));
    port_ = colon == std::string::npos ? 0 : std::atoi(text.c_str() + colon + 1);
    EXPECT_GT(port_, 0) << "unexpected first line: " << text;
  }
  ~Server() {
    if (pid_ == 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // Waits for the server to exit and returns its wait status.
  int wait() {
    int status = 0;
    waitpid(std::exchange(pid_, 0), &status, 0);
    return status;
  }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  SocketAddress address() const { return *SocketAddress::parse("127.0.0.1", port_); }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

// Reads until `size` bytes arrived or the peer closed.
Task<std::string> read_exactly(SocketStream& stream, size_t size) {
  std::string data;
  while (data.size() < size) {
    absl::StatusOr<std::string> chunk = co_await stream.read_some(4096);
    if (!chunk.ok() || chunk->empty()) break;
    data += *chunk;
  }
  co_return data;
}

TEST(ExamplesTest, EchoServer) {
  Server echo("echo_server");
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(echo.address());
    EXPECT_TRUE(stream.ok()) << stream.status();
    (void)co_await stream->write_all("hello, giambio");
    co_return co_await read_exactly(*stream, 14);
  };
  EXPECT_EQ(run(body()), "hello, giambio");
}

// Each connection's connect and disconnect is a line on stderr with the peer; --quiet: none.
TEST(ExamplesTest, ServersLogConnectionsUnlessQuiet) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  for (const bool quiet : {false, true}) {
    const std::string log = dir + (quiet ? "/quiet.log" : "/log.log");
    std::string client;
    {
      Server echo("echo_server",
                  quiet ? std::vector<std::string>{"--quiet"} : std::vector<std::string>{}, log);
      auto body = [&]() -> Task<std::string> {
        absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(echo.address());
        EXPECT_TRUE(stream.ok()) << stream.status();
        const std::string me = stream->local_address()->to_string();
        (void)co_await stream->write_all("hi");
        (void)co_await read_exactly(*stream, 2);
        (void)stream->close();
        co_await sleep(absl::Milliseconds(200));  // the server sees the end of stream
        co_return me;
      };
      client = run(body());
      kill(echo.pid(), SIGTERM);
      EXPECT_EQ(echo.wait(), 0);
    }
    std::ifstream file(log);
    std::stringstream text;
    text << file.rdbuf();
    if (quiet) {
      EXPECT_THAT(text.str(), ::testing::Not(::testing::HasSubstr("connected"))) << text.str();
    } else {
      EXPECT_THAT(text.str(), ::testing::HasSubstr("echo_server: " + client + " connected\n"));
      EXPECT_THAT(text.str(), ::testing::HasSubstr("echo_server: " + client + " disconnected\n"));
    }
  }
}

// SIGTERM in the middle of an 8 MiB echo: the client gets every byte back and a clean end of
// stream, a new connection is refused at once, and the server exits 0 well within its grace.
TEST(ExamplesTest, EchoServerShutsDownGracefullyOnSigterm) {
  Server echo("echo_server", {"--shutdown_grace=20s"});
  const absl::Time start = absl::Now();
  auto body = [&]() -> Task<> {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(echo.address());
    EXPECT_TRUE(stream.ok()) << stream.status();
    if (!stream.ok()) co_return;
    const std::string sent(8 << 20, 's');
    std::string received;
    bool signalled = false;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        EXPECT_TRUE((co_await stream->write_all(sent)).ok());
        EXPECT_TRUE(stream->send_eof().ok());
      });
      while (true) {
        absl::StatusOr<std::string> chunk = co_await stream->read_some(1 << 20);
        EXPECT_TRUE(chunk.ok()) << chunk.status();  // a clean end, never a reset
        if (!chunk.ok() || chunk->empty()) break;
        received += *chunk;
        if (!signalled && received.size() > (1 << 20)) {
          signalled = true;
          kill(echo.pid(), SIGTERM);
          co_await sleep(absl::Milliseconds(100));
          absl::StatusOr<SocketStream> late = co_await SocketStream::connect(echo.address());
          EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable) << late.status();
        }
      }
    });
    EXPECT_TRUE(signalled);
    EXPECT_EQ(received.size(), sent.size());
    EXPECT_TRUE(received == sent);
  };
  run(body());
  const int status = echo.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
}

// --threads=2: two loops behind one port (SO_REUSEPORT); 200 clients are all answered, and
// SIGTERM still ends it cleanly.
TEST(ExamplesTest, EchoServerOnTwoLoopsAnswersEveryClientAndStopsOnSigterm) {
  Server echo("echo_server", {"--threads=2"});
  int answered = 0;
  auto body = [&]() -> Task<> {
    co_await with_pool([&](Pool& clients) -> Task<> {
      for (int c = 0; c < 200; ++c) {
        clients.spawn([&]() -> Task<> {
          absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(echo.address());
          if (!stream.ok()) co_return;
          (void)co_await stream->write_all("twice");
          if (co_await read_exactly(*stream, 5) == "twice") ++answered;
        });
      }
      co_return;
    });
  };
  run(body());
  EXPECT_EQ(answered, 200);
  kill(echo.pid(), SIGTERM);
  const int status = echo.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
}

TEST(ExamplesTest, ChatServerSendsEachLineToEveryOtherClient) {
  Server chat("chat_server");
  auto body = [&]() -> Task<> {
    std::vector<SocketStream> clients;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(chat.address());
      EXPECT_TRUE(stream.ok()) << stream.status();
      if (!stream.ok()) co_return;
      clients.push_back(*std::move(stream));
    }
    co_await sleep(absl::Milliseconds(50));  // every client has joined the room
    (void)co_await clients[0].write_all("hello from 0\n");
    EXPECT_EQ(co_await read_exactly(clients[1], 13), "hello from 0\n");
    EXPECT_EQ(co_await read_exactly(clients[2], 13), "hello from 0\n");
    (void)co_await clients[2].write_all("and 2\n");
    EXPECT_EQ(co_await read_exactly(clients[0], 6), "and 2\n");
    EXPECT_EQ(co_await read_exactly(clients[1], 6), "and 2\n");
    // The sender does not get its own line back.
    std::optional<std::string> own =
        co_await skip_after(absl::Milliseconds(50), read_exactly(clients[2], 1));
    EXPECT_FALSE(own.has_value());
  };
  run(body());
}

TEST(ExamplesTest, TcpProxyForwardsToTheEchoServer) {
  Server echo("echo_server");
  Server proxy("tcp_proxy", {"--target_port=" + std::to_string(echo.port())});
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(proxy.address());
    EXPECT_TRUE(stream.ok()) << stream.status();
    (void)co_await stream->write_all("through the proxy");
    EXPECT_TRUE(stream->send_eof().ok());
    co_return co_await read_exactly(*stream, 1000);  // until the half-close comes back
  };
  EXPECT_EQ(run(body()), "through the proxy");
}

TEST(ExamplesTest, BadFlagsExitWithStatus2) {
  const std::string path =
      std::string(std::getenv("TEST_SRCDIR")) + "/giambio/examples/echo_server";
  const std::string command = path + " --port=70000 2>/dev/null";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

// The TLS echo server with certificates made by the test; a giambio TLS client verifies it.
TEST(ExamplesTest, TlsEchoServer) {
  const testing::TestPki pki = testing::make_test_pki();
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::ofstream(dir + "/chain.pem") << pki.server.chain;
  std::ofstream(dir + "/key.pem") << pki.server.key;
  Server server("tls_echo_server", {"--cert=" + dir + "/chain.pem", "--key=" + dir + "/key.pem"});
  auto body = [&]() -> Task<std::string> {
    TlsConfig config;
    config.ca_pem = pki.ca;
    std::shared_ptr<const TlsContext> context = *TlsContext::client(config);
    absl::StatusOr<TlsStream<SocketStream>> tls =
        co_await open_tls_stream("127.0.0.1", server.port(), context);
    EXPECT_TRUE(tls.ok()) << tls.status();
    if (!tls.ok()) co_return "";
    EXPECT_TRUE((co_await tls->write_all("hello over TLS")).ok());
    std::string got;
    while (got.size() < 14) {
      absl::StatusOr<std::string> part = co_await tls->read_some(100);
      if (!part.ok() || part->empty()) break;
      got += *part;
    }
    EXPECT_TRUE((co_await tls->shutdown()).ok());
    co_return got;
  };
  EXPECT_EQ(run(body()), "hello over TLS");
  const std::string bad = std::string(std::getenv("TEST_SRCDIR")) +
                          "/giambio/examples/tls_echo_server --port=0 --cert=/nonexistent "
                          "--key=/nonexistent 2>/dev/null";
  EXPECT_EQ(WEXITSTATUS(std::system(bad.c_str())), 2);
}

}  // namespace
}  // namespace giambio

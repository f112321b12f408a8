// giambio's TLS against peers nobody here wrote: OpenSSL's own command-line client and server
// (`openssl s_server`, `openssl s_client`, installed by tools/bootstrap), started as real child
// processes, on io_uring and epoll.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/tls_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace giambio {
namespace {

using ::giambio::testing::make_test_pki;
using ::giambio::testing::TestPki;
using ::testing::HasSubstr;

// The test's certificates as files, for the openssl command.
struct Files {
  std::string ca;
  std::string chain;
  std::string key;
};

Files write_files(const TestPki& pki) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string base = absl::StrCat(dir != nullptr ? dir : "/tmp", "/tls_interop_", getpid());
  Files files{base + "_ca.pem", base + "_chain.pem", base + "_key.pem"};
  std::ofstream(files.ca) << pki.ca;
  std::ofstream(files.chain) << pki.server.chain;
  std::ofstream(files.key) << pki.server.key;
  return files;
}

// A child process with its stdin and stdout (stderr joined to stdout) on pipes.
struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin, for us to write
  int out = -1;  // its stdout, for us to read
};

Child spawn(const std::vector<std::string>& argv) {
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], 2);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  Child child;
  if (posix_spawnp(&child.pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    child.pid = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  child.in = to_child[1];
  child.out = from_child[0];
  return child;
}

// Reads the child's output (blocking, before any loop runs) until a whole line starting with
// `marker` has come.
std::string read_line_starting(int fd, const std::string& marker) {
  std::string seen;
  char buffer[4096];
  auto complete = [&] {
    const size_t at = seen.find(marker);
    return at != std::string::npos && seen.find('\n', at) != std::string::npos;
  };
  while (!complete()) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    seen.append(buffer, static_cast<size_t>(n));
  }
  return seen;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TlsInteropTest : public testing::OnEveryDriver {};

// giambio's client against `openssl s_server -rev`, which answers each line reversed.
TEST_P(TlsInteropTest, GiambioClientToOpensslServer) {
  const TestPki pki = make_test_pki();
  const Files files = write_files(pki);
  Child server = spawn({"openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", files.chain,
                        "-key", files.key, "-rev", "-naccept", "1"});
  ASSERT_GT(server.pid, 0) << "could not start openssl (tools/bootstrap installs it)";
  const std::string accept = read_line_starting(server.out, "ACCEPT ");
  const size_t colon = accept.find(':', accept.find("ACCEPT "));
  ASSERT_NE(colon, std::string::npos) << accept;
  const int port = std::atoi(accept.c_str() + colon + 1);

  auto body = [&]() -> Task<std::string> {
    TlsConfig config;
    config.ca_pem = pki.ca;
    absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::client(config);
    absl::StatusOr<SocketStream> tcp =
        co_await SocketStream::connect(*SocketAddress::parse("127.0.0.1", port));
    EXPECT_TRUE(tcp.ok()) << tcp.status();
    absl::StatusOr<TlsStream<SocketStream>> tls =
        TlsStream<SocketStream>::client(*std::move(tcp), *context, "localhost");
    EXPECT_TRUE((co_await tls->write_all("hello giambio\n")).ok());
    std::string got;
    while (got.find('\n') == std::string::npos) {
      absl::StatusOr<std::string> part = co_await tls->read_some(1024);
      if (!part.ok() || part->empty()) break;
      got += *part;
    }
    EXPECT_EQ(tls->protocol_version(), "TLSv1.3");
    (void)co_await tls->shutdown();  // s_server may close first; what it said is what counts
    co_return got;
  };
  EXPECT_EQ(run_here(body()), "oibmaig olleh\n");
  close(server.in);
  close(server.out);
  kill(server.pid, SIGTERM);
  wait_for(server.pid);
}

// `openssl s_client`, verifying giambio's certificate against the test CA, talks to a giambio
// TLS server: it prints the server's greeting, and the server reads the line it sends.
TEST_P(TlsInteropTest, OpensslClientToGiambioServer) {
  const TestPki pki = make_test_pki();
  const Files files = write_files(pki);
  auto body = [&]() -> Task<> {
    TlsConfig config;
    config.certificate_chain_pem = pki.server.chain;
    config.private_key_pem = pki.server.key;
    absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::server(config);
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    Child client = spawn({"openssl", "s_client", "-connect",
                          absl::StrCat("127.0.0.1:", listener->local_address().port()), "-CAfile",
                          files.ca, "-servername", "localhost", "-verify_return_error", "-quiet"});
    EXPECT_GT(client.pid, 0) << "could not start openssl (tools/bootstrap installs it)";
    AsyncStream client_in(client.in);
    AsyncStream client_out(client.out);
    std::string server_heard;
    std::string client_printed;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> tcp = co_await listener->accept();
        absl::StatusOr<TlsStream<SocketStream>> tls =
            TlsStream<SocketStream>::server(*std::move(tcp), *context);
        EXPECT_TRUE((co_await tls->write_all("hello from giambio\n")).ok());
        while (server_heard.find('\n') == std::string::npos) {
          absl::StatusOr<std::string> part = co_await tls->read_some(1024);
          if (!part.ok() || part->empty()) break;
          server_heard += *part;
        }
        (void)tls->close();
      });
      while (client_printed.find("hello from giambio\n") == std::string::npos) {
        absl::StatusOr<std::string> part = co_await client_out.read_some(4096);
        if (!part.ok() || part->empty()) break;
        client_printed += *part;
      }
      EXPECT_TRUE((co_await client_in.write_all("ping from s_client\n")).ok());
    });
    (void)client_in.close();
    EXPECT_THAT(client_printed, HasSubstr("hello from giambio\n"));
    EXPECT_EQ(server_heard, "ping from s_client\n");
    kill(client.pid, SIGTERM);  // done with it, whether or not it noticed the close yet
    wait_for(client.pid);
  };
  run_here(body());
}

GIAMBIO_ON_EVERY_DRIVER(TlsInteropTest);

}  // namespace
}  // namespace giambio

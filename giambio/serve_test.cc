#include "giambio/serve.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "giambio/drivers_test_util.h"
#include "giambio/run.h"
#include "giambio/timeouts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

class ServeTest : public testing::OnEveryDriver {};

Task<> echo_once(SocketStream stream) {
  absl::StatusOr<std::string> line = co_await stream.read_some(1024);
  if (line.ok()) (void)co_await stream.write_all(*line);
}

Task<std::string> ask(const SocketAddress& address, std::string question) {
  absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(address);
  if (!stream.ok()) co_return stream.status().ToString();
  (void)co_await stream->write_all(question);
  absl::StatusOr<std::string> answer = co_await stream->read_some(1024);
  co_return answer.ok() ? *answer : answer.status().ToString();
}

TEST_P(ServeTest, OneTaskPerConnection) {
  auto body = []() -> Task<int> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    int answered = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once); });
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int i = 0; i < 20; ++i) {
          clients.spawn([&, i]() -> Task<> {
            const std::string q = "q" + std::to_string(i);
            if (co_await ask(listener->local_address(), q) == q) ++answered;
          });
        }
        co_return;
      });
      pool.cancel();
    });
    co_return answered;
  };
  EXPECT_EQ(run_here(body()), 20);
}

// With the descriptor limit reached, accept fails with EMFILE; serve_tcp backs off and serves
// the waiting client as soon as descriptors are freed.
TEST_P(ServeTest, KeepsServingThroughDescriptorExhaustion) {
  if (const char* sanitizer = std::getenv("GIAMBIO_TEST_SANITIZER");
      sanitizer != nullptr && std::string(sanitizer) == "ubsan") {
    GTEST_SKIP() << "UBSan's vptr check needs a free descriptor (it probes memory through a pipe)";
  }
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  auto body = [&]() -> Task<std::string> {
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    std::string answer;
    std::vector<int> filler;
    co_await with_pool([&](Pool& pool) -> Task<> {
      // Use up every descriptor but one, which the client's socket takes: the server's accept
      // then fails with EMFILE until the filler is closed. (The server starts after this:
      // io_uring takes the limit in force when an accept is submitted.)
      const int probe = open("/dev/null", O_RDONLY);
      close(probe);
      rlimit lowered = original;
      lowered.rlim_cur = static_cast<rlim_t>(probe + 16);
      setrlimit(RLIMIT_NOFILE, &lowered);
      for (int fd; (fd = open("/dev/null", O_RDONLY)) >= 0;) filler.push_back(fd);
      close(filler.back());
      filler.pop_back();
      pool.spawn([&]() -> Task<> { (void)co_await serve_tcp(*listener, echo_once); });
      pool.spawn([&]() -> Task<> {
        co_await sleep(absl::Milliseconds(50));
        for (int fd : filler) close(fd);
        filler.clear();
      });
      answer = co_await ask(listener->local_address(), "hello");
      setrlimit(RLIMIT_NOFILE, &original);
      pool.cancel();
    });
    co_return answer;
  };
  const std::string answer = run_here(body());
  setrlimit(RLIMIT_NOFILE, &original);
  EXPECT_EQ(answer, "hello");
}

GIAMBIO_ON_EVERY_DRIVER(ServeTest);

}  // namespace
}  // namespace giambio

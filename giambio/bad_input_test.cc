// Bad input to giambio's public functions, on both real drivers: each gets a clear error (a
// status naming the operation and the value, or a UsageError for a programming mistake), never a
// crash or a hang. docs/reliability.md has the table this file checks, row by row.
#include <cmath>
#include <limits>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class BadInputTest : public testing::OnEveryDriver {};

// The message of the UsageError `body` throws, or "" if it throws none.
template <typename F>
std::string usage_error(F body) {
  try {
    body();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// The same for awaiting `task`.
template <typename T>
Task<std::string> usage_error_of(Task<T> task) {
  std::string message;
  try {
    (void)co_await std::move(task);
  } catch (const UsageError& e) {
    message = e.what();
  }
  co_return message;
}

Task<> forever() { co_await sleep_forever(); }
Task<> nap(absl::Duration duration) { co_await sleep(duration); }

TEST_P(BadInputTest, DurationsAndDeadlines) {
  auto body = []() -> Task<> {
    const absl::Duration nan = absl::Seconds(std::nan(""));
    const absl::Duration negative = absl::Seconds(-1);
    EXPECT_THAT(co_await usage_error_of(nap(negative)), HasSubstr("sleep(-1s)"));
    // absl turns a NaN into an infinite duration before giambio sees it: sleep(NaN) sleeps until
    // cancelled, like sleep(absl::InfiniteDuration()).
    EXPECT_EQ(nan, absl::InfiniteDuration());
    EXPECT_FALSE(co_await skip_after(absl::Milliseconds(1), nap(nan)));
    // A deadline in the past only yields.
    const absl::Time start = now();
    co_await sleep_until(absl::InfinitePast());
    EXPECT_LT(now() - start, absl::Seconds(1));
    EXPECT_THAT(co_await usage_error_of(with_timeout(negative, forever())),
                HasSubstr("with_timeout(-1s)"));
    EXPECT_THAT(co_await usage_error_of(skip_after(negative, forever())),
                HasSubstr("skip_after(-1s)"));
    CancelScope scope;
    EXPECT_THAT(usage_error([&] { scope.set_relative_deadline(negative); }),
                HasSubstr("set_relative_deadline(-1s)"));
  };
  run_here(body());
}

TEST_P(BadInputTest, ClosedHandles) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    SocketStream& a = pair->first;
    EXPECT_TRUE(a.close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(a.close()));
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await a.read_some(10)).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(co_await a.write_all("x")));
    EXPECT_TRUE(absl::IsFailedPrecondition(a.send_eof()));
    // A closed peer: end of stream for reads, an error for writes (no SIGPIPE).
    absl::StatusOr<std::string> eof = co_await pair->second.read_some(10);
    EXPECT_EQ(eof.value_or("error"), "");
    absl::Status broken = co_await pair->second.write_all(std::string(1 << 20, 'x'));
    EXPECT_FALSE(broken.ok());

    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    EXPECT_TRUE(listener->close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(listener->close()));
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await listener->accept()).status()));

    absl::StatusOr<File> file = co_await File::open("/dev/null");
    EXPECT_TRUE(file->close().ok());
    EXPECT_TRUE(absl::IsFailedPrecondition((co_await file->read_at(1, 0)).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(co_await file->sync()));

    // Waiting on a descriptor that is not open.
    absl::Status bad_fd = co_await wait_readable(-1);
    EXPECT_FALSE(bad_fd.ok());
    EXPECT_THAT(bad_fd.message(), HasSubstr("-1"));
  };
  run_here(body());
}

TEST_P(BadInputTest, BadAddresses) {
  auto body = []() -> Task<> {
    for (const auto& [host, port] : std::vector<std::pair<std::string, int>>{
             {"999.1.1.1", 80}, {"127.0.0.1", 70000}, {"127.0.0.1", -1}, {"", 80}, {"a b", 1}}) {
      absl::StatusOr<SocketAddress> address = SocketAddress::parse(host, port);
      EXPECT_TRUE(absl::IsInvalidArgument(address.status())) << host << ":" << port;
    }
    EXPECT_TRUE(absl::IsInvalidArgument(SocketAddress::unix_path(std::string(200, 'p')).status()));
    EXPECT_TRUE(absl::IsInvalidArgument((co_await resolve("", 80)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument((co_await resolve("localhost", 70000)).status()));
    EXPECT_TRUE(absl::IsInvalidArgument((co_await open_tcp_stream("localhost", -1)).status()));
    absl::StatusOr<SocketStream> none = co_await open_tcp_stream(std::vector<SocketAddress>{});
    EXPECT_TRUE(absl::IsInvalidArgument(none.status())) << none.status();
    // Nobody listens on port 1; 192.0.2.1 (TEST-NET-1) is not this machine's.
    absl::StatusOr<SocketStream> refused =
        co_await SocketStream::connect(*SocketAddress::parse("127.0.0.1", 1));
    EXPECT_THAT(refused.status().message(), HasSubstr("connect(127.0.0.1:1): Connection refused"));
    absl::StatusOr<SocketListener> foreign =
        SocketListener::listen(*SocketAddress::parse("192.0.2.1", 0));
    EXPECT_THAT(foreign.status().message(), HasSubstr("192.0.2.1"));
  };
  run_here(body());
}

TEST_P(BadInputTest, OversizedAndNegativeLengths) {
  auto body = []() -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    for (int64_t length : {int64_t{0}, int64_t{-1}}) {
      absl::StatusOr<std::string> got = co_await pair->first.read_some(length);
      EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << length << ": " << got.status();
      EXPECT_THAT(got.status().message(), HasSubstr(absl::StrCat("read_some(", length, ")")));
    }
    // "At most max_bytes": a huge one reads what is there, without a huge buffer.
    EXPECT_TRUE((co_await pair->second.write_all("abc")).ok());
    absl::StatusOr<std::string> some =
        co_await pair->first.read_some(std::numeric_limits<int64_t>::max());
    EXPECT_EQ(some.value_or("error"), "abc");
    absl::StatusOr<UdpSocket> udp = UdpSocket::bind(*SocketAddress::parse("127.0.0.1", 0));
    for (int64_t length : {int64_t{0}, int64_t{-1}}) {
      absl::StatusOr<Datagram> got = co_await udp->receive_from(length);
      EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << length << ": " << got.status();
    }
    EXPECT_TRUE((co_await udp->send_to("datagram", udp->local_address())).ok());
    absl::StatusOr<Datagram> datagram =
        co_await udp->receive_from(std::numeric_limits<int64_t>::max());
    EXPECT_EQ(datagram.ok() ? datagram->data : "error", "datagram");
    const std::string too_long(70000, 'x');
    EXPECT_THAT((co_await udp->send_to(too_long, udp->local_address())).message(),
                HasSubstr("Message too long"));
    absl::StatusOr<File> file = co_await File::open("/dev/zero");
    for (const auto& [length, offset] :
         std::vector<std::pair<int64_t, int64_t>>{{-1, 0},
                                                  {1, -1},
                                                  {File::kMaxReadAt + 1, 0},
                                                  {std::numeric_limits<int64_t>::max(), 0}}) {
      absl::StatusOr<std::string> got = co_await file->read_at(length, offset);
      EXPECT_TRUE(absl::IsInvalidArgument(got.status()))
          << length << "@" << offset << ": " << got.status();
    }
  };
  run_here(body());
}

TEST_P(BadInputTest, MisusedPrimitives) {
  EXPECT_THAT(usage_error([] { Semaphore s(5, 2); }), HasSubstr("Semaphore"));
  auto body = []() -> Task<> {
    Semaphore bounded(1, 1);
    EXPECT_THAT(usage_error([&] { bounded.release(); }), HasSubstr("Semaphore::release"));
    Lock lock;
    EXPECT_THAT(usage_error([&] { lock.release(); }), HasSubstr("Lock::release"));
    Condition condition(lock);
    EXPECT_THAT(co_await usage_error_of(condition.wait()), HasSubstr("Condition::wait"));
    std::optional<Pool> closed;
    co_await with_pool([&](Pool& pool) -> Task<> {
      closed = pool;
      co_return;
    });
    EXPECT_THAT(usage_error([&] { closed->spawn(forever()); }), HasSubstr("spawn"));
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<int> handle = pool.spawn([]() -> Task<int> {
        co_await sleep(absl::Milliseconds(1));
        co_return 1;
      });
      EXPECT_THAT(usage_error([&] { (void)handle.result(); }), HasSubstr("TaskHandle::result"));
      co_return;
    });
  };
  run_here(body());
}

TEST_P(BadInputTest, UseFromAnotherThread) {
  // Outside any loop: every call that needs one says so.
  std::string outside;
  std::thread([&] { outside = usage_error([] { (void)now(); }); }).join();
  EXPECT_THAT(outside, HasSubstr("no giambio loop runs on this thread"));
  // Objects of a running loop, touched from another thread while a task waits on them: a
  // UsageError in that thread, and the loop goes on unharmed.
  auto body = []() -> Task<> {
    Event event;
    std::string set_error, cancel_error;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { co_await event.wait(); });
      co_await sleep(absl::Milliseconds(1));  // the waiter is parked
      std::thread([&] {
        set_error = usage_error([&] { event.set(); });
        cancel_error = usage_error([&] { pool.cancel(); });
      }).join();
      event.set();  // from the loop's thread: fine
    });
    EXPECT_THAT(set_error, HasSubstr("does not run this object's loop"));
    EXPECT_THAT(set_error, HasSubstr("LoopToken"));
    EXPECT_THAT(cancel_error, HasSubstr("CancelScope::cancel"));
  };
  run_here(body());
}

GIAMBIO_ON_EVERY_DRIVER(BadInputTest);

}  // namespace
}  // namespace giambio

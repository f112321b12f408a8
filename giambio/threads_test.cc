// Threads in and out of the loop, on both real drivers (and under TSan in CI).
#include "giambio/threads.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::testing::HasSubstr;

class ThreadsTest : public testing::OnEveryDriver {};

// 8 threads post 1000 calls each: every call runs, once, in each thread's order.
TEST_P(ThreadsTest, CallsFromManyThreadsAtOnceAllRunInOrderPerThread) {
  constexpr int kThreads = 8;
  constexpr int kCalls = 1000;
  run_here([]() -> Task<> {
    std::map<int, std::vector<int>> seen;  // loop thread only
    int total = 0;
    Event all_in;
    LoopToken token = current_loop_token();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t, token] {
        for (int i = 0; i < kCalls; ++i) {
          EXPECT_TRUE(token
                          .run_soon([&, t, i] {
                            seen[t].push_back(i);
                            if (++total == kThreads * kCalls) all_in.set();
                          })
                          .ok());
        }
      });
    }
    co_await all_in.wait();
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(total, kThreads * kCalls);
    for (int t = 0; t < kThreads; ++t) {
      EXPECT_EQ(seen[t].size(), size_t{kCalls});
      if (seen[t].size() != size_t{kCalls}) continue;
      for (int i = 0; i < kCalls; ++i) EXPECT_EQ(seen[t][i], i);
    }
  }());
}

TEST_P(ThreadsTest, RunFromAnotherThreadReturnsTheValueOrRethrows) {
  run_here([]() -> Task<> {
    LoopToken token = current_loop_token();
    int value = 0;
    std::string error;
    std::thread other([&, token] {
      value = token.run([]() -> Task<int> {
        co_await sleep(absl::Milliseconds(5));
        co_return 42;
      });
      try {
        token.run([]() -> Task<> {
          co_await checkpoint();
          throw std::runtime_error("boom");
        });
      } catch (const std::runtime_error& e) {
        error = e.what();
      }
    });
    co_await to_thread([&] { other.join(); });
    EXPECT_EQ(value, 42);
    EXPECT_EQ(error, "boom");
    EXPECT_THROW(token.run([]() -> Task<> { co_return; }), UsageError);  // on the loop's thread
  }());
}

// The loop ends while another thread keeps calling: every call either ran or was refused with a
// clear error; a blocking run caught in the middle gets RunFinishedError.
TEST_P(ThreadsTest, TheLoopEndingWhileCallsAreInFlightLosesNone) {
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  int ran = 0;
  std::string refusal;
  std::string finished;
  std::thread caller;
  std::thread blocker;
  run_here([&]() -> Task<> {
    LoopToken token = current_loop_token();
    caller = std::thread([&, token] {
      while (true) {
        absl::Status posted = token.run_soon([&] { ++ran; });
        if (!posted.ok()) {
          refusal = std::string(posted.message());
          ++refused;
          return;
        }
        ++accepted;
      }
    });
    blocker = std::thread([&, token] {
      try {
        token.run([]() -> Task<> { co_await sleep(absl::Hours(1)); });
      } catch (const RunFinishedError& e) {
        finished = e.what();
      }
    });
    co_await sleep(absl::Milliseconds(30));
  }());
  caller.join();
  blocker.join();
  EXPECT_EQ(refused.load(), 1);
  EXPECT_EQ(refusal, "LoopToken::run_soon: the loop has ended");
  EXPECT_EQ(ran, accepted.load()) << "a call was accepted and never ran";
  EXPECT_GT(ran, 0);
  EXPECT_THAT(finished, HasSubstr("LoopToken::run:"));
}

// A live token means a call may still come: the loop waits for it instead of reporting a
// deadlock. Without one, the deadlock is reported as before.
TEST_P(ThreadsTest, ALiveTokenKeepsTheLoopWaitingAndNoTokenIsADeadlockAgain) {
  run_here([]() -> Task<> {
    Event poked;
    LoopToken token = current_loop_token();
    std::thread poker([&, token] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      EXPECT_TRUE(token.run_soon([&] { poked.set(); }).ok());
    });
    co_await poked.wait();
    poker.join();
  }());
  EXPECT_THROW(run_here([]() -> Task<> {
                 { LoopToken dropped = current_loop_token(); }
                 Event never;
                 co_await never.wait();
               }()),
               DeadlockError);
}

TEST_P(ThreadsTest, ToThreadReturnsTheValueOrRethrowsAndRunsElsewhere) {
  run_here([]() -> Task<> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id worker;
    const int value = co_await to_thread([&] {
      worker = std::this_thread::get_id();
      return 7;
    });
    EXPECT_EQ(value, 7);
    EXPECT_NE(worker, loop_thread);
    bool thrown = false;
    try {
      co_await to_thread([] { throw std::logic_error("from the thread"); });
    } catch (const std::logic_error& e) {
      thrown = std::string(e.what()) == "from the thread";
    }
    EXPECT_TRUE(thrown);
    EXPECT_EQ(default_thread_limiter().total_tokens(), 40u);
  }());
}

// 10 callers through a limiter of 2: never more than 2 in threads at once, all 10 done.
TEST_P(ThreadsTest, ALimiterOfTwoBoundsTenCallers) {
  run_here([]() -> Task<> {
    CapacityLimiter limiter(2);
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    int done = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 10; ++i) {
        pool.spawn([&]() -> Task<> {
          ToThreadOptions options;
          options.limiter = &limiter;
          co_await to_thread(
              [&] {
                const int now = ++running;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
                --running;
              },
              options);
          ++done;
        });
      }
      co_return;
    });
    EXPECT_EQ(done, 10);
    EXPECT_EQ(most.load(), 2);
  }());
}

// Cancelled: by default the call waits for the thread and keeps its value; abandoned, it stops
// waiting at once, and the limiter's token comes back only when the thread has finished.
TEST_P(ThreadsTest, CancellationWaitsForTheThreadUnlessTheCallIsAbandoned) {
  run_here([]() -> Task<> {
    std::atomic<bool> release{false};
    auto slow = [&] {
      while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return 5;
    };
    CapacityLimiter limiter(1);
    ToThreadOptions abandon;
    abandon.limiter = &limiter;
    abandon.abandon_on_cancel = true;
    const absl::Time start = now();
    std::optional<int> abandoned =
        co_await skip_after(absl::Milliseconds(20), to_thread(slow, abandon));
    EXPECT_FALSE(abandoned.has_value());
    EXPECT_LT(now() - start, absl::Seconds(2));
    EXPECT_EQ(limiter.borrowed_tokens(), 1u);  // the thread still runs
    release = true;
    while (limiter.borrowed_tokens() != 0) co_await sleep(absl::Milliseconds(1));

    release = false;
    ToThreadOptions wait;
    wait.limiter = &limiter;
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      release = true;
    });
    const absl::Time waited_from = now();
    std::optional<int> waited = co_await skip_after(absl::Milliseconds(20), to_thread(slow, wait));
    // The call waited for the thread (~100 ms) and kept its value: nothing is lost.
    EXPECT_GE(now() - waited_from, absl::Milliseconds(90));
    EXPECT_EQ(waited, 5);
    EXPECT_EQ(limiter.borrowed_tokens(), 0u);
    releaser.join();
  }());
}

// Code in the thread calls back into the loop.
TEST_P(ThreadsTest, AThreadCallsBackIntoTheLoop) {
  run_here([]() -> Task<> {
    int on_the_loop = 0;
    LoopToken token = current_loop_token();
    // Named: a closure that holds a LoopToken must not be a temporary inside co_await (GCC 12,
    // docs/architecture.md "Lifetimes in coroutine code").
    auto call_back = [&, token] {
      return token.run([&]() -> Task<int> {
        ++on_the_loop;
        co_return 11;
      });
    };
    const int got = co_await to_thread(call_back);
    EXPECT_EQ(got, 11);
    EXPECT_EQ(on_the_loop, 1);
  }());
}

GIAMBIO_ON_EVERY_DRIVER(ThreadsTest);

// ---- Several loops ----

// On io_uring and epoll, run_loops: a thread per loop. On the virtual clock,
// run_loops_interleaved: every loop a lane of one loop on this thread. The behaviour is the same.
class LoopsTest : public testing::OnEveryDriver {
 protected:
  bool interleaved() const { return GetParam() == DriverKind::kVirtual; }
  void run_group(size_t count, LoopsMain main) {
    LoopsOptions options;
    options.count = count;
    if (!interleaved()) {
      options.driver = GetParam();
      run_loops(options, std::move(main));
      return;
    }
    testing::run_virtual(run_loops_interleaved(options, std::move(main)));
  }
};

// Each loop asks the other for its thread's id: values cross both ways, on two threads.
TEST_P(LoopsTest, ATaskOnOneLoopRunsATaskOnAnotherAndGetsItsValue) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  std::vector<std::thread::id> asked(2);
  std::vector<std::thread::id> answered(2);
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    asked[i] = std::this_thread::get_id();
    answered[i] = co_await submit_to(group[1 - i], []() -> Task<std::thread::id> {
      co_await checkpoint();
      co_return std::this_thread::get_id();
    });
  });
  EXPECT_NE(asked[0], asked[1]);
  EXPECT_EQ(answered[0], asked[1]);
  EXPECT_EQ(answered[1], asked[0]);
}

TEST_P(LoopsTest, ARemoteErrorComesBackAndASubmitToOwnLoopIsRefused) {
  std::string error;
  bool refused = false;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    try {
      co_await submit_to(group[1], []() -> Task<> {
        co_await checkpoint();
        throw std::logic_error("remote failure");
      });
    } catch (const std::logic_error& e) {
      error = e.what();
    }
    try {
      co_await submit_to(group[0], []() -> Task<> { co_return; });
    } catch (const UsageError&) {
      refused = true;
    }
  });
  EXPECT_EQ(error, "remote failure");
  EXPECT_TRUE(refused);
}

// Cancelling the awaiting task cancels the remote one, and waits until it has ended.
TEST_P(LoopsTest, CancellingTheCallerCancelsTheRemoteTaskAndWaitsForIt) {
  std::atomic<bool> remote_cancelled{false};
  bool remote_done_before_return = false;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    auto forever = [&]() -> Task<> {
      try {
        co_await sleep(absl::Hours(1));
      } catch (const Cancelled&) {
        remote_cancelled = true;
        throw;
      }
    };
    const bool ended = co_await skip_after(absl::Milliseconds(20), submit_to(group[1], forever));
    EXPECT_FALSE(ended);
    remote_done_before_return = remote_cancelled.load();
  });
  EXPECT_TRUE(remote_done_before_return);
}

// The other way: a target loop that has ended (here a loop of its own, on another thread).
TEST_P(LoopsTest, ATargetLoopThatEndedIsARunFinishedError) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  std::optional<LoopToken> ended_loop;
  std::thread other([&] {
    RunOptions run_options;
    run_options.driver = GetParam();
    run(
        [](std::optional<LoopToken>* token) -> Task<> {
          token->emplace(current_loop_token());
          co_return;
        }(&ended_loop),
        std::move(run_options));
  });
  other.join();
  std::string error;
  run_here([&]() -> Task<> {
    try {
      co_await submit_to(*ended_loop, []() -> Task<> { co_return; });
    } catch (const RunFinishedError& e) {
      error = e.what();
    }
  }());
  EXPECT_THAT(error, HasSubstr("the loop has ended"));
}

// One loop's main fails: every other loop's main is cancelled and the error comes out.
TEST_P(LoopsTest, AFailingLoopCancelsTheOthersAndItsErrorComesOut) {
  std::vector<std::string> reasons(3);
  const absl::Time start = absl::Now();
  try {
    run_group(3, [&](const LoopGroup&, size_t i) -> Task<> {
      if (i == 2) {
        co_await sleep(absl::Milliseconds(20));
        throw std::runtime_error("disk on fire");
      }
      try {
        co_await sleep(absl::Hours(1));
      } catch (const Cancelled& cancelled) {
        reasons[i] = cancelled.what();
        throw;
      }
    });
    ADD_FAILURE() << "run_loops returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_THAT(reasons[0], HasSubstr("loop 2 failed: disk on fire"));
  EXPECT_THAT(reasons[1], HasSubstr("loop 2 failed: disk on fire"));
}

// A stream made on one loop, used and closed on another: the other loop reads and answers, the
// peer then sees the end of the stream, and a socket the first loop makes next (the number may
// be reused) carries its own bytes.
TEST_P(LoopsTest, AStreamClosedOnAnotherLoopIsClosed) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  absl::StatusOr<size_t> end;
  std::string fresh;
  std::string answer;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    SocketStream& near = pair->first;
    SocketStream far = std::move(pair->second);
    StreamWriteAll question = near.write_all("hi");
    EXPECT_TRUE((co_await question).ok());
    co_await submit_to(group[1], [&far]() -> Task<> {
      char got[16];
      absl::StatusOr<size_t> n = co_await with_timeout(absl::Seconds(2), far.read(got));
      EXPECT_EQ(std::string(got, n.value_or(0)), "hi");
      absl::Status back = co_await far.write_all("yes");
      EXPECT_TRUE(back.ok());
      EXPECT_TRUE(far.close().ok());
    });
    char reply[16];
    absl::StatusOr<size_t> n = co_await with_timeout(absl::Seconds(2), near.read(reply));
    answer.assign(reply, n.value_or(0));
    char buffer[16];
    end = co_await with_timeout(absl::Seconds(2), near.read(buffer));
    absl::StatusOr<std::pair<SocketStream, SocketStream>> next = socket_pair();
    StreamWriteAll hello = next->first.write_all("fresh");
    EXPECT_TRUE((co_await hello).ok());
    n = co_await with_timeout(absl::Seconds(2), next->second.read(buffer));
    if (n.ok()) fresh.assign(buffer, *n);
  });
  EXPECT_EQ(answer, "yes");
  EXPECT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end.value_or(99), 0u);
  EXPECT_EQ(fresh, "fresh");
}

// The same for a listener with an accept armed on the first loop: once it is closed on the
// other loop, nobody listens there (the first ring's armed accept would keep taking connections).
TEST_P(LoopsTest, AListenerClosedOnAnotherLoopStopsListening) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  absl::Status connected;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    const SocketAddress address = listener->local_address();
    // An accept that times out leaves the ring's accept request armed on the listener.
    (void)co_await skip_after(absl::Milliseconds(5), listener->accept());
    co_await submit_to(group[1], [&listener]() -> Task<> {
      EXPECT_TRUE(listener->close().ok());
      co_return;
    });
    co_await sleep(absl::Milliseconds(20));  // the first ring has let go by now
    absl::StatusOr<SocketStream> client =
        co_await with_timeout(absl::Seconds(2), SocketStream::connect(address));
    connected = client.status();
  });
  EXPECT_FALSE(connected.ok());
  EXPECT_THAT(connected.message(), HasSubstr("refused"));
}

// The number of a descriptor closed on another thread, reused on the loop before that loop has
// heard of the close (it is busy meanwhile): the new socket works, whatever the loop's driver
// remembered of the old one (a registered slot, an epoll registration).
TEST_P(LoopsTest, ANumberClosedOnAnotherThreadCanBeReusedAtOnce) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  std::string got;
  bool reused = false;
  run_group(1, [&](const LoopGroup&, size_t) -> Task<> {
    absl::StatusOr<std::pair<SocketStream, SocketStream>> pair = socket_pair();
    SocketStream far = std::move(pair->second);
    const int far_fd = far.fd();
    char buffer[16];
    // A wait on it first, so the driver has registered it for waiting.
    (void)co_await with_timeout(absl::Milliseconds(5), far.read(buffer));
    // Closed on a thread of its own while the loop waits for it (and so hears nothing).
    std::thread closer([&far] { EXPECT_TRUE(far.close().ok()); });
    closer.join();
    absl::StatusOr<std::pair<SocketStream, SocketStream>> next = socket_pair();
    reused = next->first.fd() == far_fd || next->second.fd() == far_fd;
    // Both ends wait for their bytes (a wait is where a stale registration would show).
    char first[16];
    char second[16];
    absl::StatusOr<size_t> at_first;
    absl::StatusOr<size_t> at_second;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        at_second = co_await with_timeout(absl::Seconds(2), next->second.read(second));
      });
      pool.spawn([&]() -> Task<> {
        at_first = co_await with_timeout(absl::Seconds(2), next->first.read(first));
      });
      co_await sleep(absl::Milliseconds(5));
      StreamWriteAll hello = next->first.write_all("fresh");
      EXPECT_TRUE((co_await hello).ok());
      StreamWriteAll back = next->second.write_all("back");
      EXPECT_TRUE((co_await back).ok());
    });
    got = std::string(second, at_second.value_or(0)) + std::string(first, at_first.value_or(0));
  });
  EXPECT_TRUE(reused) << "the test needs the number reused";
  EXPECT_EQ(got, "freshback");
}

// The same for a number far above the first few thousand (a big server's connections), which
// the holder registry keeps in a chunk of its own (internal/file_holders.h). The registry used to
// stop at 16,384: on epoll the number's old registration, which the kernel dropped with the
// file, was taken for the new file's, and the wait below never woke.
TEST_P(LoopsTest, AHighNumberClosedOnAnotherThreadCanBeReusedAtOnce) {
  if (interleaved()) GTEST_SKIP() << "threads and real descriptors: run_loops only";
  constexpr int kHigh = 17000;  // above 16,384, under this machine's hard limit of 20,000
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  if (!testing::renumber_pair(fds, kHigh)) GTEST_SKIP() << "the descriptor limit is too low";
  std::string got;
  run_group(1, [&](const LoopGroup&, size_t) -> Task<> {
    AsyncStream far(fds[0]);  // numbered kHigh
    AsyncStream near(fds[1]);
    char buffer[16];
    // A wait on it first, so the driver has registered it for waiting.
    (void)co_await with_timeout(absl::Milliseconds(5), far.read(buffer));
    std::thread closer([&far] { EXPECT_TRUE(far.close().ok()); });
    closer.join();
    // A new file with the old number.
    int next[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, next), 0);
    EXPECT_EQ(dup3(next[0], kHigh, O_CLOEXEC), kHigh);
    ::close(next[0]);
    AsyncStream fresh(kHigh);
    AsyncStream peer(next[1]);
    absl::StatusOr<size_t> at_fresh;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        at_fresh = co_await with_timeout(absl::Seconds(2), fresh.read(buffer));
      });
      co_await sleep(absl::Milliseconds(5));
      StreamWriteAll hello = peer.write_all("fresh");
      EXPECT_TRUE((co_await hello).ok());
    });
    got = std::string(buffer, at_fresh.value_or(0));
  });
  EXPECT_EQ(got, "fresh");
}

// Two loops listen on one port with SO_REUSEPORT; a third runs 1000 clients (100 at a time).
// Every client gets its bytes back, and the kernel spreads the connections over both loops.
TEST_P(LoopsTest, ServeTcpScalesAcrossLoopsWithReusePort) {
  if (interleaved()) GTEST_SKIP() << "threads and real sockets: run_loops only";
  constexpr int kClients = 1000;
  std::vector<int> accepted(2, 0);  // loop i's thread only
  std::vector<Event*> stop(2, nullptr);
  Event* listening = nullptr;
  SocketAddress address = *SocketAddress::parse("127.0.0.1", 0);
  int echoed = 0;
  run_group(3, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i < 2) {
      Event shutdown;
      stop[i] = &shutdown;
      Event bound;
      if (i == 0) listening = &bound;
      ListenOptions reuse;
      reuse.reuse_port = true;
      absl::StatusOr<SocketListener> listener;
      if (i == 0) {
        listener = SocketListener::listen(address, reuse);
        if (listener.ok()) address = listener->local_address();
        bound.set();
      } else {
        const SocketAddress where = co_await submit_to(group[0], [&]() -> Task<SocketAddress> {
          co_await listening->wait();
          co_return address;
        });
        listener = SocketListener::listen(where, reuse);
      }
      EXPECT_TRUE(listener.ok()) << listener.status();
      if (!listener.ok()) co_return;
      ServeOptions serve_options;
      serve_options.shutdown = &shutdown;
      auto echo_once = [&accepted, i](SocketStream stream) -> Task<> {
        ++accepted[i];
        char buffer[64];
        absl::StatusOr<size_t> n = co_await stream.read(buffer);
        if (n.ok() && *n > 0) (void)co_await stream.write_all(std::string_view(buffer, *n));
      };
      absl::Status served = co_await serve_tcp(*listener, echo_once, serve_options);
      EXPECT_TRUE(served.ok()) << served;
      co_return;
    }
    const SocketAddress target = co_await submit_to(group[0], [&]() -> Task<SocketAddress> {
      while (listening == nullptr) co_await sleep(absl::Milliseconds(1));
      co_await listening->wait();
      co_return address;
    });
    co_await submit_to(group[1], [&]() -> Task<> {  // loop 1 listens too (it asked loop 0 first)
      while (stop[1] == nullptr) co_await sleep(absl::Milliseconds(1));
      co_await sleep(absl::Milliseconds(20));
    });
    for (int round = 0; round < kClients / 100; ++round) {
      co_await with_pool([&](Pool& clients) -> Task<> {
        for (int c = 0; c < 100; ++c) {
          clients.spawn([&]() -> Task<> {
            absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(target);
            if (!stream.ok()) co_return;
            (void)co_await stream->write_all("ping");
            absl::StatusOr<std::string> back = co_await stream->read_some(64);
            if (back.ok() && *back == "ping") ++echoed;
          });
        }
        co_return;
      });
    }
    for (size_t j = 0; j < 2; ++j) {
      co_await submit_to(group[j], [&stop, j]() -> Task<> {
        stop[j]->set();
        co_return;
      });
    }
  });
  EXPECT_EQ(echoed, kClients);
  EXPECT_EQ(accepted[0] + accepted[1], kClients);
  EXPECT_GT(accepted[0], 0);
  EXPECT_GT(accepted[1], 0);
}

// A channel between two loops: 10,000 items through a buffer of 8 arrive in order, then the end
// of the channel; a sender whose receiver closed gets a broken channel.
TEST_P(LoopsTest, ACrossLoopChannelCarriesItemsInOrderBetweenLoops) {
  auto [tx, rx] = open_cross_loop_channel<int>(8);
  std::vector<int> received;
  absl::Status end;
  run_group(2, [&](const LoopGroup&, size_t i) -> Task<> {
    if (i == 0) {
      for (int n = 0; n < 10000; ++n) EXPECT_TRUE((co_await tx.send(n)).ok());
      tx.close();
      co_return;
    }
    while (true) {
      absl::StatusOr<int> item = co_await rx.receive();
      if (!item.ok()) {
        end = item.status();
        break;
      }
      received.push_back(*item);
    }
  });
  ASSERT_EQ(received.size(), 10000u);
  for (int n = 0; n < 10000; ++n) EXPECT_EQ(received[n], n);
  EXPECT_TRUE(is_end_of_channel(end)) << end;

  auto [tx2, rx2] = open_cross_loop_channel<std::string>(1);
  absl::Status broken;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i == 1) {
      absl::StatusOr<std::string> first = co_await rx2.receive();
      EXPECT_EQ(first.value_or(""), "one");
      rx2.close();
      co_return;
    }
    EXPECT_TRUE((co_await tx2.send("one")).ok());
    co_await submit_to(group[1], []() -> Task<> { co_return; });  // let loop 1 close first
    while (broken.ok()) {
      broken = co_await tx2.send("more");
      if (broken.ok()) co_await sleep(absl::Milliseconds(1));
    }
  });
  EXPECT_TRUE(is_broken(broken)) << broken;
}

TEST_P(LoopsTest, ACrossLoopChannelsClosedHandlesAndBadCapacityAreRefused) {
  EXPECT_THROW(open_cross_loop_channel<int>(0), UsageError);
  run_group(1, [](const LoopGroup&, size_t) -> Task<> {
    auto [tx, rx] = open_cross_loop_channel<int>(2);
    tx.close();
    absl::Status sent = co_await tx.send(1);
    EXPECT_TRUE(is_closed(sent)) << sent;
    rx.close();
    absl::StatusOr<int> got = co_await rx.receive();
    EXPECT_TRUE(is_closed(got.status())) << got.status();

    // Closing a handle wakes the operation waiting on it.
    auto [tx2, rx2] = open_cross_loop_channel<int>(1);
    EXPECT_TRUE((co_await tx2.send(1)).ok());  // the buffer is full now
    absl::Status waiting_send;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { waiting_send = co_await tx2.send(2); });
      co_await wait_all_tasks_blocked();
      tx2.close();
    });
    EXPECT_TRUE(is_closed(waiting_send)) << waiting_send;
  });
}

// An end stays on the loop of its first operation: used from another loop, a UsageError.
TEST_P(LoopsTest, ACrossLoopChannelEndUsedFromAnotherLoopIsRefused) {
  auto [tx, rx] = open_cross_loop_channel<int>(4);
  std::string refused;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i != 0) co_return;
    EXPECT_TRUE((co_await tx.send(1)).ok());
    co_await submit_to(group[1], [&]() -> Task<> {
      try {
        (void)co_await tx.send(2);
      } catch (const UsageError& e) {
        refused = e.what();
      }
    });
  });
  EXPECT_THAT(refused, HasSubstr("this end of the channel belongs to another loop"));
}

// A cancelled receive takes nothing: the item sent later is received by the next receive.
TEST_P(LoopsTest, ACancelledCrossLoopReceiveTakesNothing) {
  auto [tx, rx] = open_cross_loop_channel<int>(4);
  std::optional<absl::StatusOr<int>> first;
  int second = 0;
  run_group(2, [&](const LoopGroup& group, size_t i) -> Task<> {
    if (i == 0) {
      first = co_await skip_after(absl::Milliseconds(10), rx.receive());
      co_await submit_to(group[1], [&]() -> Task<> { EXPECT_TRUE((co_await tx.send(7)).ok()); });
      absl::StatusOr<int> item = co_await rx.receive();
      second = item.value_or(-1);
    }
    co_return;
  });
  EXPECT_FALSE(first.has_value());
  EXPECT_EQ(second, 7);
}

INSTANTIATE_TEST_SUITE_P(Drivers, LoopsTest,
                         ::testing::Values(DriverKind::kUring, DriverKind::kEpoll,
                                           DriverKind::kVirtual),
                         [](const ::testing::TestParamInfo<DriverKind>& info) -> std::string {
                           return info.param == DriverKind::kVirtual
                                      ? "interleaved"
                                      : testing::driver_test_name(info);
                         });

TEST(LoopsTest, ZeroLoopsIsAUsageError) {
  LoopsOptions none;
  none.count = 0;
  EXPECT_THROW(run_loops(none, [](const LoopGroup&, size_t) -> Task<> { co_return; }), UsageError);
}

// On the virtual clock there are no threads: to_thread runs inline, tokens are refused.
TEST(ThreadsVirtualTest, ToThreadRunsInlineAndTokensAreRefused) {
  testing::run_virtual([]() -> Task<> {
    const std::thread::id loop_thread = std::this_thread::get_id();
    std::thread::id ran_on;
    const int value = co_await to_thread([&] {
      ran_on = std::this_thread::get_id();
      return 3;
    });
    EXPECT_EQ(value, 3);
    EXPECT_EQ(ran_on, loop_thread);
    try {
      current_loop_token();
      ADD_FAILURE() << "a token on the virtual clock";
    } catch (const UsageError& e) {
      EXPECT_THAT(e.what(), HasSubstr("current_loop_token: the virtual driver runs no threads"));
    }
  }());
}

// Interleaved loops are lanes of one loop: a task's token names its own lane, a guest runs in the
// lane it was sent to, and cancellation crosses from one lane to another.
TEST(InterleavedLoopsTest, EachLoopIsALaneWithItsOwnTokenAndGuests) {
  std::vector<std::string> refused;
  int pinged_back = 0;
  std::string remote_cancelled;
  LoopsOptions options;
  options.count = 3;
  testing::run_virtual(
      run_loops_interleaved(options, [&](const LoopGroup& group, size_t i) -> Task<> {
        auto refuse = [&](size_t target) -> Task<> {
          try {
            co_await submit_to(group[target], []() -> Task<> { co_return; });
          } catch (const UsageError& e) {
            refused.push_back(e.what());
          }
        };
        co_await refuse(i);  // its own lane
        if (i != 0) co_return;
        co_await submit_to(group[1], [&]() -> Task<> {
          co_await refuse(1);  // a guest on lane 1 is in lane 1
          co_await submit_to(group[0], [&]() -> Task<> {
            ++pinged_back;
            co_return;
          });
        });
        // Cancelling the caller on lane 0 cancels its guest on lane 2.
        co_await with_pool([&](Pool& pool) -> Task<> {
          pool.spawn([&]() -> Task<> {
            try {
              co_await submit_to(group[2], [&]() -> Task<> {
                try {
                  co_await sleep(absl::Hours(1));
                } catch (const Cancelled& cancelled) {
                  remote_cancelled = cancelled.what();
                  throw;
                }
              });
            } catch (const RunFinishedError&) {
            }
          });
          co_await sleep(absl::Seconds(1));
          pool.cancel();
        });
      }));
  ASSERT_EQ(refused.size(), 4u);
  for (const std::string& why : refused) EXPECT_THAT(why, HasSubstr("this task's own loop"));
  EXPECT_EQ(pinged_back, 1);
  EXPECT_THAT(remote_cancelled, HasSubstr("submit_to: the caller was cancelled"));
}

TEST(InterleavedLoopsTest, BadOptionsAndCallsThatNeedThreadsAreRefused) {
  auto refused = [](const LoopsOptions& options) -> std::string {
    try {
      testing::run_virtual(
          run_loops_interleaved(options, [](const LoopGroup&, size_t) -> Task<> { co_return; }));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "accepted";
  };
  LoopsOptions none;
  none.count = 0;
  EXPECT_THAT(refused(none), HasSubstr("run_loops_interleaved: count 0"));
  LoopsOptions driver;
  driver.driver = DriverKind::kEpoll;
  EXPECT_THAT(refused(driver), HasSubstr("'driver' and 'pin_to_cores' do not apply"));
  LoopsOptions pinned;
  pinned.pin_to_cores = true;
  EXPECT_THAT(refused(pinned), HasSubstr("'driver' and 'pin_to_cores' do not apply"));

  RunOptions epoll;
  epoll.driver = DriverKind::kEpoll;
  try {
    run(run_loops_interleaved(LoopsOptions{},
                              [](const LoopGroup&, size_t) -> Task<> { co_return; }),
        std::move(epoll));
    ADD_FAILURE() << "interleaved loops on a driver that runs threads";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the epoll driver runs threads: use run_loops"));
  }

  // A lane's token: run() would block the one thread; another thread cannot post to it.
  std::string blocking;
  std::string other_thread;
  testing::run_virtual(
      run_loops_interleaved(LoopsOptions{}, [&](const LoopGroup& group, size_t i) -> Task<> {
        if (i != 0) co_return;
        try {
          group[1].run([]() -> Task<int> { co_return 1; });
        } catch (const UsageError& e) {
          blocking = e.what();
        }
        LoopToken token = group[1];
        std::thread([&other_thread, token] {
          try {
            (void)token.run_soon([] {});
          } catch (const UsageError& e) {
            other_thread = e.what();
          }
        }).join();
        co_return;
      }));
  EXPECT_THAT(blocking, HasSubstr("run_loops_interleaved's loops, which all share it"));
  EXPECT_THAT(other_thread, HasSubstr("called from another thread"));
}

// The lanes' tasks interleave in the order the schedule seed draws: one seed, one order.
TEST(InterleavedLoopsTest, TheSeedDecidesTheInterleaving) {
  auto order = [](uint64_t seed) {
    std::string steps;
    LoopsOptions options;
    options.count = 3;
    testing::run_virtual(
        run_loops_interleaved(options,
                              [&steps](const LoopGroup& group, size_t i) -> Task<> {
                                for (int step = 0; step < 4; ++step) {
                                  steps += static_cast<char>('a' + i);
                                  co_await submit_to(group[(i + 1) % 3], [&steps, i]() -> Task<> {
                                    steps += static_cast<char>('A' + i);
                                    co_return;
                                  });
                                }
                              }),
        seed);
    return steps;
  };
  EXPECT_EQ(order(1), order(1));
  std::set<std::string> orders;
  for (uint64_t seed = 1; seed <= 8; ++seed) orders.insert(order(seed));
  EXPECT_GT(orders.size(), 1u);
  EXPECT_EQ(order(1).size(), 24u);
}

}  // namespace
}  // namespace giambio

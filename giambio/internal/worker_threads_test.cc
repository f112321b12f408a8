#include "giambio/internal/worker_threads.h"

#include <netinet/in.h>
#include <poll.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace giambio::internal {
namespace {

class TestOperation : public Operation {
 public:
  TestOperation(OpKind kind, const char* host) : Operation(kind, -1) {
    path = host;
    buffer = addresses;
    length = 4;
  }
  void complete(int64_t result) override { results.push_back(result); }
  sockaddr_storage addresses[4] = {};
  std::vector<int64_t> results;
};

// A stand-in resolver that blocks until released, like getaddrinfo waiting for a name server.
// Its state is shared with the lookups, which may outlive the test's Gate (abandoned ones).
class Gate {
 public:
  WorkerThreads::Lookup lookup() {
    return [shared = shared_](const std::string&, int, size_t, std::vector<sockaddr_storage>& out) {
      std::unique_lock<std::mutex> lock(shared->mutex);
      ++shared->entered;
      shared->changed.notify_all();
      shared->changed.wait(lock, [&] { return shared->open; });
      sockaddr_storage address{};
      address.ss_family = AF_INET;
      out.push_back(address);
      return int64_t{1};
    };
  }
  void wait_entered(int count) {
    std::unique_lock<std::mutex> lock(shared_->mutex);
    shared_->changed.wait(lock, [&] { return shared_->entered >= count; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->open = true;
    shared_->changed.notify_all();
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable changed;
    int entered = 0;
    bool open = false;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

std::vector<std::pair<Operation*, int64_t>> wait_for_completions(WorkerThreads& workers,
                                                                 size_t count) {
  std::vector<std::pair<Operation*, int64_t>> done;
  while (done.size() < count) {
    pollfd ready{workers.event_fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&ready, 1, 10'000), 1) << "no completion within 10 s";
    workers.take_completed(done);
  }
  return done;
}

TEST(WorkerThreads, ALookupFillsTheOperationsAddresses) {
  WorkerThreads workers;
  TestOperation op(OpKind::kResolve, "localhost");
  op.flags = AF_INET;
  workers.submit(op);
  EXPECT_EQ(workers.outstanding(), 1u);
  const auto done = wait_for_completions(workers, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].first, &op);
  ASSERT_GE(done[0].second, 1);
  const auto* address = reinterpret_cast<const sockaddr_in*>(&op.addresses[0]);
  EXPECT_EQ(address->sin_family, AF_INET);
  EXPECT_EQ(ntohl(address->sin_addr.s_addr), INADDR_LOOPBACK);
  EXPECT_EQ(workers.outstanding(), 0u);
}

TEST(WorkerThreads, ARunningLookupIsAbandonedAndItsResultDropped) {
  Gate gate;
  WorkerThreads workers(gate.lookup());
  TestOperation op(OpKind::kResolve, "slow.example");
  workers.submit(op);
  gate.wait_entered(1);
  // The thread is inside the lookup: the operation is free at once all the same.
  EXPECT_TRUE(workers.withdraw(op));
  EXPECT_EQ(workers.outstanding(), 0u);
  workers.wait_until_idle();  // does not wait for the abandoned lookup
  gate.open();
  // A later lookup completes; the abandoned one never shows up, and never wrote to op.
  TestOperation next(OpKind::kResolve, "next.example");
  workers.submit(next);
  const auto done = wait_for_completions(workers, 1);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].first, &next);
  EXPECT_EQ(op.addresses[0].ss_family, 0);
}

TEST(WorkerThreads, AQueuedOperationIsWithdrawn) {
  Gate gate;
  WorkerThreads workers(gate.lookup());
  std::vector<std::unique_ptr<TestOperation>> busy;
  for (size_t i = 0; i < WorkerThreads::kThreadsMax; ++i) {
    busy.push_back(std::make_unique<TestOperation>(OpKind::kResolve, "busy.example"));
    workers.submit(*busy.back());
  }
  gate.wait_entered(WorkerThreads::kThreadsMax);
  TestOperation queued(OpKind::kResolve, "queued.example");
  workers.submit(queued);
  EXPECT_EQ(workers.outstanding(), WorkerThreads::kThreadsMax + 1);
  EXPECT_TRUE(workers.withdraw(queued));
  EXPECT_FALSE(workers.withdraw(queued));  // already gone
  gate.open();
  const auto done = wait_for_completions(workers, WorkerThreads::kThreadsMax);
  EXPECT_EQ(done.size(), WorkerThreads::kThreadsMax);
  for (const auto& [op, result] : done) EXPECT_NE(op, &queued);
  EXPECT_EQ(workers.outstanding(), 0u);
}

TEST(WorkerThreads, TheObjectMayGoWhileAnAbandonedLookupRuns) {
  Gate gate;
  {
    WorkerThreads workers(gate.lookup());
    TestOperation op(OpKind::kResolve, "slow.example");
    workers.submit(op);
    gate.wait_entered(1);
    EXPECT_TRUE(workers.withdraw(op));
  }             // destroyed with the lookup still inside the gate
  gate.open();  // the thread finishes into the shared state and exits (ASan/TSan watch this)
}

}  // namespace
}  // namespace giambio::internal

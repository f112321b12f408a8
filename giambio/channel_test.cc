#include "giambio/channel.h"

#include <memory>
#include <string>
#include <vector>

#include "giambio/cancel_scope.h"
#include "giambio/pool.h"
#include "giambio/test_util.h"
#include "giambio/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

using ::giambio::testing::elapsed;
using ::giambio::testing::EventLog;
using ::giambio::testing::run_virtual;
using ::testing::ElementsAre;

// giambio's channel example: a producer and a consumer; the consumer stops at end of channel.
TEST(ChannelTest, ProducerConsumerUntilEndOfChannel) {
  auto body = []() -> Task<std::vector<int>> {
    auto [tx, rx] = open_memory_channel<int>(2);
    std::vector<int> received;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&, tx = std::move(tx)]() mutable -> Task<> {
        for (int i = 0; i < 5; ++i) EXPECT_TRUE((co_await tx.send(i)).ok());
        tx.close();
      });
      while (true) {
        absl::StatusOr<int> v = co_await rx.receive();
        if (!v.ok()) {
          EXPECT_TRUE(is_end_of_channel(v.status())) << v.status();
          break;
        }
        received.push_back(*v);
      }
    });
    co_return received;
  };
  EXPECT_THAT(run_virtual(body()), ElementsAre(0, 1, 2, 3, 4));
}

TEST(ChannelTest, RendezvousSendWaitsForAReceiver) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<std::string>(0);
    absl::Duration sent_at;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        EXPECT_TRUE((co_await tx.send("hi")).ok());
        sent_at = elapsed();
      });
      co_await sleep(absl::Seconds(3));
      EXPECT_TRUE(is_would_block(tx.try_send("no room")));
      absl::StatusOr<std::string> v = co_await rx.receive();
      EXPECT_EQ(v.value_or(""), "hi");
    });
    EXPECT_EQ(sent_at, absl::Seconds(3));
  };
  run_virtual(body());
}

TEST(ChannelTest, BufferedSendWaitsOnlyWhenFull) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(2);
    EXPECT_TRUE((co_await tx.send(1)).ok());
    EXPECT_TRUE((co_await tx.send(2)).ok());
    EXPECT_TRUE(is_would_block(tx.try_send(3)));
    EXPECT_EQ(rx.buffered(), 2u);
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { EXPECT_TRUE((co_await tx.send(3)).ok()); });
      co_await sleep(absl::Seconds(1));
      // The blocked sender's item moves into the buffer as soon as there is room, in order.
      EXPECT_EQ(rx.try_receive().value_or(0), 1);
      EXPECT_EQ(rx.try_receive().value_or(0), 2);
      EXPECT_EQ(rx.try_receive().value_or(0), 3);
      EXPECT_TRUE(is_would_block(rx.try_receive().status()));
    });
  };
  run_virtual(body());
}

TEST(ChannelTest, UnboundedNeverBlocksTheSender) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(kUnbounded);
    for (int i = 0; i < 10000; ++i) EXPECT_TRUE(tx.try_send(i).ok());
    EXPECT_EQ(rx.buffered(), 10000u);
    EXPECT_EQ(rx.try_receive().value_or(-1), 0);
    co_return;
  };
  run_virtual(body());
}

TEST(ChannelTest, FifoAmongWaitingReceivers) {
  EventLog log;
  auto body = [&]() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (std::string name : {"a", "b", "c"}) {
        pool.spawn([&, name]() -> Task<> {
          absl::StatusOr<int> v = co_await rx.receive();
          log.add(name + std::to_string(v.value_or(-1)));
        });
      }
      co_await sleep(absl::Seconds(1));
      for (int i = 0; i < 3; ++i) EXPECT_TRUE((co_await tx.send(i)).ok());
    });
  };
  run_virtual(body());
  EXPECT_THAT(log.events(), ElementsAre("a0", "b1", "c2"));
}

TEST(ChannelTest, UsingYourOwnClosedHandleIsClosedNotBroken) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(1);
    tx.close();
    tx.close();  // idempotent
    EXPECT_TRUE(is_closed(co_await tx.send(1)));
    EXPECT_TRUE(is_closed(tx.clone().status()));
    EXPECT_TRUE(is_end_of_channel((co_await rx.receive()).status()));
    rx.close();
    EXPECT_TRUE(is_closed((co_await rx.receive()).status()));
  };
  run_virtual(body());
}

TEST(ChannelTest, SendWhenEveryReceiverIsGoneIsBroken) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::Status s = co_await tx.send(1);  // waits, then the receiver goes away
        EXPECT_TRUE(is_broken(s)) << s;
      });
      co_await sleep(absl::Seconds(1));
      rx.close();
    });
    EXPECT_TRUE(is_broken(co_await tx.send(2)));
  };
  run_virtual(body());
}

TEST(ChannelTest, EndOfChannelOnlyAfterEveryCloneClosesAndTheBufferDrains) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(4);
    MemorySendChannel<int> tx2 = std::move(tx.clone().value());
    EXPECT_TRUE(tx.try_send(1).ok());
    tx.close();
    EXPECT_TRUE(tx2.try_send(2).ok());
    tx2.close();
    EXPECT_EQ((co_await rx.receive()).value_or(0), 1);
    EXPECT_EQ((co_await rx.receive()).value_or(0), 2);
    EXPECT_TRUE(is_end_of_channel((co_await rx.receive()).status()));
  };
  run_virtual(body());
}

TEST(ChannelTest, ClosingTheLastSenderWakesWaitingReceivers) {
  auto body = []() -> Task<int> {
    auto [tx, rx] = open_memory_channel<int>(0);
    int ends = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 2; ++i) {
        pool.spawn([&]() -> Task<> {
          if (is_end_of_channel((co_await rx.receive()).status())) ++ends;
        });
      }
      co_await sleep(absl::Seconds(1));
      tx.close();
    });
    co_return ends;
  };
  EXPECT_EQ(run_virtual(body()), 2);
}

// Trio: closing a handle wakes the operations waiting on that handle with "closed"; the item of
// a send parked on it is never delivered; operations on its clones go on.
TEST(ChannelTest, ClosingASendHandleWakesOnlyTheSendsParkedOnIt) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    absl::StatusOr<MemorySendChannel<int>> clone = tx.clone();
    EXPECT_TRUE(clone.ok());
    absl::Status first = absl::UnknownError("not sent");
    absl::Status second = absl::UnknownError("not sent");
    std::vector<int> received;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { first = co_await tx.send(1); });
      pool.spawn([&]() -> Task<> { second = co_await clone->send(2); });
      co_await sleep(absl::Seconds(1));  // both parked (rendezvous, no receiver yet)
      tx.close();
      co_await sleep(absl::Seconds(1));
      EXPECT_TRUE(is_closed(first)) << first;  // woken at once, at 1 s
      EXPECT_EQ(second.code(), absl::StatusCode::kUnknown) << "the clone's send still waits";
      absl::StatusOr<int> got = co_await rx.receive();
      if (got.ok()) received.push_back(*got);
      clone->close();
      while (true) {
        absl::StatusOr<int> more = co_await rx.receive();
        if (!more.ok()) break;
        received.push_back(*more);
      }
    });
    EXPECT_TRUE(second.ok()) << second;
    EXPECT_THAT(received, ElementsAre(2));
  };
  run_virtual(body());
}

TEST(ChannelTest, ClosingAReceiveHandleWakesOnlyTheReceivesParkedOnIt) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    absl::StatusOr<MemoryReceiveChannel<int>> clone = rx.clone();
    EXPECT_TRUE(clone.ok());
    absl::StatusOr<int> first = absl::UnknownError("nothing");
    absl::StatusOr<int> second = absl::UnknownError("nothing");
    absl::Time first_woken;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        first = co_await rx.receive();
        first_woken = now();
      });
      pool.spawn([&]() -> Task<> { second = co_await clone->receive(); });
      co_await sleep(absl::Seconds(1));
      rx.close();
      co_await sleep(absl::Seconds(1));
      const absl::Status sent = co_await tx.send(7);  // the clone still receives
      EXPECT_TRUE(sent.ok()) << sent;
    });
    EXPECT_TRUE(is_closed(first.status())) << first.status();
    EXPECT_EQ(first_woken - absl::UnixEpoch(), absl::Seconds(1));
    EXPECT_EQ(second.value_or(-1), 7);
  };
  run_virtual(body());
}

TEST(ChannelTest, CancelledReceiveLosesNoItem) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run([&]() -> Task<> { (void)co_await rx.receive(); }());
    EXPECT_TRUE(scope.cancelled_caught());
    // The cancelled receiver left the queue: the next item goes to the next receiver.
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> { EXPECT_TRUE((co_await tx.send(7)).ok()); });
      EXPECT_EQ((co_await rx.receive()).value_or(0), 7);
    });
  };
  run_virtual(body());
}

// The item is handed to a waiting receiver and the receiver is cancelled before it runs: it
// still gets the item (and sees the cancellation at its next cancel point).
TEST(ChannelTest, ItemHandedToAReceiverSurvivesALateCancellation) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    int got = 0;
    co_await with_pool([&](Pool& pool) -> Task<> {
      TaskHandle<void> receiver = pool.spawn([&]() -> Task<> {
        absl::StatusOr<int> v = co_await rx.receive();
        got = v.value_or(-1);
        co_await checkpoint();
        ADD_FAILURE() << "the cancellation was lost";
      });
      co_await sleep(absl::Seconds(1));
      EXPECT_TRUE(tx.try_send(42).ok());  // handed over; the receiver is ready, not yet run
      receiver.cancel();
      co_return;
    });
    EXPECT_EQ(got, 42);
  };
  run_virtual(body());
}

TEST(ChannelTest, CancelledSendSendsNothing) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(0);
    CancelScope scope;
    scope.set_relative_deadline(absl::Seconds(1));
    co_await scope.run([&]() -> Task<> { (void)co_await tx.send(5); }());
    EXPECT_TRUE(scope.cancelled_caught());
    EXPECT_TRUE(is_would_block(rx.try_receive().status()));
  };
  run_virtual(body());
}

TEST(ChannelTest, MoveOnlyItems) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<std::unique_ptr<int>>(1);
    EXPECT_TRUE((co_await tx.send(std::make_unique<int>(9))).ok());
    absl::StatusOr<std::unique_ptr<int>> v = co_await rx.receive();
    EXPECT_EQ(**v, 9);
  };
  run_virtual(body());
}

TEST(ChannelTest, StatisticsCountBufferHandlesAndWaiters) {
  auto body = []() -> Task<> {
    auto [tx, rx] = open_memory_channel<int>(1);
    absl::StatusOr<MemorySendChannel<int>> tx2 = tx.clone();
    co_await with_pool([&](Pool& pool) -> Task<> {
      EXPECT_TRUE((co_await tx.send(1)).ok());
      pool.spawn([&]() -> Task<> { (void)co_await tx.send(2); });
      pool.spawn([&]() -> Task<> { (void)co_await tx2->send(3); });
      co_await wait_all_tasks_blocked();
      ChannelStatistics s = rx.statistics();
      EXPECT_EQ(s.current_buffer_used, 1u);
      EXPECT_EQ(s.max_buffer_size, 1u);
      EXPECT_EQ(s.open_send_channels, 2u);
      EXPECT_EQ(s.open_receive_channels, 1u);
      EXPECT_EQ(s.tasks_waiting_send, 2u);
      EXPECT_EQ(s.tasks_waiting_receive, 0u);
      for (int i = 0; i < 3; ++i) (void)co_await rx.receive();
      pool.spawn([&]() -> Task<> { (void)co_await rx.receive(); });
      co_await wait_all_tasks_blocked();
      tx2->close();
      s = tx.statistics();
      EXPECT_EQ(s.current_buffer_used, 0u);
      EXPECT_EQ(s.open_send_channels, 1u);
      EXPECT_EQ(s.tasks_waiting_send, 0u);
      EXPECT_EQ(s.tasks_waiting_receive, 1u);
      tx.close();
    });
    EXPECT_EQ(open_memory_channel<int>(kUnbounded).first.statistics().max_buffer_size, kUnbounded);
  };
  run_virtual(body());
}

}  // namespace
}  // namespace giambio

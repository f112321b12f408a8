#include "sim/world.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/echo.h"
#include "giambio/check.h"
#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/disk.h"
#include "sim/network.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;

// giambio's echo server (examples/echo.h) on `port` of whichever host runs it.
Task<> echo_server(int port) {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("0.0.0.0", port));
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  const absl::Status ended = co_await examples::serve_echo(*listener);
  throw std::runtime_error(ended.ToString());
}

Task<absl::StatusOr<std::string>> echo_once(SocketAddress server, std::string message) {
  absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server);
  if (!stream.ok()) co_return stream.status();
  if (absl::Status s = co_await stream->write_all(message); !s.ok()) co_return s;
  std::string got;
  while (got.size() < message.size()) {
    absl::StatusOr<std::string> data = co_await stream->read_some(4096);
    if (!data.ok()) co_return data.status();
    if (data->empty()) break;
    got += *data;
  }
  co_return got;
}

TEST(WorldTest, EchoAcrossTheSimulatedNetworkTakesTheLinkLatency) {
  World world({.seed = 1});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  absl::StatusOr<std::string> reply;
  absl::Duration took;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));  // the server is listening by now
    const absl::Time start = giambio::now();
    co_await world.on(
        client, [&]() -> Task<> { reply = co_await echo_once(server.address(7), "hello"); }());
    took = giambio::now() - start;
  });
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(*reply, "hello");
  // Handshake (one round trip) and the echo (another), 1 ms each way.
  EXPECT_EQ(took, absl::Milliseconds(4));
}

// Quiescence in the simulator: a task blocked on the simulated network counts as blocked (a
// connect in flight does not hold wait_all_tasks_blocked up), and a cushion is quiet virtual
// time, which network activity starts again.
TEST(WorldTest, WaitAllTasksBlockedCountsTasksWaitingOnTheNetworkAsBlocked) {
  World world({.seed = 1});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  std::optional<absl::StatusOr<std::string>> reply;
  world.run([&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await world.on(
            client, [&]() -> Task<> { reply = co_await echo_once(server.address(7), "hello"); }());
      });
      co_await wait_all_tasks_blocked();
      EXPECT_EQ(giambio::now(), absl::UnixEpoch()) << "nothing has crossed the network yet";
      EXPECT_FALSE(reply.has_value());
      co_await wait_all_tasks_blocked(absl::Milliseconds(10));
      EXPECT_TRUE(reply.has_value() && reply->ok() && **reply == "hello");
      // The echo's last step (the client's close reaching the server) is at 5 ms.
      EXPECT_EQ(giambio::now() - absl::UnixEpoch(), absl::Milliseconds(15));
    });
  });
}

// ---- IPv6 ----

// giambio's echo server on [::]:port, which hears both families.
Task<> echo_server6(int port) {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("::", port));
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  const absl::Status ended = co_await examples::serve_echo(*listener);
  throw std::runtime_error(ended.ToString());
}

TEST(WorldIpv6Test, AStreamOverIpv6AndAnIpv4PeerOfADualStackListener) {
  World world({.seed = 1});
  Host& server = world.add_host("server", [] { return echo_server6(7); });
  Host& client = world.add_host("client");
  absl::StatusOr<std::string> over6;
  absl::StatusOr<std::string> over4;
  std::string client6_local;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      EXPECT_EQ(server.address6(7).to_string(), "[fd00::1]:7");
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address6(7));
      EXPECT_TRUE(stream.ok()) << stream.status();
      if (!stream.ok()) co_return;
      client6_local = stream->local_address()->to_string();
      EXPECT_EQ(stream->peer_address()->to_string(), "[fd00::1]:7");
      over6 = co_await echo_once(server.address6(7), "over six");
      over4 = co_await echo_once(server.address(7), "over four");  // reaches the [::] listener
    }());
  });
  EXPECT_THAT(client6_local, HasSubstr("[fd00::2]:"));
  EXPECT_EQ(over6.value_or("error"), "over six");
  EXPECT_EQ(over4.value_or("error"), "over four");
}

TEST(WorldIpv6Test, AnIpv4ListenerDoesNotHearIpv6AndSocketsKeepTheirFamily) {
  World world({.seed = 2});
  Host& server = world.add_host("server", [] { return echo_server(7); });  // 0.0.0.0
  Host& client = world.add_host("client");
  absl::StatusOr<SocketStream> refused = absl::UnknownError("not run");
  std::string mapped_peer;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      refused = co_await SocketStream::connect(server.address6(7));
    }());
    co_await world.on(server, [&]() -> Task<> {
      // An IPv6 listener on another port, reached over IPv4: the peer is IPv4-mapped.
      absl::StatusOr<SocketListener> listener =
          SocketListener::listen(*SocketAddress::parse("::", 8));
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn([&]() -> Task<> {
          co_await world.on(client, [&]() -> Task<> {
            absl::StatusOr<SocketStream> s = co_await SocketStream::connect(server.address(8));
            EXPECT_TRUE(s.ok()) << s.status();
          }());
        });
        absl::StatusOr<SocketStream> accepted = co_await listener->accept();
        if (accepted.ok()) mapped_peer = accepted->peer_address()->to_string();
      });
    }());
  });
  EXPECT_THAT(refused.status().message(), HasSubstr("Connection refused")) << refused.status();
  EXPECT_THAT(mapped_peer, HasSubstr("[::ffff:10.0.0.2]:"));
}

TEST(WorldIpv6Test, DatagramsOverIpv6AndTheirSizeLimit) {
  World world({.seed = 3});
  Host& a = world.add_host("a");
  Host& b = world.add_host("b");
  std::string from;
  size_t heard = 0;
  absl::Status too_long;
  world.run([&]() -> Task<> {
    absl::StatusOr<UdpSocket> receiver;
    co_await world.on(b, [&]() -> Task<> {
      receiver = UdpSocket::bind(*SocketAddress::parse("::", 9));
      co_return;
    }());
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        co_await world.on(b, [&]() -> Task<> {
          absl::StatusOr<Datagram> got = co_await receiver->receive_from();
          if (!got.ok()) co_return;
          heard = got->data.size();
          from = got->from.to_string();
        }());
      });
      co_await world.on(a, [&]() -> Task<> {
        absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("::", 0));
        EXPECT_TRUE((co_await socket->send_to(std::string(65527, 'x'), b.address6(9))).ok());
        too_long = co_await socket->send_to(std::string(65528, 'x'), b.address6(9));
      }());
    });
  });
  EXPECT_EQ(heard, 65527u);
  EXPECT_THAT(from, HasSubstr("[fd00::1]:"));
  EXPECT_THAT(too_long.message(), HasSubstr("Message too long")) << too_long;
}

TEST(WorldTest, ConnectToAPortNobodyListensOnIsRefused) {
  World world({.seed = 1});
  Host& server = world.add_host("server");
  Host& client = world.add_host("client");
  absl::StatusOr<std::string> reply;
  world.run([&]() -> Task<> {
    co_await world.on(client,
                      [&]() -> Task<> { reply = co_await echo_once(server.address(9), "x"); }());
  });
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_THAT(reply.status().message(), HasSubstr("connect(10.0.0.1:9)"));
}

TEST(WorldTest, SameSeedSameFingerprintOtherSeedOtherFingerprint) {
  auto run = [](uint64_t seed) {
    WorldOptions options{.seed = seed};
    options.faults.network.jitter = absl::Milliseconds(3);
    World world(std::move(options));
    Host& server = world.add_host("server", [] { return echo_server(7); });
    std::vector<Host*> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(&world.add_host(absl::StrCat("client", i)));
    world.run([&]() -> Task<> {
      co_await sleep(absl::Milliseconds(1));
      co_await with_pool([&](Pool& pool) -> Task<> {
        for (Host* c : clients) {
          pool.spawn([&world, &server, c]() -> Task<> {
            co_await world.on(*c, [&]() -> Task<> {
              (void)co_await echo_once(server.address(7), "ping " + c->name());
            }());
          });
        }
        co_return;
      });
    });
    return world.fingerprint();
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(WorldTest, PartitionedRequestTimesOutAtItsDeadlineAndFlowsAfterHeal) {
  World world({.seed = 3});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  Host& other = world.add_host("other");
  std::optional<absl::StatusOr<std::string>> during;
  absl::StatusOr<std::string> other_reply;
  absl::Duration timed_out_after;
  absl::Duration after_heal;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address(7));
      EXPECT_TRUE(stream.ok());
      world.partition(client, server);
      const absl::Time start = giambio::now();
      EXPECT_TRUE((co_await stream->write_all("ping")).ok());
      during = co_await skip_after(absl::Seconds(2), stream->read_some(100));
      timed_out_after = giambio::now() - start;
      // Other links are unaffected.
      co_await world.on(other, [&]() -> Task<> {
        other_reply = co_await echo_once(server.address(7), "other");
      }());
      world.heal(client, server);
      const absl::Time healed = giambio::now();
      absl::StatusOr<std::string> late = co_await stream->read_some(100);
      after_heal = giambio::now() - healed;
      EXPECT_EQ(late.value_or("error"), "ping");
    }());
  });
  EXPECT_FALSE(during.has_value());
  EXPECT_EQ(timed_out_after, absl::Seconds(2));
  EXPECT_EQ(other_reply.value_or("error"), "other");
  // The ping crosses after the heal (1 ms), the echo comes back (1 ms).
  EXPECT_EQ(after_heal, absl::Milliseconds(2));
}

TEST(WorldTest, AOneWayPartitionCutsOneDirectionOfDatagrams) {
  World world({.seed = 5});
  Host& a = world.add_host("a");
  Host& b = world.add_host("b");
  int a_heard = 0, b_heard = 0;
  auto listen = [](int& heard) -> Task<> {
    absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 3));
    while (true) {
      (void)co_await socket->receive_from(16);
      ++heard;
    }
  };
  auto send = [](SocketAddress to) -> Task<> {
    absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
    for (int i = 0; i < 10; ++i) EXPECT_TRUE((co_await socket->send_to("x", to)).ok());
  };
  world.run([&]() -> Task<> {
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&] { return world.on(a, listen(a_heard)); });
      pool.spawn([&] { return world.on(b, listen(b_heard)); });
      co_await sleep(absl::Milliseconds(1));
      world.partition(a, b, /*one_way=*/true);  // a -> b only
      co_await world.on(a, send(b.address(3)));
      co_await world.on(b, send(a.address(3)));
      co_await sleep(absl::Seconds(1));
      pool.cancel();
    });
  });
  EXPECT_EQ(b_heard, 0);
  EXPECT_EQ(a_heard, 10);
  EXPECT_EQ(world.network().stats().datagrams_cut, 10u);
}

// Found by //sim:network_fuzz_test: the simulator sent datagrams of any size.
TEST(WorldTest, ADatagramOverTheIpv4LimitIsMessageTooLongAsOnLinux) {
  World world({.seed = 5});
  Host& a = world.add_host("a");
  size_t heard = 0;
  absl::Status too_long;
  world.run([&]() -> Task<> {
    co_await world.on(a, [&]() -> Task<> {
      absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 3));
      const std::string largest(65507, 'x');
      const std::string too_large(65508, 'x');
      EXPECT_TRUE((co_await socket->send_to(largest, a.address(3))).ok());
      absl::StatusOr<Datagram> got = co_await socket->receive_from();
      heard = got.ok() ? got->data.size() : 0;
      too_long = co_await socket->send_to(too_large, a.address(3));
    }());
  });
  EXPECT_EQ(heard, 65507u);
  EXPECT_THAT(too_long.message(), HasSubstr("Message too long")) << too_long;
}

TEST(WorldTest, AClogHoldsStreamDataUntilItEndsThenOneLatency) {
  World world({.seed = 6});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  absl::Duration took;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address(7));
      EXPECT_TRUE(stream.ok());
      world.clog(client, server, absl::Seconds(3));
      const absl::Time start = giambio::now();
      EXPECT_TRUE((co_await stream->write_all("held")).ok());
      EXPECT_EQ((co_await stream->read_some(10)).value_or("error"), "held");
      took = giambio::now() - start;
    }());
  });
  // Held for the 3 s clog, then 1 ms there and 1 ms back.
  EXPECT_EQ(took, absl::Seconds(3) + absl::Milliseconds(2));
}

TEST(WorldTest, CrashResetsPeersAndRestartRunsTheProgramAgain) {
  World world({.seed = 4});
  int boots = 0;
  Host& server = world.add_host("server", [&]() -> Task<> {
    ++boots;
    co_await echo_server(7);
  });
  Host& client = world.add_host("client");
  absl::StatusOr<std::string> after_crash;
  absl::StatusOr<std::string> after_restart;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address(7));
      EXPECT_TRUE(stream.ok());
      world.crash(server);
      after_crash = co_await stream->read_some(100);
      co_await sleep(absl::Seconds(1));
      world.restart(server);
      co_await sleep(absl::Milliseconds(1));
      after_restart = co_await echo_once(server.address(7), "again");
    }());
  });
  EXPECT_EQ(after_crash.status().code(), absl::StatusCode::kUnavailable) << after_crash.status();
  EXPECT_EQ(after_restart.value_or("error"), "again");
  EXPECT_EQ(boots, 2);
}

TEST(WorldTest, UnsyncedWritesDoNotSurviveACrashIntactButSyncedOnesDo) {
  int torn_or_lost = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    World world({.seed = seed});
    Host& host = world.add_host("db");
    world.run([&]() -> Task<> {
      co_await world.on(host, [&]() -> Task<> {
        absl::StatusOr<File> file = co_await File::open("/data", O_CREAT | O_RDWR);
        EXPECT_TRUE(file.ok()) << file.status();
        EXPECT_TRUE((co_await file->write_all_at("durable.", 0)).ok());
        EXPECT_TRUE((co_await file->sync()).ok());
        EXPECT_TRUE((co_await file->write_all_at("volatile", 8)).ok());
        EXPECT_EQ(file->size().value_or(0), 16);
      }());
      world.crash(host);
      world.restart(host);
      co_await world.on(host, [&]() -> Task<> {
        absl::StatusOr<File> file = co_await File::open("/data", O_RDONLY);
        absl::StatusOr<std::string> data = co_await file->read_at(100, 0);
        EXPECT_THAT(data.value_or(""), ::testing::StartsWith("durable."));
        if (*data != "durable.volatile") ++torn_or_lost;
      }());
    });
  }
  EXPECT_GT(torn_or_lost, 5);
}

TEST(WorldTest, IoSuspendsLikeIoUringSoASecondWriterFindsTheStreamBusy) {
  World world({.seed = 2});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  absl::Status first, second;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address(7));
      co_await with_pool([&](Pool& pool) -> Task<> {
        pool.spawn([&]() -> Task<> { first = co_await stream->write_all("a"); });
        pool.spawn([&]() -> Task<> { second = co_await stream->write_all("b"); });
        co_return;
      });
    }());
  });
  // Which one goes first is the seed's choice; the other finds the stream busy.
  EXPECT_NE(first.ok(), second.ok()) << first << " / " << second;
  EXPECT_THAT((first.ok() ? second : first).message(), HasSubstr("already writing"));
}

TEST(WorldTest, SleepingAnHourTakesNoWallTime) {
  World world({.seed = 1});
  const auto start = std::chrono::steady_clock::now();
  world.run([&]() -> Task<> { co_await sleep(absl::Hours(1)); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(10));
  EXPECT_EQ(world.elapsed(), absl::Hours(1));
}

TEST(WorldTest, DeadlockNamesTheSeedTimeAndWaits) {
  World world({.seed = 77});
  Host& server = world.add_host("server");
  try {
    world.run([&]() -> Task<> {
      co_await world.on(server, []() -> Task<> {
        absl::StatusOr<SocketListener> listener =
            SocketListener::listen(*SocketAddress::parse("0.0.0.0", 7));
        (void)co_await listener->accept();  // nobody will ever connect
      }());
    });
    ADD_FAILURE() << "no deadlock reported";
  } catch (const DeadlockError& e) {
    EXPECT_THAT(e.what(), HasSubstr("seed=77"));
    EXPECT_THAT(e.what(), HasSubstr("waits on accept"));
  }
}

TEST(WorldTest, RealDescriptorsAndRealDriversTripTheWire) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  World world({.seed = 12});
  Host& host = world.add_host("host");
  std::string message;
  world.run([&]() -> Task<> {
    co_await world.on(host, [&]() -> Task<> {
      try {
        AsyncStream pipe(fds[0]);
        ADD_FAILURE() << "a real descriptor was accepted";
      } catch (const UsageError& e) {
        message = e.what();
      }
      co_return;
    }());
  });
  EXPECT_THAT(message, HasSubstr("seed=12"));
  EXPECT_THAT(message, HasSubstr("AsyncStream on descriptor"));
  EXPECT_THAT(message, HasSubstr("reaches the real world"));
  close(fds[0]);
  close(fds[1]);
}

TEST(WorldDeathTest, AFailedInvariantCheckInsideASimulationNamesItsSeed) {
  EXPECT_DEATH(
      {
        World world({.seed = 44});
        world.run([]() -> Task<> {
          GIAMBIO_CHECK(false, "planted");
          co_return;
        });
      },
      "internal check failed at .*: false: planted; simulation seed=44");
}

TEST(WorldTest, ARealDriverInsideASimulationTripsTheWire) {
  World world({.seed = 31});
  std::string message;
  world.run([&]() -> Task<> {
    try {
      Loop nested(make_driver(DriverKind::kEpoll));
      ADD_FAILURE() << "a real driver was set up inside a simulation";
    } catch (const UsageError& e) {
      message = e.what();
    }
    co_return;
  });
  EXPECT_THAT(message, HasSubstr("seed=31"));
  EXPECT_THAT(message, HasSubstr("giambio::run on a real driver reaches the real world"));
}

// A subprocess would escape the simulated world: open_process and run_process trip the wire.
TEST(WorldTest, ASubprocessInsideASimulationTripsTheWire) {
  World world({.seed = 33});
  Host& host = world.add_host("host");
  std::string opened;
  std::string ran;
  world.run([&]() -> Task<> {
    co_await world.on(host, [&]() -> Task<> {
      try {
        absl::StatusOr<Process> cat = open_process({"/bin/cat"});
        ADD_FAILURE() << "a real subprocess was started inside a simulation";
      } catch (const UsageError& e) {
        opened = e.what();
      }
      try {
        const std::vector<std::string> argv = {"true"};
        absl::StatusOr<ProcessResult> result = co_await run_process(argv);
        ADD_FAILURE() << "a real subprocess was run inside a simulation";
      } catch (const UsageError& e) {
        ran = e.what();
      }
    }());
  });
  EXPECT_THAT(opened, HasSubstr("seed=33"));
  EXPECT_THAT(opened, HasSubstr("open_process reaches the real world"));
  EXPECT_THAT(ran, HasSubstr("open_process reaches the real world"));
}

// ---- Signals ----

// A server that shuts down gracefully on SIGTERM: receivers on the host get it at the virtual time
// it is sent; the program ends by itself and is restarted; another host's receiver hears nothing.
TEST(WorldTest, ASignalReachesEveryReceiverOfItsHostAtTheVirtualTimeItIsSent) {
  World world({.seed = 5});
  std::vector<std::string> heard;
  auto program = [&world, &heard](const char* who) -> Task<> {
    absl::StatusOr<SignalReceiver> both = open_signal_receiver({SIGTERM, SIGHUP});
    absl::StatusOr<SignalReceiver> term = open_signal_receiver({SIGTERM});
    EXPECT_TRUE(both.ok() && term.ok());
    while (true) {
      const int got = co_await both->receive();
      heard.push_back(
          absl::StrCat(who, " ", signal_name(got), " at ", absl::FormatDuration(world.elapsed())));
      if (got == SIGTERM) break;
    }
    EXPECT_EQ(term->pending(), 1u);
    EXPECT_EQ(co_await term->receive(), SIGTERM);
  };
  Host& server = world.add_host("server", [&] { return program("server"); });
  Host& other = world.add_host("other", [&] { return program("other"); });
  world.run([&]() -> Task<> {
    co_await sleep(absl::Seconds(1));
    world.signal(server, SIGHUP);
    co_await sleep(absl::Seconds(1));
    world.signal(server, SIGTERM);
    co_await world.programs_finished(server);
    EXPECT_FALSE(server.program_running());
    world.restart(server);
    co_await sleep(absl::Seconds(1));
    EXPECT_TRUE(server.program_running());
    EXPECT_EQ(server.incarnation(), 1u);
    world.signal(server, SIGTERM);
    co_await world.programs_finished(server, 2);
    EXPECT_TRUE(other.program_running());
  });
  EXPECT_THAT(heard, ::testing::ElementsAre("server SIGHUP at 1s", "server SIGTERM at 2s",
                                            "server SIGTERM at 3s"));
}

// With no receiver open, a terminating signal kills the program as it would a process: its
// unsynced writes survive (the machine did not crash), and it can be restarted; SIGCHLD is
// ignored.
TEST(WorldTest, ASignalNobodyReceivesKillsTheProgramButKeepsItsWrites) {
  World world({.seed = 6});
  int boots = 0;
  Host& host = world.add_host("host", [&]() -> Task<> {
    ++boots;
    absl::StatusOr<File> file = co_await File::open("/data", O_CREAT | O_RDWR);
    EXPECT_TRUE(file.ok());
    if (boots == 1) {
      EXPECT_TRUE((co_await file->write_all_at("unsynced", 0)).ok());
    }
    co_await sleep(absl::Hours(1));
  });
  world.run([&]() -> Task<> {
    co_await sleep(absl::Seconds(1));
    world.signal(host, SIGCHLD);
    EXPECT_TRUE(host.alive());
    world.signal(host, SIGTERM);
    EXPECT_FALSE(host.alive());
    EXPECT_EQ(world.disk().contents(host, "/data"), "unsynced");
    EXPECT_THROW(world.signal(host, SIGTERM), UsageError);  // the host is down
    world.restart(host);
    co_await sleep(absl::Seconds(1));
    EXPECT_EQ(boots, 2);
    EXPECT_THROW(world.signal(host, SIGSTOP), UsageError);
    EXPECT_THROW(world.signal(host, 0), UsageError);
  });
}

// The same seed gives the same run, signals included.
TEST(WorldTest, SignalsReplayExactly) {
  auto fingerprint = [] {
    World world({.seed = 77});
    Host& host = world.add_host("host", []() -> Task<> {
      absl::StatusOr<SignalReceiver> receiver = open_signal_receiver({SIGUSR1, SIGTERM});
      while (co_await receiver->receive() != SIGTERM) co_await sleep(absl::Milliseconds(3));
    });
    world.run([&]() -> Task<> {
      for (int i = 0; i < 5; ++i) {
        co_await sleep(absl::Milliseconds(2));
        world.signal(host, SIGUSR1);
      }
      world.signal(host, SIGTERM);
      co_await world.programs_finished(host);
    });
    return world.fingerprint();
  };
  EXPECT_EQ(fingerprint(), fingerprint());
}

// Threads would break determinism: to_thread runs its callable inline, at a schedule point, and
// a token into the loop (only threads could use one) trips the wire.
TEST(WorldTest, ToThreadRunsInlineAndALoopTokenTripsTheWire) {
  World world({.seed = 34});
  Host& host = world.add_host("host");
  std::string refused;
  int value = 0;
  world.run([&]() -> Task<> {
    co_await world.on(host, [&]() -> Task<> {
      auto compute = [] { return 6 * 7; };
      value = co_await to_thread(compute);
      try {
        LoopToken token = current_loop_token();
        ADD_FAILURE() << "a loop token inside a simulation";
      } catch (const UsageError& e) {
        refused = e.what();
      }
    }());
  });
  EXPECT_EQ(value, 42);
  EXPECT_THAT(refused, HasSubstr("seed=34"));
  EXPECT_THAT(refused, HasSubstr("current_loop_token reaches the real world"));
}

// SO_REUSEPORT in the simulated network: sockets that all set it share a port, and each
// connection goes to one of the listening ones, picked by the client's address and port.
TEST(WorldTest, ListenersWithReusePortShareAPortAndSplitTheConnections) {
  World world({.seed = 12});
  std::vector<int> accepted(2, 0);
  std::string refused;
  Host& server = world.add_host("server", [&]() -> Task<> {
    ListenOptions reuse;
    reuse.reuse_port = true;
    const SocketAddress address = *SocketAddress::parse("0.0.0.0", 7);
    std::vector<SocketListener> listeners;
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<SocketListener> listener = SocketListener::listen(address, reuse);
      if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
      listeners.push_back(std::move(*listener));
    }
    absl::StatusOr<SocketListener> without = SocketListener::listen(address);
    refused = without.status().ToString();
    co_await with_pool([&](Pool& pool) -> Task<> {
      for (int i = 0; i < 2; ++i) {
        pool.spawn([&, i]() -> Task<> {
          while (true) {
            absl::StatusOr<SocketStream> stream = co_await listeners[i].accept();
            if (!stream.ok()) co_return;
            ++accepted[i];
          }
        });
      }
      co_return;
    });
  });
  Host& client = world.add_host("client");
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    co_await world.on(client, [&]() -> Task<> {
      std::vector<SocketStream> streams;
      for (int c = 0; c < 20; ++c) {
        absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server.address(7));
        EXPECT_TRUE(stream.ok()) << stream.status();
        if (stream.ok()) streams.push_back(std::move(*stream));
      }
      co_await sleep(absl::Milliseconds(5));
    }());
  });
  EXPECT_THAT(refused, HasSubstr("bind(0.0.0.0:7): Address already in use"));
  EXPECT_EQ(accepted[0] + accepted[1], 20);
  EXPECT_GT(accepted[0], 0);
  EXPECT_GT(accepted[1], 0);
}

// A service on three loops (run_loops_interleaved, as run_loops would run it on three cores):
// each loop listens on port 7 with SO_REUSEPORT and answers every message with what the next
// loop makes of it (submit_to).
struct ShardedEcho {
  std::vector<int> accepted = std::vector<int>(3, 0);
  int boots = 0;
};

Task<> sharded_echo_server(ShardedEcho& state) {
  ++state.boots;
  LoopsOptions options;
  options.count = 3;
  co_await run_loops_interleaved(options, [&state](const LoopGroup& group, size_t i) -> Task<> {
    ListenOptions reuse;
    reuse.reuse_port = true;
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("0.0.0.0", 7), reuse);
    if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
    auto answer = [&state, &group, i](SocketStream stream) -> Task<> {
      ++state.accepted[i];
      while (true) {
        absl::StatusOr<std::string> message = co_await stream.read_some(4096);
        if (!message.ok() || message->empty()) co_return;
        std::string text = std::move(*message);
        const std::string reply =
            co_await submit_to(group[(i + 1) % 3], [&text]() -> Task<std::string> {
              co_await checkpoint();
              co_return text;
            });
        if (!(co_await stream.write_all(reply)).ok()) co_return;
      }
    };
    const absl::Status ended = co_await serve_tcp(*listener, answer);
    throw std::runtime_error(ended.ToString());
  });
}

// The multi-loop host replays to one fingerprint, through a crash and a restart of the host.
TEST(WorldTest, AHostRunningSeveralLoopsReplaysToOneFingerprint) {
  auto run = [](uint64_t seed, ShardedEcho& state, int& answered) {
    WorldOptions options{.seed = seed};
    options.faults.network.jitter = absl::Milliseconds(2);
    World world(std::move(options));
    Host& server = world.add_host("server", [&state] { return sharded_echo_server(state); });
    std::vector<Host*> clients;
    for (int i = 0; i < 4; ++i) clients.push_back(&world.add_host(absl::StrCat("client", i)));
    auto round = [&]() -> Task<> {
      co_await with_pool([&](Pool& pool) -> Task<> {
        for (Host* c : clients) {
          pool.spawn([&world, &server, &answered, c]() -> Task<> {
            co_await world.on(*c, [&]() -> Task<> {
              for (int n = 0; n < 5; ++n) {
                const std::string message = absl::StrCat(c->name(), " ", n);
                absl::StatusOr<std::string> reply = co_await echo_once(server.address(7), message);
                if (reply.ok() && *reply == message) ++answered;
              }
            }());
          });
        }
        co_return;
      });
    };
    world.run([&]() -> Task<> {
      co_await sleep(absl::Milliseconds(1));
      co_await round();
      world.crash(server);
      co_await sleep(absl::Seconds(1));
      world.restart(server);
      co_await sleep(absl::Milliseconds(1));
      co_await round();
    });
    return world.fingerprint();
  };
  ShardedEcho state;
  int answered = 0;
  const uint64_t first = run(3, state, answered);
  EXPECT_EQ(answered, 40);
  EXPECT_EQ(state.boots, 2);
  EXPECT_EQ(state.accepted[0] + state.accepted[1] + state.accepted[2], 40);
  for (int accepted : state.accepted) EXPECT_GT(accepted, 0);

  ShardedEcho again;
  int answered_again = 0;
  EXPECT_EQ(run(3, again, answered_again), first);
  EXPECT_EQ(again.accepted, state.accepted);
  ShardedEcho other;
  int answered_other = 0;
  EXPECT_NE(run(4, other, answered_other), first);
}

// BUGGIFY: per run a site is enabled or not, an enabled site fires on some calls; both drawn from
// the seed, so a seed replays the same firings; every firing is in the trace.
struct Buggified {
  std::map<std::string, BuggifySite> sites;
  uint64_t fingerprint = 0;
  int slow = 0;
  int tiny = 0;
};

Buggified buggify_run(uint64_t seed, double sites = 0.25) {
  WorldOptions options{.seed = seed};
  options.buggify_sites = sites;
  World world(std::move(options));
  Buggified out;
  world.add_host("server", [&out]() -> Task<> {
    for (int i = 0; i < 200; ++i) {
      if (buggify()) ++out.slow;
      if (buggify("test: tiny")) ++out.tiny;  // a named site
      co_await sleep(absl::Milliseconds(1));
    }
  });
  world.run([&]() -> Task<> { co_await sleep(absl::Seconds(1)); });
  out.sites = world.buggify_sites();
  out.fingerprint = world.fingerprint();
  return out;
}

TEST(WorldTest, BuggifyEnablesSitesPerRunAndFiresFromTheSeed) {
  int enabled = 0;
  int runs_with_a_firing = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const Buggified run = buggify_run(seed);
    ASSERT_EQ(run.sites.size(), 2u);
    ASSERT_TRUE(run.sites.contains("test: tiny"));
    for (const auto& [site, state] : run.sites) {
      if (site != "test: tiny") {
        EXPECT_THAT(site, HasSubstr("sim/world_test.cc:"));
      }
      EXPECT_EQ(state.calls, 200u);
      if (state.enabled) {
        ++enabled;
        EXPECT_GT(state.fired, 20u) << site;  // about a quarter of 200
        EXPECT_LT(state.fired, 80u) << site;
      } else {
        EXPECT_EQ(state.fired, 0u) << site;
      }
    }
    if (run.slow + run.tiny > 0) ++runs_with_a_firing;
    uint64_t fired = 0;
    for (const auto& [site, state] : run.sites) fired += state.fired;
    EXPECT_EQ(fired, static_cast<uint64_t>(run.slow + run.tiny));
  }
  EXPECT_GT(enabled, 8);  // about a quarter of 80 sites
  EXPECT_LT(enabled, 35);
  EXPECT_GT(runs_with_a_firing, 5);

  const Buggified a = buggify_run(7);
  const Buggified b = buggify_run(7);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.slow, b.slow);
  EXPECT_EQ(a.tiny, b.tiny);
  const Buggified off = buggify_run(7, /*sites=*/0);
  EXPECT_EQ(off.slow + off.tiny, 0);
}

// A run records the faults the nemesis drew; a replay with only some of them draws the same
// faults at the same times and carries out only those.
TEST(WorldTest, AReplayWithOnlySomeFaultsKeepsTheirTimesAndTargets) {
  auto run = [](FaultSelection only) {
    WorldOptions options{.seed = 21};
    options.faults.schedule.crashes_per_minute = 20;
    options.faults.schedule.partitions_per_minute = 20;
    options.faults.schedule.clogs_per_minute = 20;
    options.only_faults = std::move(only);
    World world(std::move(options));
    for (int i = 0; i < 3; ++i) {
      world.add_host(absl::StrCat("node", i), []() -> Task<> { co_await sleep(absl::Hours(1)); });
    }
    world.run([]() -> Task<> { co_await sleep(absl::Seconds(60)); });
    return world.faults_drawn();
  };
  const std::vector<FaultRecord> all = run(FaultSelection{});
  ASSERT_GT(all.size(), 30u);
  std::set<uint64_t> odd;
  for (const FaultRecord& fault : all) {
    EXPECT_EQ(fault.number, static_cast<uint64_t>(&fault - all.data()) + 1);
    if (fault.number % 2 == 1) odd.insert(fault.number);
  }
  const std::vector<FaultRecord> some = run(FaultSelection::only(odd));
  ASSERT_EQ(some.size(), all.size());
  int crashes_kept = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(some[i].at, all[i].at);
    EXPECT_EQ(some[i].what, all[i].what);
    if (!odd.contains(some[i].number)) {
      EXPECT_FALSE(some[i].carried_out) << some[i].what;
    }
    if (some[i].carried_out && some[i].what.starts_with("crash")) ++crashes_kept;
  }
  EXPECT_GT(crashes_kept, 0);
  const std::vector<FaultRecord> none = run(FaultSelection::only({}));
  for (const FaultRecord& fault : none) EXPECT_FALSE(fault.carried_out);
}

// Liveness: once the faults stop (partitions healed, crashed hosts restarted), the system must
// recover within a bound; if it does not, the run fails with the seed and what is still pending.
TEST(WorldTest, EventuallyAfterTheFaultsStopPassesOrNamesWhatIsPending) {
  World world({.seed = 41});
  Host& server = world.add_host("server", [] { return echo_server(7); });
  Host& client = world.add_host("client");
  int answered_after_heal = 0;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Milliseconds(1));
    world.partition(client, server);
    world.crash(server);
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {  // a client that keeps trying
        co_await world.on(client, [&]() -> Task<> {
          while (true) {
            absl::StatusOr<std::string> reply = co_await with_timeout(
                absl::Milliseconds(200), echo_once(server.address(7), "ping"));
            if (reply.ok() && *reply == "ping") ++answered_after_heal;
            co_await sleep(absl::Milliseconds(50));
          }
        }());
      });
      co_await sleep(absl::Seconds(2));
      EXPECT_EQ(answered_after_heal, 0);
      world.stop_faults();  // heals the partition, restarts the server
      co_await world.eventually(
          [&] { return answered_after_heal > 0 ? "" : "the client has no answer"; },
          absl::Seconds(5));
      pool.cancel();
    });
  });
  EXPECT_GT(answered_after_heal, 0);
  EXPECT_TRUE(server.alive());

  World stuck({.seed = 42});
  std::string failure;
  try {
    stuck.run([&]() -> Task<> {
      stuck.stop_faults();
      co_await stuck.eventually([] { return std::string("no leader elected"); }, absl::Seconds(3));
    });
  } catch (const LivenessFailure& e) {
    failure = e.what();
  }
  EXPECT_THAT(failure, HasSubstr("seed=42"));
  EXPECT_THAT(failure, HasSubstr("at 3s: not live 3s after the faults stopped: no leader elected"));

  World early({.seed = 43});
  EXPECT_THROW(early.run([&]() -> Task<> {
    co_await early.eventually([] { return std::string(); }, absl::Seconds(1));
  }),
               UsageError);
}

TEST(WorldTest, HostsWallClocksDisagree) {
  WorldOptions options{.seed = 9};
  options.faults.clock = {.max_offset = absl::Seconds(5), .max_drift_ppm = 100};
  World world(std::move(options));
  Host& a = world.add_host("a");
  Host& b = world.add_host("b");
  absl::Time at_a, at_b;
  world.run([&]() -> Task<> {
    co_await sleep(absl::Hours(1));
    co_await world.on(a, [&]() -> Task<> {
      at_a = wall_time();
      co_return;
    }());
    co_await world.on(b, [&]() -> Task<> {
      at_b = wall_time();
      co_return;
    }());
  });
  EXPECT_NE(at_a, at_b);
  EXPECT_LT(absl::AbsDuration(at_a - at_b), absl::Seconds(11));
}

}  // namespace
}  // namespace giambio::sim

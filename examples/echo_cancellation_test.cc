// Cancels the echo server (examples/echo.h), plain and over TLS, at every await point a
// client's session reaches, on both real drivers, and checks that nothing is left behind: no
// descriptor, no heap allocation (counted by this binary's operator new/delete, and OpenSSL's
// through CRYPTO_set_mem_functions), and under ASan no leak that LeakSanitizer finds. Await points
// are counted with an instrument: run k cancels the server right after its k-th step, i.e. while it
// is suspended in whatever it awaits then (accept, read, write, the connection pool's join), for k
// = 1 .. the steps an uncancelled session takes.
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "examples/echo.h"
#include "giambio/drivers_test_util.h"
#include "giambio/giambio.h"
#include "giambio/test_util.h"
#include "giambio/tls_test_util.h"
#include "gtest/gtest.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace {
std::atomic<int64_t> live_allocations{0};
std::atomic<int64_t> openssl_allocations{0};

// OpenSSL's allocations, counted (installed before OpenSSL allocates anything).
void* openssl_malloc(size_t size, const char*, int) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p != nullptr) openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}
void* openssl_realloc(void* p, size_t size, const char*, int) {
  if (p == nullptr) return openssl_malloc(size, nullptr, 0);
  return std::realloc(p, size == 0 ? 1 : size);
}
void openssl_free(void* p, const char*, int) {
  if (p == nullptr) return;
  openssl_allocations.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}
const bool openssl_counted =
    CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}  // namespace

void* operator new(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  live_allocations.fetch_add(1, std::memory_order_relaxed);
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  live_allocations.fetch_sub(1, std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void* operator new[](size_t size) { return operator new(size); }
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }

namespace giambio {
namespace {

using testing::open_descriptors;

// Counts the steps of the server's tasks: every task but the test's own (main, client, canceller).
class ServerSteps : public Instrument {
 public:
  void before_task_step(const TaskInfo& task) override {
    if (task.id != 1 && task.name != "client" && task.name != "canceller") ++steps;
  }
  int64_t steps = 0;
};

struct Session {
  bool cancelled = false;   // the server was cancelled before the client finished
  bool echoed_all = false;  // the client got every byte back
  absl::Status client;      // the client's last error, if any
};

const testing::TestPki& pki() {
  static const testing::TestPki* const made = new testing::TestPki(testing::make_test_pki());
  return *made;
}

// Sends 100 KiB twice over `stream`, each time reading it all back.
template <ByteStream S>
Task<absl::Status> exchange(S& stream, Session& result) {
  const std::string big(100 * 1024, 'e');
  std::string got;
  for (int round = 0; round < 2; ++round) {
    if (absl::Status s = co_await stream.write_all(big); !s.ok()) co_return s;
    const size_t want = got.size() + big.size();
    while (got.size() < want) {
      absl::StatusOr<std::string> data = co_await stream.read_some(65536);
      if (!data.ok()) co_return data.status();
      if (data->empty()) co_return absl::UnavailableError("end of stream");
      got += *data;
    }
  }
  result.echoed_all = got == big + big;
  co_return absl::OkStatus();
}

// Talks to the echo server at `server`, in plain TCP or over TLS, then closes.
Task<absl::Status> talk(SocketAddress server, bool tls, Session& result) {
  absl::StatusOr<SocketStream> stream = co_await SocketStream::connect(server);
  if (!stream.ok()) co_return stream.status();
  if (!tls) {
    if (absl::Status s = co_await exchange(*stream, result); !s.ok()) co_return s;
    co_return stream->close();
  }
  TlsConfig config;
  config.ca_pem = pki().ca;
  absl::StatusOr<std::shared_ptr<const TlsContext>> context = TlsContext::client(config);
  if (!context.ok()) co_return context.status();
  absl::StatusOr<TlsStream<SocketStream>> secure =
      TlsStream<SocketStream>::client(*std::move(stream), *context, "localhost");
  if (!secure.ok()) co_return secure.status();
  if (absl::Status s = co_await exchange(*secure, result); !s.ok()) co_return s;
  co_return co_await secure->shutdown();
}

// One client session against the echo server; cancels the server after `cancel_after` steps.
Task<Session> session(ServerSteps& counter, int64_t cancel_after, bool tls) {
  absl::StatusOr<SocketListener> listener =
      SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
  if (!listener.ok()) throw std::runtime_error(listener.status().ToString());
  Session result;
  bool client_done = false;
  std::optional<Pool> server;
  co_await with_pool([&](Pool& pool) -> Task<> {
    pool.spawn(
        [&]() -> Task<> {
          TlsConfig config;
          config.certificate_chain_pem = pki().server.chain;
          config.private_key_pem = pki().server.key;
          std::shared_ptr<const TlsContext> context;
          if (tls) context = *TlsContext::server(config);
          co_await with_pool([&](Pool& p) -> Task<> {
            server = p;
            if (tls) {
              (void)co_await examples::serve_tls_echo(*listener, context);
            } else {
              (void)co_await examples::serve_echo(*listener);
            }
          });
        },
        "echo server");
    pool.spawn(
        [&]() -> Task<> {
          const absl::Status status = co_await with_timeout(
              absl::Seconds(10), talk(listener->local_address(), tls, result));
          result.client = status;
          client_done = true;
        },
        "client");
    pool.spawn(
        [&]() -> Task<> {
          while (!client_done && counter.steps < cancel_after) co_await checkpoint();
          // The server runs until cancelled: at the k-th step, or once the client is done.
          result.cancelled = !client_done;
          server->cancel();
          // Connections waiting in the backlog are reset, so a client that was not accepted yet
          // sees an error rather than waiting for ever.
          (void)listener->close();
        },
        "canceller");
    co_return;
  });
  co_return result;
}

// One session on `driver`, the server cancelled after `cancel_after` of its steps.
struct Outcome {
  int64_t server_steps = 0;
  bool cancelled = false;
  bool echoed_all = false;
  bool hung = false;             // the client's 10 s deadline fired
  int64_t heap_blocks_left = 0;  // by the run and everything it returned, once all is gone
  int64_t openssl_blocks_left = 0;
  int descriptors_left = 0;
};

Outcome run_session(DriverKind driver, int64_t cancel_after, bool tls) {
  Outcome outcome;
  const int64_t allocations = live_allocations.load();
  const int64_t openssl = openssl_allocations.load();
  const int descriptors = open_descriptors();
  {
    ServerSteps counter;
    RunOptions options;
    options.driver = driver;
    options.instruments = {&counter};
    const Session s = run(session(counter, cancel_after, tls), std::move(options));
    outcome.server_steps = counter.steps;
    outcome.cancelled = s.cancelled;
    outcome.echoed_all = s.echoed_all;
    outcome.hung = absl::IsDeadlineExceeded(s.client);
  }
  outcome.heap_blocks_left = live_allocations.load() - allocations;
  outcome.openssl_blocks_left = openssl_allocations.load() - openssl;
  outcome.descriptors_left = open_descriptors() - descriptors;
  return outcome;
}

class EchoCancellationTest : public testing::OnEveryDriver {
 protected:
  // Cancels at every step of a session, plain or over TLS; returns how many were cancelled.
  void cancel_everywhere(bool tls) {
    (void)pki();  // made once, before anything is counted
    // An uncancelled session: how many steps the server takes. It and one cancelled session
    // also warm up what is allocated once per process (not a leak: it does not grow per run).
    const Outcome whole = run_session(GetParam(), INT64_MAX, tls);
    ASSERT_TRUE(whole.echoed_all);
    ASSERT_GT(whole.server_steps, 4);
    (void)run_session(GetParam(), 1, tls);
    int cancelled = 0;
    for (int64_t k = 1; k <= whole.server_steps; ++k) {
      const Outcome o = run_session(GetParam(), k, tls);
      // A cancelled server ends the client's session with an error or a short echo, never a
      // hang.
      EXPECT_FALSE(o.hung) << "k=" << k;
      EXPECT_TRUE(o.cancelled || o.echoed_all) << "k=" << k;
      EXPECT_EQ(o.descriptors_left, 0) << "k=" << k;
      EXPECT_EQ(o.heap_blocks_left, 0) << "k=" << k;
      EXPECT_EQ(o.openssl_blocks_left, 0) << "k=" << k;
#if defined(__SANITIZE_ADDRESS__)
      EXPECT_EQ(__lsan_do_recoverable_leak_check(), 0) << "k=" << k;
#endif
      if (o.cancelled) ++cancelled;
    }
    std::printf("%s%s: %lld server steps, cancelled at %d of them\n",
                testing::driver_test_name({GetParam(), 0}).c_str(), tls ? " TLS" : "",
                static_cast<long long>(whole.server_steps), cancelled);
    EXPECT_GE(cancelled, whole.server_steps / 2);
  }
};

TEST_P(EchoCancellationTest, CancellingAtEveryAwaitPointLeaksNothing) { cancel_everywhere(false); }

TEST_P(EchoCancellationTest, CancellingATlsSessionAtEveryAwaitPointLeaksNothing) {
  ASSERT_TRUE(openssl_counted) << "OpenSSL allocated before its allocations could be counted";
  cancel_everywhere(true);
}

GIAMBIO_ON_EVERY_DRIVER(EchoCancellationTest);

}  // namespace
}  // namespace giambio

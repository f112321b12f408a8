// With io_uring_setup forbidden by a seccomp filter (as container runtimes and hardened kernels
// do), the loop falls back to epoll by itself and TCP still works. A test binary of its own: the
// filter applies to the whole process and cannot be removed.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "giambio/giambio.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace giambio {
namespace {

// Makes io_uring_setup fail with EPERM for this process; everything else is allowed.
void forbid_io_uring_setup() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  ASSERT_EQ(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
  ASSERT_EQ(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program), 0);
}

TEST(FallbackTest, SeccompBlockedIoUringFallsBackToEpoll) {
  forbid_io_uring_setup();
  ASSERT_EQ(syscall(__NR_io_uring_setup, 1, nullptr), -1);
  ASSERT_EQ(errno, EPERM);

  auto body = []() -> Task<std::string> {
    EXPECT_STREQ(Loop::current("test").driver().name(), "epoll");
    absl::StatusOr<SocketListener> listener =
        SocketListener::listen(*SocketAddress::parse("127.0.0.1", 0));
    std::string reply;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        absl::StatusOr<SocketStream> server = co_await listener->accept();
        absl::StatusOr<std::string> got = co_await server->read_some(100);
        (void)co_await server->write_all(*got);
      });
      absl::StatusOr<SocketStream> client =
          co_await SocketStream::connect(listener->local_address());
      (void)co_await client->write_all("echo through epoll");
      reply = (co_await client->read_some(100)).value_or("");
    });
    co_return reply;
  };
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(run(body()), "echo through epoll");  // the default driver: io_uring, else epoll
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              ::testing::HasSubstr("io_uring is unavailable"));

  EXPECT_THROW(make_driver(DriverKind::kUring), std::runtime_error);
}

}  // namespace
}  // namespace giambio

// tools/bench/send_zc_bench.cc: where io_uring's zero-copy send (IORING_OP_SEND_ZC) pays, on
// this machine: plain send against send_zc over one TCP connection, for write sizes from 4 KiB
// to 1 MiB, with the sender's CPU per MiB and how often the kernel copied after all.
//
//   bazel run --config=opt //tools/bench:send_zc_bench -- [--mib=256] [--rounds=3]
//
// The sender (pinned to CPU 0) keeps one write in flight on an io_uring ring; a zero-copy write's
// buffer (one of 16) is reused only after its notification arrives, which also says
// (REPORT_USAGE, 6.2+) whether the kernel copied the bytes anyway. The receiver (CPU 1) drains the
// socket with plain recv. Both modes alternate within each round; each line is the median of the
// rounds.
//
// Over loopback the kernel always copies (the bytes go to a local socket, not to a device that
// could send from the pages), so what this measures here is zero-copy's own overhead; on a real
// NIC the same binary, run between two machines' worth of a connection, shows the threshold.
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int, mib, 256, "MiB each run sends.");
ABSL_FLAG(int, rounds, 3, "Rounds; each runs both modes at every size.");

namespace {

// Not in liburing 2.3's headers (kernel 6.2): ask the notification to say whether it copied.
#ifndef IORING_SEND_ZC_REPORT_USAGE
constexpr unsigned kReportUsage = 1U << 3;
#else
constexpr unsigned kReportUsage = IORING_SEND_ZC_REPORT_USAGE;
#endif
constexpr uint32_t kUsageCopied = 1U << 31;  // IORING_NOTIF_USAGE_ZC_COPIED, in the notif's res

[[noreturn]] void die(const char* what, int error) {
  std::fprintf(stderr, "send_zc_bench: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

double thread_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// A connected loopback TCP pair: {sender, receiver}.
std::pair<int, int> connected_pair() {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0) die("bind", errno);
  if (listen(listener, 1) != 0) die("listen", errno);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const int sender = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(sender, reinterpret_cast<sockaddr*>(&address), length) != 0) die("connect", errno);
  const int receiver = accept(listener, nullptr, nullptr);
  if (receiver < 0) die("accept", errno);
  close(listener);
  return {sender, receiver};
}

struct Result {
  double mib_per_second = 0;
  double cpu_us_per_mib = 0;
  double copied_fraction = 0;  // of zero-copy writes whose notification said "copied"
};

Result run(bool zero_copy, size_t write_bytes, size_t total_bytes) {
  auto [sender, receiver] = connected_pair();
  std::thread drain([receiver = receiver, total_bytes] {
    pin(1);
    std::vector<char> buffer(1 << 20);
    size_t got = 0;
    while (got < total_bytes) {
      const ssize_t n = recv(receiver, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  });
  pin(0);
  io_uring ring;
  if (const int error = io_uring_queue_init(64, &ring, 0); error != 0) die("io_uring", -error);
  // A zero-copy write's buffer stays the kernel's until its notification, which over loopback
  // comes only when the receiver has read the bytes: kBuffers let writes go on meanwhile.
  constexpr int kBuffers = 16;
  std::vector<std::vector<char>> buffers(kBuffers, std::vector<char>(write_bytes, 'z'));
  std::vector<bool> lent(kBuffers, false);
  int lent_count = 0;
  bool sending = false;
  size_t sent = 0;
  uint64_t notifications = 0;
  uint64_t copied = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  while (sent < total_bytes || lent_count > 0) {
    if (!sending && sent < total_bytes && lent_count < kBuffers) {
      const int free = static_cast<int>(std::find(lent.begin(), lent.end(), false) - lent.begin());
      const size_t chunk = std::min(write_bytes, total_bytes - sent);
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (zero_copy) {
        io_uring_prep_send_zc(sqe, sender, buffers[free].data(), chunk, MSG_NOSIGNAL, kReportUsage);
        lent[free] = true;
        ++lent_count;
      } else {
        io_uring_prep_send(sqe, sender, buffers[free].data(), chunk, MSG_NOSIGNAL);
      }
      io_uring_sqe_set_data64(sqe, static_cast<uint64_t>(free));
      io_uring_submit(&ring);
      sending = true;
    }
    io_uring_cqe* cqe = nullptr;
    if (const int error = io_uring_wait_cqe(&ring, &cqe); error != 0) die("wait", -error);
    const auto buffer = static_cast<size_t>(io_uring_cqe_get_data64(cqe));
    if (cqe->flags & IORING_CQE_F_NOTIF) {
      lent[buffer] = false;
      --lent_count;
      ++notifications;
      copied += (static_cast<uint32_t>(cqe->res) & kUsageCopied) != 0;
    } else {
      if (cqe->res < 0) die(zero_copy ? "send_zc" : "send", -cqe->res);
      sent += static_cast<size_t>(cqe->res);
      sending = false;
      if (zero_copy && !(cqe->flags & IORING_CQE_F_MORE)) {  // no notification will come
        lent[buffer] = false;
        --lent_count;
      }
    }
    io_uring_cqe_seen(&ring, cqe);
  }
  const double cpu = thread_cpu_seconds() - cpu_start;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io_uring_queue_exit(&ring);
  shutdown(sender, SHUT_WR);
  drain.join();
  close(sender);
  close(receiver);
  const double mib = static_cast<double>(total_bytes) / (1 << 20);
  return {mib / seconds, cpu * 1e6 / mib,
          notifications > 0 ? static_cast<double>(copied) / static_cast<double>(notifications) : 0};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int mib = absl::GetFlag(FLAGS_mib);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  if (mib < 1 || rounds < 1) {
    std::fprintf(stderr, "send_zc_bench: --mib=%d --rounds=%d: both must be at least 1\n", mib,
                 rounds);
    return 2;
  }
  const size_t sizes[] = {4096, 16384, 65536, 262144, 1048576};
  constexpr size_t kSizes = sizeof(sizes) / sizeof(sizes[0]);
  // [size][mode][round]
  std::vector<std::vector<std::vector<Result>>> results(kSizes,
                                                        std::vector<std::vector<Result>>(2));
  for (int round = 0; round < rounds; ++round) {
    for (size_t s = 0; s < kSizes; ++s) {
      for (int mode = 0; mode < 2; ++mode) {
        const bool zero_copy = (mode == 1) != (round % 2 == 1);  // alternate which goes first
        results[s][zero_copy].push_back(run(zero_copy, sizes[s], static_cast<size_t>(mib) << 20));
      }
    }
  }
  std::printf("%-9s %-8s %10s %14s %8s   %s\n", "write", "mode", "MiB/s", "cpu_us/MiB", "copied",
              "zc/send MiB/s, cpu");
  for (size_t s = 0; s < kSizes; ++s) {
    double rate[2];
    double cpu[2];
    for (int mode = 0; mode < 2; ++mode) {
      std::vector<double> rates, cpus, copies;
      for (const Result& r : results[s][mode]) {
        rates.push_back(r.mib_per_second);
        cpus.push_back(r.cpu_us_per_mib);
        copies.push_back(r.copied_fraction);
      }
      rate[mode] = median(rates);
      cpu[mode] = median(cpus);
      std::printf(
          "%-9zu %-8s %10.0f %14.1f %8s", sizes[s], mode ? "send_zc" : "send", rate[mode],
          cpu[mode],
          mode ? (std::to_string(static_cast<int>(median(copies) * 100)) + "%").c_str() : "-");
      if (mode == 1) std::printf("   %.2fx, %.2fx", rate[1] / rate[0], cpu[1] / cpu[0]);
      std::printf("\n");
    }
  }
  return 0;
}

#include "sim/faults.h"

#include "absl/strings/str_cat.h"

namespace giambio::sim {
namespace {

absl::Duration uniform_duration(Prng& prng, absl::Duration low, absl::Duration high) {
  const int64_t span = absl::ToInt64Nanoseconds(high - low);
  return low +
         absl::Nanoseconds(static_cast<int64_t>(prng.uniform(static_cast<uint64_t>(span) + 1)));
}

double uniform_rate(Prng& prng, double high) { return prng.uniform_double() * high; }

}  // namespace

Faults draw_swarm(Prng& prng) {
  Faults faults;
  // Each family draws the same number of values whether it is on or off, so switching one
  // family does not shift the draws of the next.
  auto family = [&](auto apply) {
    const bool on = prng.chance(0.5);
    Prng own = prng.split(0);
    if (on) apply(own);
  };
  family([&](Prng& p) {
    faults.network.latency = uniform_duration(p, absl::Microseconds(100), absl::Milliseconds(50));
  });
  family([&](Prng& p) {
    faults.network.jitter = uniform_duration(p, absl::ZeroDuration(), absl::Milliseconds(20));
  });
  family([&](Prng& p) { faults.network.loss = uniform_rate(p, 0.1); });
  family([&](Prng& p) { faults.network.duplication = uniform_rate(p, 0.1); });
  family([&](Prng& p) { faults.network.reorder = uniform_rate(p, 0.2); });
  family([&](Prng& p) {
    faults.network.bandwidth = 100'000 + static_cast<int64_t>(p.uniform(10'000'000));
  });
  family([&](Prng& p) {
    faults.disk.latency = uniform_duration(p, absl::Microseconds(10), absl::Milliseconds(20));
  });
  family([&](Prng& p) { faults.disk.read_error = uniform_rate(p, 0.05); });
  family([&](Prng& p) {
    faults.clock.max_offset = uniform_duration(p, absl::ZeroDuration(), absl::Seconds(10));
    faults.clock.max_drift_ppm = uniform_rate(p, 500);
  });
  family([&](Prng& p) {
    faults.schedule.partitions_per_minute = 0.5 + uniform_rate(p, 6);
    faults.schedule.partition_length =
        uniform_duration(p, absl::Milliseconds(100), absl::Seconds(20));
  });
  family([&](Prng& p) {
    faults.schedule.clogs_per_minute = 0.5 + uniform_rate(p, 6);
    faults.schedule.clog_length = uniform_duration(p, absl::Milliseconds(10), absl::Seconds(5));
  });
  family([&](Prng& p) {
    faults.schedule.crashes_per_minute = 0.2 + uniform_rate(p, 3);
    faults.schedule.downtime = uniform_duration(p, absl::Milliseconds(10), absl::Seconds(10));
  });
  return faults;
}

std::string describe(const Faults& f) {
  std::string out = absl::StrCat("latency=", absl::FormatDuration(f.network.latency));
  auto add = [&](bool on, auto&&... parts) {
    if (on) absl::StrAppend(&out, " ", parts...);
  };
  add(f.network.jitter > absl::ZeroDuration(), "jitter=", absl::FormatDuration(f.network.jitter));
  add(f.network.bandwidth > 0, "bandwidth=", f.network.bandwidth, "B/s");
  add(f.network.loss > 0, "loss=", f.network.loss);
  add(f.network.duplication > 0, "duplication=", f.network.duplication);
  add(f.network.reorder > 0, "reorder=", f.network.reorder);
  absl::StrAppend(&out, " disk_latency=", absl::FormatDuration(f.disk.latency));
  add(f.disk.jitter > absl::ZeroDuration(), "disk_jitter=", absl::FormatDuration(f.disk.jitter));
  add(f.disk.read_error > 0, "read_errors=", f.disk.read_error);
  add(!f.disk.torn_writes, "torn_writes=off");
  add(f.clock.max_offset > absl::ZeroDuration(),
      "clock_offset<=", absl::FormatDuration(f.clock.max_offset));
  add(f.clock.max_drift_ppm > 0, "drift<=", f.clock.max_drift_ppm, "ppm");
  add(f.schedule.partitions_per_minute > 0, "partitions/min=", f.schedule.partitions_per_minute,
      " (", absl::FormatDuration(f.schedule.partition_length), ")");
  add(f.schedule.clogs_per_minute > 0, "clogs/min=", f.schedule.clogs_per_minute, " (",
      absl::FormatDuration(f.schedule.clog_length), ")");
  add(f.schedule.crashes_per_minute > 0, "crashes/min=", f.schedule.crashes_per_minute, " (down ",
      absl::FormatDuration(f.schedule.downtime), ")");
  add(f.schedule.splits_per_minute > 0, "splits/min=", f.schedule.splits_per_minute, " (",
      absl::FormatDuration(f.schedule.partition_length), ")");
  return out;
}

}  // namespace giambio::sim

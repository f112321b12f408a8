// sim/faults.h: what can go wrong in a simulated world, and how often.
//
// A scenario states its faults in a Faults value; everything defaults to a healthy world (1 ms
// links, no loss, no crashes). With swarm testing, the seed itself draws which fault families
// are on and how strong (draw_swarm), so a sweep explores many different worlds, and the drawn
// configuration is printed with every failure so it can be read and replayed.
//
// The network, disk and clock faults act continuously. The schedule faults (random partitions,
// clogged links, crashes) are carried out by the world's "nemesis" task, which acts only while
// the scenario runs and only on hosts marked crashable.
#ifndef SIM_FAULTS_H_
#define SIM_FAULTS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "giambio/prng.h"

namespace giambio::sim {

struct NetworkFaults {
  // One-way delay of every link, plus a uniformly drawn extra in [0, jitter].
  absl::Duration latency = absl::Milliseconds(1);
  absl::Duration jitter = absl::ZeroDuration();
  // Bytes per second of each link in each direction; 0 is unlimited.
  int64_t bandwidth = 0;
  // Datagram faults (TCP stays reliable and ordered: its losses show as delay).
  double loss = 0;         // a datagram is dropped
  double duplication = 0;  // a datagram is delivered twice
  double reorder = 0;      // a datagram is held back by 1-3 latencies, so later ones overtake it
};

struct DiskFaults {
  // Every disk operation takes latency plus a uniformly drawn extra in [0, jitter].
  absl::Duration latency = absl::Microseconds(100);
  absl::Duration jitter = absl::ZeroDuration();
  double read_error = 0;  // a read fails with EIO
  // On a crash, each write not yet fsynced is kept, lost, or torn (a prefix of it kept), one
  // third each. With false, a crash loses every unsynced write.
  bool torn_writes = true;
};

struct ClockFaults {
  // Each host's wall clock (giambio::wall_time) is off by a drawn offset in
  // [-max_offset, max_offset] and runs fast or slow by up to max_drift_ppm.
  absl::Duration max_offset = absl::ZeroDuration();
  double max_drift_ppm = 0;
};

// Faults the nemesis task injects at random moments; each kind is a mean rate per simulated
// minute (0: never).
struct ScheduleFaults {
  double partitions_per_minute = 0;  // a random pair of hosts cut, one way or both
  absl::Duration partition_length = absl::Seconds(5);
  double clogs_per_minute = 0;  // a random link stalls for a while
  absl::Duration clog_length = absl::Seconds(1);
  double crashes_per_minute = 0;               // a random crashable host crashes ...
  absl::Duration downtime = absl::Seconds(2);  // ... and restarts after this long
  // The hosts split into two random groups that cannot reach each other (both ways) for
  // partition_length: a leader cut off from most of its peers but not from every client, say.
  double splits_per_minute = 0;
};

struct Faults {
  NetworkFaults network;
  DiskFaults disk;
  ClockFaults clock;
  ScheduleFaults schedule;
};

// Swarm testing: from `prng`, switches each fault family on or off (half the time each) and
// draws its strength within fixed ceilings (loss up to 10%, latency up to 50 ms, ...).
Faults draw_swarm(Prng& prng);

// One line naming every fault that is on: "latency=1ms jitter=3ms loss=0.05 crashes/min=2 ...".
std::string describe(const Faults& faults);

}  // namespace giambio::sim

#endif  // SIM_FAULTS_H_

// tools/bench/resident.h: the process's resident memory, for the micro-benchmarks' bytes per
// sleeping task (giambio_micro, asio_micro; Go and tokio read the same /proc/self/statm).
#ifndef TOOLS_BENCH_RESIDENT_H_
#define TOOLS_BENCH_RESIDENT_H_

#include <unistd.h>

#include <cstdio>

namespace giambio::bench {

// Resident bytes now (/proc/self/statm's second field, in pages), or 0 if it cannot be read.
inline long resident_bytes() {
  long pages = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%*s %ld", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  return pages * sysconf(_SC_PAGESIZE);
}

}  // namespace giambio::bench

#endif  // TOOLS_BENCH_RESIDENT_H_

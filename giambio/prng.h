// giambio/prng.h: the project's own seeded pseudo-random generator.
//
// Simulation runs must replay bit for bit from a seed, on every build and in every process, so
// neither <random>'s distributions nor absl::BitGen (both free to change between builds) may
// decide anything the simulator records. This is xoshiro256** seeded through splitmix64, with
// its own distribution code. `split` derives an independent stream, so each subsystem (the
// scheduler, the network, the disk) draws from its own and adding draws to one does not
// reshuffle the others.
#ifndef GIAMBIO_INTERNAL_PRNG_H_
#define GIAMBIO_INTERNAL_PRNG_H_

#include <cstdint>

namespace giambio {

class Prng {
 public:
  explicit Prng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : state_) word = splitmix64(x);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // A uniform integer in [0, bound), bound > 0, without modulo bias (Lemire's method).
  uint64_t uniform(uint64_t bound) {
    unsigned __int128 product = static_cast<unsigned __int128>(next()) * bound;
    uint64_t low = static_cast<uint64_t>(product);
    if (low < bound) {
      const uint64_t threshold = -bound % bound;
      while (low < threshold) {
        product = static_cast<unsigned __int128>(next()) * bound;
        low = static_cast<uint64_t>(product);
      }
    }
    return static_cast<uint64_t>(product >> 64);
  }

  // A uniform double in [0, 1) with 53 random bits.
  double uniform_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // True with probability `p` (clamped to [0, 1]).
  bool chance(double p) { return uniform_double() < p; }

  // An independent generator for a named subsystem; `stream` tells the streams apart.
  Prng split(uint64_t stream) {
    uint64_t x = next() ^ (stream * 0x9E3779B97F4A7C15ULL);
    return Prng(splitmix64(x));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t state_[4];
};

}  // namespace giambio

#endif  // GIAMBIO_PRNG_H_

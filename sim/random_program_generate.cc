// Random programs (random_program.h): generating a valid program from a seed.
#include <string>
#include <utility>
#include <vector>

#include "giambio/prng.h"
#include "sim/random_program.h"
#include "sim/random_program_parts.h"

namespace giambio::sim {

using Kind = Node::Kind;

namespace {

class Generator {
 public:
  static constexpr int kDepth = 4;

  explicit Generator(uint64_t seed) : prng_(seed ^ 0x7261'6e64'6f6dULL) {}

  Node node(int depth, Mode mode) {
    --budget_;
    // The root is never a leaf; below it, leaves grow likelier with depth.
    if (depth == 0 || budget_ <= 0 || (depth < kDepth && prng_.chance(0.15 * (kDepth - depth)))) {
      return leaf(mode);
    }
    switch (prng_.uniform(mode == Mode::kLockBody ? 6 : 8)) {
      case 0:
        return group(Kind::kSeq, depth, mode);
      case 1: {
        Node pool = group(Kind::kPool, depth, mode);
        if (prng_.chance(0.3)) pool.children.push_back({Kind::kCancelPool, duration(), {}});
        return pool;
      }
      case 2:
        return wrap(Kind::kTimeout, duration(), depth, mode);
      case 3:
        return wrap(Kind::kSkipAfter, duration(), depth, mode);
      case 4:
        return wrap(Kind::kShield, 0, depth, mode);
      case 5:
        return wrap(Kind::kCatch, 0, depth, mode);
      case 6:
        return wrap(Kind::kLock, static_cast<int64_t>(prng_.uniform(2)), depth, Mode::kLockBody);
      default: {
        static constexpr int64_t kBuffers[] = {0, 1, 4};
        Node channel{Kind::kChannel, kBuffers[prng_.uniform(3)], {}};
        channel.children.push_back(tasks(depth, Mode::kProducer));
        channel.children.push_back(tasks(depth, Mode::kConsumer));
        return channel;
      }
    }
  }

 private:
  Node leaf(Mode mode) {
    const double draw = prng_.uniform_double();
    if (draw < 0.08) return {Kind::kFail, next_fail_++, {}};
    if (mode == Mode::kProducer && draw < 0.45) return {Kind::kSend, count(), {}};
    if (mode == Mode::kConsumer && draw < 0.45) return {Kind::kReceive, count(), {}};
    if (draw < 0.8) return {Kind::kSleep, duration(), {}};
    return {Kind::kCheckpoint, 0, {}};
  }
  // Few distinct values, so that deadlines and wakeups often fall on the same instant.
  int64_t duration() {
    static constexpr int64_t kMs[] = {0, 1, 2, 3, 5, 8};
    return kMs[prng_.uniform(6)];
  }
  int64_t count() { return 1 + static_cast<int64_t>(prng_.uniform(4)); }
  Node group(Kind kind, int depth, Mode mode) {
    Node n{kind, 0, {}};
    const uint64_t size = 2 + prng_.uniform(2);
    for (uint64_t i = 0; i < size; ++i) n.children.push_back(node(depth - 1, mode));
    return n;
  }
  Node wrap(Kind kind, int64_t value, int depth, Mode mode) {
    Node n{kind, value, {}};
    n.children.push_back(node(depth - 1, mode));
    return n;
  }
  Node tasks(int depth, Mode mode) {
    Node n{Kind::kPool, 0, {}};
    const uint64_t size = 1 + prng_.uniform(2);
    for (uint64_t i = 0; i < size; ++i) n.children.push_back(node(depth - 1, mode));
    return n;
  }

  Prng prng_;
  int budget_ = 40;
  int64_t next_fail_ = 1;
};

}  // namespace

Program generate_program(uint64_t seed) {
  Generator generator(seed);
  return Program{generator.node(Generator::kDepth, Mode::kAny)};
}

}  // namespace giambio::sim

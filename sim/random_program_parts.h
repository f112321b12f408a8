// sim/random_program_parts.h: what the parts of the random-program checker share (the node
// tree in random_program.cc, the generator, the checker and the shrinker). Only they include it.
#ifndef SIM_RANDOM_PROGRAM_PARTS_H_
#define SIM_RANDOM_PROGRAM_PARTS_H_

#include <cstdint>
#include <string>

#include "sim/random_program.h"

namespace giambio::sim {

// Where a node stands: in a producer (may send), a consumer (may receive), a lock's body
// (sleeps, checkpoints, failures, and scopes around them: nothing that waits on another task),
// or anywhere else.
enum class Mode { kAny, kProducer, kConsumer, kLockBody };

// "5ms"
std::string ms(int64_t value);
// Whether a shield is anywhere in the node's subtree.
bool has_shield(const Node& n);

}  // namespace giambio::sim

#endif  // SIM_RANDOM_PROGRAM_PARTS_H_

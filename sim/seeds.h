// sim/seeds.h: seed ranges as people type them: "N" (seeds 0 .. N-1, N >= 1) or "A..B"
// (A .. B-1, A < B). Never empty.
#ifndef SIM_SEEDS_H_
#define SIM_SEEDS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace giambio::sim {

// The half-open range [first, end); InvalidArgument naming `what` and the value otherwise.
absl::StatusOr<std::pair<uint64_t, uint64_t>> parse_seed_range(const std::string& text,
                                                               const std::string& what);

// A non-negative integer; InvalidArgument naming `what` and the value otherwise.
absl::StatusOr<uint64_t> parse_seed(const std::string& text, const std::string& what);

}  // namespace giambio::sim

#endif  // SIM_SEEDS_H_

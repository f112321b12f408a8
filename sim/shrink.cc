#include "sim/shrink.h"

#include <algorithm>

namespace giambio::sim {

ShrinkResult shrink_faults(const std::vector<uint64_t>& faults,
                           const std::function<bool(const std::set<uint64_t>&)>& fails,
                           size_t max_runs) {
  ShrinkResult result;
  std::vector<uint64_t> current(faults);
  std::sort(current.begin(), current.end());
  auto trial = [&](const std::vector<uint64_t>& subset) {
    ++result.runs;
    return fails(std::set<uint64_t>(subset.begin(), subset.end()));
  };
  result.reproduced = trial(current);
  if (!result.reproduced) {
    result.faults = current;
    return result;
  }
  if (!current.empty() && trial({})) current.clear();
  size_t parts = 2;
  while (current.size() >= 2) {
    if (result.runs >= max_runs) {
      result.faults = current;
      return result;
    }
    parts = std::min(parts, current.size());
    // The parts: as even as they can be.
    std::vector<std::vector<uint64_t>> chunks(parts);
    for (size_t i = 0; i < current.size(); ++i)
      chunks[i * parts / current.size()].push_back(current[i]);
    bool reduced = false;
    for (const std::vector<uint64_t>& chunk : chunks) {
      if (result.runs >= max_runs) break;
      if (trial(chunk)) {
        current = chunk;
        parts = 2;
        reduced = true;
        break;
      }
    }
    if (!reduced && parts > 2) {
      for (size_t leave = 0; leave < chunks.size() && result.runs < max_runs; ++leave) {
        std::vector<uint64_t> complement;
        for (size_t c = 0; c < chunks.size(); ++c) {
          if (c != leave) complement.insert(complement.end(), chunks[c].begin(), chunks[c].end());
        }
        std::sort(complement.begin(), complement.end());
        if (trial(complement)) {
          current = std::move(complement);
          parts = std::max<size_t>(parts - 1, 2);
          reduced = true;
          break;
        }
      }
    }
    if (reduced) continue;
    if (parts >= current.size()) break;  // every single fault is needed
    parts = std::min(2 * parts, current.size());
  }
  result.faults = current;
  result.minimal = result.runs < max_runs || current.size() <= 1;
  return result;
}

}  // namespace giambio::sim

#include "sim/links.h"

#include <algorithm>
#include <tuple>

#include "sim/world.h"

namespace giambio::sim {

bool Links::blocked(uint32_t from, uint32_t to) {
  const Link& l = link(from, to);
  return l.cut || world_.now() < l.clogged_until;
}

absl::Duration Links::delay(uint32_t from, uint32_t to) {
  if (from == to) return absl::ZeroDuration();
  const Link& l = link(from, to);
  absl::Duration latency = world_.faults().network.latency;
  absl::Duration jitter = world_.faults().network.jitter;
  if (l.delay) std::tie(latency, jitter) = *l.delay;
  if (jitter > absl::ZeroDuration()) {
    latency += absl::Nanoseconds(static_cast<int64_t>(
        prng_.uniform(static_cast<uint64_t>(absl::ToInt64Nanoseconds(jitter)) + 1)));
  }
  return latency;
}

absl::Time Links::start_sending(uint32_t from, uint32_t to, size_t bytes) {
  const int64_t bandwidth = world_.faults().network.bandwidth;
  if (bandwidth <= 0 || from == to || bytes == 0) return world_.now();
  Link& l = link(from, to);
  l.busy_until = std::max(l.busy_until, world_.now()) +
                 absl::Nanoseconds(static_cast<int64_t>(bytes) * 1'000'000'000 / bandwidth);
  return l.busy_until;
}

Links::Link& Links::link(uint32_t from, uint32_t to) {
  if (from >= links_.size()) links_.resize(from + 1);
  std::vector<Link>& row = links_[from];
  if (to >= row.size()) row.resize(to + 1);
  return row[to];
}

std::vector<std::pair<uint32_t, uint32_t>> Links::cut_links() const {
  std::vector<std::pair<uint32_t, uint32_t>> cut;
  for (uint32_t from = 0; from < links_.size(); ++from) {
    for (uint32_t to = 0; to < links_[from].size(); ++to) {
      if (links_[from][to].cut) cut.emplace_back(from, to);
    }
  }
  return cut;
}

void Links::clog(uint32_t from, uint32_t to, absl::Time until) {
  Link& l = link(from, to);
  l.clogged_until = std::max(l.clogged_until, until);
}

void Links::set_delay(uint32_t from, uint32_t to, absl::Duration latency, absl::Duration jitter) {
  link(from, to).delay = std::make_pair(latency, jitter);
}

}  // namespace giambio::sim

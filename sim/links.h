// sim/links.h: the links between a world's hosts, one per direction.
//
// A link carries what the network sends from one host to another and decides three things:
// whether anything passes now (a cut link passes nothing until it is healed; a clogged one
// nothing until its clog ends), how long a message takes (the world's latency and jitter, or the
// link's own delay), and, with a bandwidth limit, when a message can start (messages queue
// behind each other on a busy link). A host's link to itself is never cut and has no delay.
// Jitter is drawn from the links' own stream of the seed, one draw per delay() call.
#ifndef SIM_LINKS_H_
#define SIM_LINKS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "giambio/prng.h"

namespace giambio::sim {

class World;

class Links {
 public:
  Links(World& world, Prng prng) : world_(world), prng_(prng) {}

  // Cut, or clogged now.
  bool blocked(uint32_t from, uint32_t to);
  bool cut(uint32_t from, uint32_t to) { return link(from, to).cut; }
  absl::Time clogged_until(uint32_t from, uint32_t to) { return link(from, to).clogged_until; }
  // How long a message sent now takes (latency plus a jitter drawn now).
  absl::Duration delay(uint32_t from, uint32_t to);
  // When `bytes` sent now start on the link, after what is queued on it (now, without a
  // bandwidth limit, on a host's own link, or for a message with no payload).
  absl::Time start_sending(uint32_t from, uint32_t to, size_t bytes);

  void set_cut(uint32_t from, uint32_t to, bool cut) { link(from, to).cut = cut; }
  // The links that are cut now, in (from, to) order.
  std::vector<std::pair<uint32_t, uint32_t>> cut_links() const;
  // Nothing passes until `until` (a later clog extends an earlier one).
  void clog(uint32_t from, uint32_t to, absl::Time until);
  void set_delay(uint32_t from, uint32_t to, absl::Duration latency, absl::Duration jitter);

 private:
  struct Link {
    bool cut = false;
    absl::Time clogged_until = absl::InfinitePast();
    absl::Time busy_until = absl::InfinitePast();
    std::optional<std::pair<absl::Duration, absl::Duration>> delay;  // latency, jitter
  };
  Link& link(uint32_t from, uint32_t to);

  World& world_;
  Prng prng_;
  // links_[from][to], grown on first use: host ids are small and dense (0 is the world).
  std::vector<std::vector<Link>> links_;
};

}  // namespace giambio::sim

#endif  // SIM_LINKS_H_

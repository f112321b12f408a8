// Random programs (random_program.h): shrinking a failing program to a small one that still
// fails the same way.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "sim/random_program.h"
#include "sim/random_program_parts.h"

namespace giambio::sim {

using Kind = Node::Kind;

namespace {

// The node at `path` (child indices from the root).
template <typename N>  // Node or const Node
N& at(N& root, const std::vector<size_t>& path) {
  N* n = &root;
  for (size_t i : path) n = &n->children[i];
  return *n;
}

void collect_paths(const Node& n, std::vector<size_t>& path,
                   std::vector<std::vector<size_t>>& out) {
  out.push_back(path);
  for (size_t i = 0; i < n.children.size(); ++i) {
    path.push_back(i);
    collect_paths(n.children[i], path, out);
    path.pop_back();
  }
}

// Smaller variants of `p`, the biggest cuts first: removing a child, replacing a node by one of
// its children, then lowering a number.
std::vector<Program> candidates(const Program& p) {
  std::vector<std::vector<size_t>> paths;
  std::vector<size_t> path;
  collect_paths(p.root, path, paths);
  std::vector<Program> out;
  for (const std::vector<size_t>& where : paths) {
    const Node& n = at(p.root, where);
    for (size_t i = 0; i < n.children.size(); ++i) {
      Program removed = p;
      Node& target = at(removed.root, where);
      target.children.erase(target.children.begin() + static_cast<ptrdiff_t>(i));
      out.push_back(std::move(removed));
      // A channel's producer and consumer groups are not nodes that run by themselves.
      if (n.kind == Kind::kChannel) continue;
      Program hoisted = p;
      Node child = at(hoisted.root, where).children[i];
      at(hoisted.root, where) = std::move(child);
      out.push_back(std::move(hoisted));
    }
    // The tasks of a channel's groups, hoisted in place of the channel.
    if (n.kind == Kind::kChannel) {
      for (size_t side = 0; side < 2; ++side) {
        for (size_t i = 0; i < n.children[side].children.size(); ++i) {
          Program hoisted = p;
          Node task = at(hoisted.root, where).children[side].children[i];
          at(hoisted.root, where) = std::move(task);
          out.push_back(std::move(hoisted));
        }
      }
    }
  }
  for (const std::vector<size_t>& where : paths) {
    const Node& n = at(p.root, where);
    const bool numbered = n.kind == Kind::kSleep || n.kind == Kind::kTimeout ||
                          n.kind == Kind::kSkipAfter || n.kind == Kind::kCancelPool ||
                          n.kind == Kind::kChannel || n.kind == Kind::kSend ||
                          n.kind == Kind::kReceive;
    if (!numbered) continue;
    const int64_t floor = (n.kind == Kind::kSend || n.kind == Kind::kReceive) ? 1 : 0;
    for (int64_t lower : {floor, n.value / 2, n.value - 1}) {
      if (lower < floor || lower >= n.value) continue;
      Program lowered = p;
      at(lowered.root, where).value = lower;
      out.push_back(std::move(lowered));
    }
  }
  return out;
}

// "lock" of "lock: lock0 held at the end": what kind of invariant broke.
std::string category(const CheckResult& result) {
  if (result.ok()) return "";
  const std::string& first = result.violations.front();
  return first.substr(0, first.find(':'));
}

}  // namespace

Program shrink_program(const Program& failing, uint64_t seed, PlantedBug bug, int max_attempts) {
  const std::string wanted = category(check_program(failing, seed, bug));
  if (wanted.empty()) return failing;
  Program best = failing;
  int attempts = 0;
  bool progress = true;
  while (progress && attempts < max_attempts) {
    progress = false;
    for (Program& candidate : candidates(best)) {
      if (!is_valid(candidate)) continue;
      if (++attempts > max_attempts) break;
      const CheckResult result = check_program(candidate, seed, bug);
      bool same_kind = false;
      for (const std::string& v : result.violations) {
        if (v.substr(0, v.find(':')) == wanted) same_kind = true;
      }
      if (same_kind) {
        best = std::move(candidate);
        progress = true;
        break;
      }
    }
  }
  return best;
}

}  // namespace giambio::sim

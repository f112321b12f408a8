// Random programs (random_program.h): the node tree, printed and checked for structure.
#include "sim/random_program.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/random_program_parts.h"

namespace giambio::sim {

using Kind = Node::Kind;

std::string ms(int64_t value) { return absl::StrCat(value, "ms"); }

bool has_shield(const Node& n) {
  if (n.kind == Kind::kShield) return true;
  for (const Node& child : n.children) {
    if (has_shield(child)) return true;
  }
  return false;
}

namespace {

std::string node_string(const Node& n) {
  auto list = [](const std::vector<Node>& nodes) {
    std::vector<std::string> parts;
    for (const Node& child : nodes) parts.push_back(node_string(child));
    return absl::StrJoin(parts, ", ");
  };
  auto wrap = [&](const std::string& head) {
    return absl::StrCat(head, "(", n.children.empty() ? "" : node_string(n.children[0]), ")");
  };
  switch (n.kind) {
    case Kind::kSleep:
      return absl::StrCat("sleep ", ms(n.value));
    case Kind::kCheckpoint:
      return "checkpoint";
    case Kind::kFail:
      return absl::StrCat("fail#", n.value);
    case Kind::kSeq:
      return absl::StrCat("seq(", list(n.children), ")");
    case Kind::kPool:
      return absl::StrCat("pool(", list(n.children), ")");
    case Kind::kCancelPool:
      return absl::StrCat("cancel_pool ", ms(n.value));
    case Kind::kTimeout:
      return wrap(absl::StrCat("timeout ", ms(n.value)));
    case Kind::kSkipAfter:
      return wrap(absl::StrCat("skip_after ", ms(n.value)));
    case Kind::kShield:
      return wrap("shield");
    case Kind::kCatch:
      return wrap("catch");
    case Kind::kLock:
      return wrap(absl::StrCat("lock", n.value));
    case Kind::kChannel:
      return absl::StrCat("channel[", n.value, "](producers(", list(n.children[0].children),
                          "), consumers(", list(n.children[1].children), "))");
    case Kind::kSend:
      return absl::StrCat("send ", n.value);
    case Kind::kReceive:
      return absl::StrCat("receive ", n.value);
  }
  return "?";
}

int node_size(const Node& n) {
  int size = 1;
  for (const Node& child : n.children) size += node_size(child);
  return size;
}

bool valid_node(const Node& n, Mode mode, bool in_pool) {
  auto children_valid = [&](Mode m, bool pool) {
    for (const Node& child : n.children) {
      if (!valid_node(child, m, pool)) return false;
    }
    return true;
  };
  switch (n.kind) {
    case Kind::kSleep:
    case Kind::kCheckpoint:
    case Kind::kFail:
      return n.children.empty() && n.value >= 0;
    case Kind::kCancelPool:
      return in_pool && n.children.empty() && n.value >= 0;
    case Kind::kSend:
      return mode == Mode::kProducer && n.value >= 1;
    case Kind::kReceive:
      return mode == Mode::kConsumer && n.value >= 1;
    case Kind::kSeq:
      return !n.children.empty() && children_valid(mode, false);
    case Kind::kPool:
      return !n.children.empty() && children_valid(mode, true);
    case Kind::kTimeout:
    case Kind::kSkipAfter:
    case Kind::kShield:
    case Kind::kCatch:
      return n.children.size() == 1 && n.value >= 0 && children_valid(mode, false);
    case Kind::kLock:
      return mode != Mode::kLockBody && (n.value == 0 || n.value == 1) && n.children.size() == 1 &&
             children_valid(Mode::kLockBody, false);
    case Kind::kChannel: {
      if (mode == Mode::kLockBody || n.children.size() != 2 || n.value < 0) return false;
      for (int side = 0; side < 2; ++side) {
        const Node& group = n.children[side];
        if (group.kind != Kind::kPool) return false;
        for (const Node& task : group.children) {
          if (!valid_node(task, side == 0 ? Mode::kProducer : Mode::kConsumer, false)) {
            return false;
          }
        }
      }
      return true;
    }
  }
  return false;
}

}  // namespace

std::string Program::to_string() const { return node_string(root); }
int Program::size() const { return node_size(root); }
bool is_valid(const Program& program) { return valid_node(program.root, Mode::kAny, false); }

std::string CheckResult::to_string() const { return absl::StrJoin(violations, "\n"); }

}  // namespace giambio::sim

#include "sim/random_program.h"

#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "giambio/giambio.h"
#include "giambio/prng.h"
#include "sim/world.h"

namespace giambio::sim {

using Kind = Node::Kind;

// ---------------------------------------------------------------------------------------------
// Printing and structure
// ---------------------------------------------------------------------------------------------
namespace {

std::string ms(int64_t value) { return absl::StrCat(value, "ms"); }

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

bool has_shield(const Node& n) {
  if (n.kind == Kind::kShield) return true;
  for (const Node& child : n.children) {
    if (has_shield(child)) return true;
  }
  return false;
}

// Where a node stands: in a producer (may send), a consumer (may receive), a lock's body
// (sleeps, checkpoints, failures, and scopes around them: nothing that waits on another task),
// or anywhere else.
enum class Mode { kAny, kProducer, kConsumer, kLockBody };

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

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Running and checking
// ---------------------------------------------------------------------------------------------
namespace {

class ProgramError : public std::runtime_error {
 public:
  explicit ProgramError(int64_t id) : std::runtime_error(absl::StrCat("fail#", id)), id_(id) {}
  int64_t id() const { return id_; }

 private:
  int64_t id_;
};

// Items sent and received on one channel of one run.
struct Tally {
  std::map<uint64_t, int> sent;
  std::map<uint64_t, int> received;
};

struct RunState {
  PlantedBug bug;
  std::vector<std::string> violations;
  int64_t tasks_started = 0;
  int64_t tasks_ended = 0;
  std::vector<int64_t> raised;
  std::map<int64_t, int> surfaced;
  Lock locks[2];
  int holders[2] = {0, 0};
  uint64_t next_item = 1;

  void violation(std::string text) {
    if (violations.size() < 20) violations.push_back(std::move(text));
  }
  // Records the program errors in `error` (a ProgramError or a MultiError of them).
  void surface(const std::exception_ptr& error) {
    try {
      std::rethrow_exception(error);
    } catch (const ProgramError& e) {
      ++surfaced[e.id()];
    } catch (const MultiError& e) {
      for (const std::exception_ptr& inner : e.errors()) surface(inner);
    } catch (...) {
      violation(absl::StrCat("unexpected exception: ", giambio::describe(error)));
    }
  }
};

struct Context {
  RunState* run;
  MemorySendChannel<uint64_t>* tx = nullptr;
  MemoryReceiveChannel<uint64_t>* rx = nullptr;
  Tally* tally = nullptr;
  Pool* pool = nullptr;
  std::optional<absl::Time>* pool_cancelled_at = nullptr;
};

// Counts a task's start and (from its destructor, whatever way the task ends) its end.
class TaskCount {
 public:
  explicit TaskCount(RunState* run) : run_(run) { ++run_->tasks_started; }
  ~TaskCount() { ++run_->tasks_ended; }
  TaskCount(const TaskCount&) = delete;
  TaskCount& operator=(const TaskCount&) = delete;

 private:
  RunState* run_;
};

class Holding {
 public:
  Holding(RunState* run, int64_t lock) : count_(run->holders[lock]) {
    if (++count_ > 1) run->violation(absl::StrCat("lock: lock", lock, " has two holders"));
  }
  ~Holding() { --count_; }
  Holding(const Holding&) = delete;
  Holding& operator=(const Holding&) = delete;

 private:
  int& count_;
};

Task<> exec(const Node& n, Context ctx);

Task<> run_task(const Node* n, Context ctx) {
  TaskCount count(ctx.run);
  co_await exec(*n, ctx);
}

Task<> producer(const Node* n, Context ctx, MemorySendChannel<uint64_t> tx) {
  TaskCount count(ctx.run);
  ctx.tx = &tx;
  co_await exec(*n, ctx);
}  // the task's send handle closes here

Task<> consumer(const Node* n, Context ctx, MemoryReceiveChannel<uint64_t> rx, int* left,
                Event* done) {
  TaskCount count(ctx.run);
  struct Leave {
    int* left;
    Event* done;
    ~Leave() {
      if (--*left == 0) done->set();
    }
  } leave{left, done};
  ctx.rx = &rx;
  co_await exec(*n, ctx);
}

Task<> receive_until_end(MemoryReceiveChannel<uint64_t>* rx, Tally* tally, Event* consumers_done) {
  co_await consumers_done->wait();
  while (true) {
    absl::StatusOr<uint64_t> item = co_await rx->receive();
    if (!item.ok()) co_return;
    ++tally->received[*item];
  }
}

// Receives what the consumers leave once they have all ended, so that producers never wait
// forever. Shielded: it ends when the producers do.
Task<> drain(MemoryReceiveChannel<uint64_t>* rx, Tally* tally, Event* consumers_done) {
  CancelScope shield;
  shield.set_shield(true);
  co_await shield.run(receive_until_end(rx, tally, consumers_done));
}

// Checks a with_timeout or skip_after that started at `start`: did it end on time?
void check_deadline(RunState& run, const Node& n, absl::Time start, bool fired) {
  const absl::Time deadline = start + absl::Milliseconds(n.value);
  const absl::Time end = now();
  const bool shielded = has_shield(n);
  const std::string what =
      absl::StrCat(n.kind == Kind::kTimeout ? "timeout " : "skip_after ", ms(n.value),
                   " started at ", absl::FormatDuration(start - absl::UnixEpoch()));
  if (fired && (end < deadline || (!shielded && end != deadline))) {
    run.violation(absl::StrCat("deadline: ", what, " fired at ",
                               absl::FormatDuration(end - absl::UnixEpoch())));
  }
  if (!fired && !shielded && end > deadline) {
    run.violation(absl::StrCat("deadline: ", what, " let its body run until ",
                               absl::FormatDuration(end - absl::UnixEpoch())));
  }
}

Task<> exec_pool(const Node& n, Context ctx) {
  std::optional<absl::Time> cancelled_at;
  co_await with_pool([&](Pool& pool) -> Task<> {
    Context inner = ctx;
    inner.pool = &pool;
    inner.pool_cancelled_at = &cancelled_at;
    for (const Node& child : n.children) pool.spawn(run_task(&child, inner));
    co_return;
  });
  if (cancelled_at && !has_shield(n) && now() != *cancelled_at) {
    ctx.run->violation(absl::StrCat("deadline: pool cancelled at ",
                                    absl::FormatDuration(*cancelled_at - absl::UnixEpoch()),
                                    " ended at ", absl::FormatDuration(now() - absl::UnixEpoch())));
  }
}

Task<> exec_channel(const Node& n, Context ctx) {
  auto channel = open_memory_channel<uint64_t>(static_cast<size_t>(n.value));
  MemorySendChannel<uint64_t>& tx = channel.first;
  MemoryReceiveChannel<uint64_t>& rx = channel.second;
  Tally tally;
  int consumers_left = static_cast<int>(n.children[1].children.size());
  Event consumers_done;
  std::exception_ptr error;
  try {
    co_await with_pool([&](Pool& pool) -> Task<> {
      Context inner = ctx;
      inner.tally = &tally;
      for (const Node& task : n.children[0].children) {
        pool.spawn(producer(&task, inner, *tx.clone()));
      }
      for (const Node& task : n.children[1].children) {
        pool.spawn(consumer(&task, inner, *rx.clone(), &consumers_left, &consumers_done));
      }
      if (consumers_left == 0) consumers_done.set();
      pool.spawn(drain(&rx, &tally, &consumers_done));
      tx.close();
      co_return;
    });
  } catch (...) {
    error = std::current_exception();
  }
  // Whatever is still buffered (the drainer may have been cut short by an error).
  for (absl::StatusOr<uint64_t> item = rx.try_receive(); item.ok(); item = rx.try_receive()) {
    ++tally.received[*item];
  }
  for (const auto& [item, times] : tally.received) {
    const int sent = tally.sent.count(item) ? tally.sent.at(item) : 0;
    if (sent != 1 || times != 1) {
      ctx.run->violation(absl::StrCat("channel: item ", item, " sent ", sent, " times, received ",
                                      times, " times"));
    }
  }
  for (const auto& [item, times] : tally.sent) {
    if (!tally.received.count(item)) {
      ctx.run->violation(
          absl::StrCat("channel: item ", item, " sent ", times, " times, received 0 times"));
    }
  }
  if (error) std::rethrow_exception(error);
}

Task<> exec_send(const Node& n, Context ctx) {
  for (int64_t i = 0; i < n.value; ++i) {
    const uint64_t item = ctx.run->next_item++;
    const bool early = ctx.run->bug == PlantedBug::kCountSendBeforeItReturns;
    if (early) ++ctx.tally->sent[item];
    absl::Status sent = co_await ctx.tx->send(item);
    if (!sent.ok()) {
      ctx.run->violation(absl::StrCat("channel: send of item ", item, ": ", sent.ToString()));
      co_return;
    }
    if (!early) ++ctx.tally->sent[item];
  }
}

Task<> exec_receive(const Node& n, Context ctx) {
  for (int64_t i = 0; i < n.value; ++i) {
    absl::StatusOr<uint64_t> item = co_await ctx.rx->receive();
    if (is_end_of_channel(item.status())) co_return;
    if (!item.ok()) {
      ctx.run->violation(absl::StrCat("channel: receive: ", item.status().ToString()));
      co_return;
    }
    ++ctx.tally->received[*item];
  }
}

Task<> exec_lock(const Node& n, Context ctx) {
  Lock& lock = ctx.run->locks[n.value];
  if (ctx.run->bug == PlantedBug::kLockLeakedOnUnwind) {
    co_await lock.acquire();
    {
      Holding holding(ctx.run, n.value);
      co_await exec(n.children[0], ctx);
    }
    lock.release();  // the planted bug: skipped when the body throws
    co_return;
  }
  LockGuard guard = co_await lock.guard();
  Holding holding(ctx.run, n.value);
  co_await exec(n.children[0], ctx);
}

Task<> exec_catch(const Node& n, Context ctx) {
  std::exception_ptr caught;
  try {
    co_await exec(n.children[0], ctx);
  } catch (const ProgramError&) {
    caught = std::current_exception();
  } catch (const MultiError&) {
    caught = std::current_exception();
  }
  if (caught) ctx.run->surface(caught);
}

Task<> exec(const Node& n, Context ctx) {
  RunState& run = *ctx.run;
  switch (n.kind) {
    case Kind::kSleep: {
      const absl::Time deadline = now() + absl::Milliseconds(n.value);
      co_await sleep(absl::Milliseconds(n.value));
      if (now() != deadline) {
        run.violation(absl::StrCat("deadline: sleep ", ms(n.value), " ended ",
                                   absl::FormatDuration(now() - deadline), " late"));
      }
      co_return;
    }
    case Kind::kCheckpoint:
      co_await checkpoint();
      co_return;
    case Kind::kFail:
      run.raised.push_back(n.value);
      throw ProgramError(n.value);
    case Kind::kSeq:
      for (const Node& child : n.children) co_await exec(child, ctx);
      co_return;
    case Kind::kPool:
      co_await exec_pool(n, ctx);
      co_return;
    case Kind::kCancelPool:
      co_await sleep(absl::Milliseconds(n.value));
      if (!*ctx.pool_cancelled_at) *ctx.pool_cancelled_at = now();
      ctx.pool->cancel();
      co_return;
    case Kind::kTimeout: {
      const absl::Time start = now();
      const absl::Status status =
          co_await with_timeout(absl::Milliseconds(n.value), exec(n.children[0], ctx));
      check_deadline(run, n, start, absl::IsDeadlineExceeded(status));
      co_return;
    }
    case Kind::kSkipAfter: {
      const absl::Time start = now();
      const bool finished =
          co_await skip_after(absl::Milliseconds(n.value), exec(n.children[0], ctx));
      check_deadline(run, n, start, !finished);
      co_return;
    }
    case Kind::kShield: {
      CancelScope scope;
      scope.set_shield(true);
      co_await scope.run(exec(n.children[0], ctx));
      co_return;
    }
    case Kind::kCatch:
      co_await exec_catch(n, ctx);
      co_return;
    case Kind::kLock:
      co_await exec_lock(n, ctx);
      co_return;
    case Kind::kChannel:
      co_await exec_channel(n, ctx);
      co_return;
    case Kind::kSend:
      co_await exec_send(n, ctx);
      co_return;
    case Kind::kReceive:
      co_await exec_receive(n, ctx);
      co_return;
  }
}

// The program's root as the world's control task; what escapes it surfaces there.
Task<> control(const Program* program, RunState* run) {
  std::exception_ptr escaped;
  try {
    co_await run_task(&program->root, Context{run});
  } catch (...) {
    escaped = std::current_exception();
  }
  if (escaped) run->surface(escaped);
}

}  // namespace

CheckResult check_program(const Program& program, uint64_t seed, PlantedBug bug) {
  RunState run;
  run.bug = bug;
  if (!is_valid(program)) {
    return CheckResult{{absl::StrCat("invalid program: ", program.to_string())}};
  }
  try {
    World world({.seed = seed});
    world.run([&]() -> Task<> { return control(&program, &run); });
  } catch (const std::exception& e) {
    run.violation(absl::StrCat("run: ", e.what()));
  }
  if (run.tasks_started != run.tasks_ended) {
    run.violation(
        absl::StrCat("tasks: ", run.tasks_started, " started, ", run.tasks_ended, " ended"));
  }
  for (int lock = 0; lock < 2; ++lock) {
    if (run.locks[lock].locked()) {
      run.violation(absl::StrCat("lock: lock", lock, " held at the end"));
    }
  }
  std::map<int64_t, int> raised;
  for (int64_t id : run.raised) ++raised[id];
  for (const auto& [id, times] : raised) {
    const int surfaced = run.surfaced.count(id) ? run.surfaced.at(id) : 0;
    if (times != 1 || surfaced != 1) {
      run.violation(absl::StrCat("errors: fail#", id, " raised ", times, " times, surfaced ",
                                 surfaced, " times"));
    }
  }
  for (const auto& [id, times] : run.surfaced) {
    if (!raised.count(id)) {
      run.violation(absl::StrCat("errors: fail#", id, " surfaced ", times, " times, never raised"));
    }
  }
  return CheckResult{std::move(run.violations)};
}

// ---------------------------------------------------------------------------------------------
// Shrinking
// ---------------------------------------------------------------------------------------------
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

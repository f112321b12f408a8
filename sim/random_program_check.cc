// Random programs (random_program.h): running a program in a simulated world and checking
// its invariants as it goes and at the end.
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "giambio/giambio.h"
#include "sim/random_program.h"
#include "sim/random_program_parts.h"
#include "sim/world.h"

namespace giambio::sim {

using Kind = Node::Kind;

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
    if (run.locks[lock].broken()) {
      run.violation(
          absl::StrCat("lock: lock", lock, " broken: a holder ended without releasing it"));
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

}  // namespace giambio::sim

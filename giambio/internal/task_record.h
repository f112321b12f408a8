// giambio/internal/task_record.h: the scheduler's view of one running giambio task.
//
// A giambio task is what a pool spawns (or the main task of run()): one chain of Task<T>
// coroutines awaiting each other, scheduled as a unit. The record holds where to resume the
// chain, the innermost cancel scope it runs in, and, while the task is blocked, the Blocker
// that can withdraw its wait when a cancellation arrives.
#ifndef GIAMBIO_INTERNAL_TASK_RECORD_H_
#define GIAMBIO_INTERNAL_TASK_RECORD_H_

#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "giambio/instrument.h"
#include "giambio/internal/intrusive_list.h"

namespace giambio::internal {

class CancelNode;
class TaskRecord;

// Whatever a blocked task waits on: a parking lot, a timer, an I/O operation.
class Blocker {
 public:
  // A cancellation arrived. Withdraw the wait and return true if that worked (the task is then
  // rescheduled and sees giambio::Cancelled), or return false if the wait must end by itself
  // (in-flight I/O whose completion is still to come).
  virtual bool abort() noexcept = 0;
  // What the task waits on, for deadlock reports: "sleep", "Event::wait", ...
  virtual const char* waiting_on() const noexcept = 0;

 protected:
  ~Blocker() = default;
};

// Something a task holds and other tasks may wait for: a Lock. The loop keeps every held one in
// a list (Loop::hold), and if the holder ends without letting go it calls holder_ended(), so the
// waiters are woken with an error instead of waiting forever (Trio's rule for a lock whose
// owner is gone).
class Holdable {
 public:
  TaskRecord* holder() const { return holder_; }
  // Called by the loop when `holder` has ended while holding this; the holder is already gone
  // from it (holder() is nullptr). Must not throw.
  virtual void holder_ended(const TaskRecord& holder) noexcept = 0;

  // For Loop::hold and Loop::let_go only.
  void set_holder(TaskRecord* task) { holder_ = task; }
  ListNode held_node;  // in the loop's list of held things

 protected:
  ~Holdable() = default;

 private:
  TaskRecord* holder_ = nullptr;
};

enum class TaskState : uint8_t { kReady, kRunning, kBlocked, kDone };

class TaskRecord {
 public:
  TaskRecord(uint64_t id, std::string name)
      : id_(id),
        name_(name.empty() ? nullptr : std::make_unique<const std::string>(std::move(name))) {}
  virtual ~TaskRecord() = default;
  TaskRecord(const TaskRecord&) = delete;
  TaskRecord& operator=(const TaskRecord&) = delete;

  uint64_t id() const { return id_; }
  const std::string& name() const { return name_ ? *name_ : unnamed(); }
  TaskInfo info() const { return TaskInfo{id_, name(), domain}; }

  // The chain's outermost coroutine; done() once the task has ended.
  virtual std::coroutine_handle<> root() const = 0;
  // Called once when the root coroutine has finished: collect its outcome.
  virtual void on_exit() = 0;
  // Called when the loop is torn down while the task has not ended: destroy the coroutine
  // frames (running the destructors of everything suspended in them) ...
  virtual void destroy_unfinished() = 0;
  // ... and then, once every unfinished task's frames are gone, let go of the record.
  virtual void abandon() = 0;

  // The fields every wait and wake-up touches come first, together in the record's first 64
  // bytes (with the vtable pointer): a wake-up then misses the cache once, not twice.
  std::coroutine_handle<> resume_point;
  CancelNode* scope = nullptr;  // the innermost cancel scope (cancel_tree.h)
  Blocker* blocker = nullptr;
  // Set when a wait was withdrawn by a cancellation: the id of the scope that owns it.
  uint64_t cancel_owner = 0;
  TaskRecord* ready_next = nullptr;  // in the loop's ready queue
  TaskState state = TaskState::kReady;
  // Which of the loops interleaved on this one the task belongs to (threads.h's
  // run_loops_interleaved; 0: the loop itself). Inherited from the spawner, like `domain`; it
  // decides which inbox current_loop_token() names. Sits in the padding after `state`.
  uint8_t lane = 0;
  // How many things (locks) the task holds that others may wait for (Loop::hold); when it ends
  // holding any, the loop breaks them.
  uint16_t holding = 0;
  // Which part of a simulated world the task belongs to (the simulator's host id; 0 outside a
  // simulation). A task inherits its spawner's domain; the scheduler does nothing else with it.
  uint32_t domain = 0;
  ListNode scope_node;  // in the tasks of `scope`
  ListNode loop_node;   // in the loop's list of live tasks

 private:
  static const std::string& unnamed() {
    static const std::string* const empty = new std::string();
    return *empty;
  }
  const uint64_t id_;
  // Most tasks are unnamed; a name costs one pointer until there is one.
  const std::unique_ptr<const std::string> name_;
};

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_TASK_RECORD_H_

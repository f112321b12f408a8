// giambio/internal/cancel_tree.h: the tree of entered cancel scopes, and its one owner.
//
// Every entered CancelScope is a CancelNode in its loop's CancelTree. A node's children are the
// scopes entered directly inside it (by its task, or by tasks spawned into pools opened inside
// it); its tasks are the tasks whose innermost scope it is. The tree answers the two questions
// of cancellation: does a cancellation reach this task (pending), and which blocked tasks does a
// cancel() reach (deliver). Only CancelTree changes a node: enter, exit, move a node under a new
// parent, mark it cancelled or shielded, and detach it at teardown. The loop keeps the ready
// queue: deliver() hands each reached task to the loop's wake-up.
//
// Invariants (checked always): a task is in the task list of exactly its innermost node; a node
// exits only when it is that task's innermost node and has no entered children; the count of
// entered cancelled nodes equals the number of entered nodes with cancel_called() (while it is
// zero, pending() costs one compare).
#ifndef GIAMBIO_INTERNAL_CANCEL_TREE_H_
#define GIAMBIO_INTERNAL_CANCEL_TREE_H_

#include <cstdint>

#include "giambio/check.h"
#include "giambio/internal/intrusive_list.h"
#include "giambio/internal/task_record.h"

namespace giambio::internal {

class CancelTree;

// One scope's place in the tree. Its fields change only through CancelTree.
class CancelNode {
 public:
  CancelNode() = default;
  CancelNode(const CancelNode&) = delete;
  CancelNode& operator=(const CancelNode&) = delete;
  // A node must have left its tree (exit() or detach()) before it is destroyed.
  ~CancelNode() = default;

  bool entered() const { return entered_; }
  // Handed out by the tree on entry; 0 before.
  uint64_t id() const { return id_; }
  bool cancel_called() const { return cancel_called_; }
  bool shield() const { return shield_; }
  CancelNode* parent() const { return parent_; }

 private:
  friend class CancelTree;
  CancelNode* parent_ = nullptr;
  uint64_t id_ = 0;
  ListNode child_node_;  // in parent_->children_
  IntrusiveList<CancelNode, &CancelNode::child_node_> children_;
  IntrusiveList<TaskRecord, &TaskRecord::scope_node> tasks_;
  bool entered_ = false;
  bool cancel_called_ = false;
  bool shield_ = false;
};

class CancelTree {
 public:
  CancelTree() = default;
  CancelTree(const CancelTree&) = delete;
  CancelTree& operator=(const CancelTree&) = delete;

  // `task` enters `node`, which becomes its innermost scope; the node's parent is the task's
  // previous innermost scope (none for a task's own scope at launch: see place()).
  void enter(CancelNode& node, TaskRecord& task);
  // `task` leaves `node`, its innermost scope, and is back in the node's parent.
  void exit(CancelNode& node, TaskRecord& task);
  // A task's first node is entered before it runs: its parent is the pool's node, not a scope
  // of the spawner. place() makes `parent` the task's innermost node before enter().
  static void place(TaskRecord& task, CancelNode* parent);
  // Moves an entered node, with everything inside it, under `new_parent` (Pool::start hands a
  // started task from the temporary pool to the target pool).
  void move_under(CancelNode& node, CancelNode& new_parent);
  // Leaves the tree wherever the node stands, handing its tasks and children to its parent
  // (loop teardown, when frames are destroyed with scopes still entered). No-op if not entered.
  void detach(CancelNode& node);
  // Removes a finished task from whatever node holds it.
  static void forget(TaskRecord& task);

  // Marks an entered `node` cancelled (idempotent). True if newly cancelled: the caller then
  // delivers. A scope cancelled before it is entered is marked with cancel_before_entry() and
  // counted when it enters.
  bool cancel(CancelNode& node);
  static void cancel_before_entry(CancelNode& node);
  // Sets the shield. True if the shield came down on an entered node: a cancellation from
  // outside may now reach inside, so the caller delivers.
  static bool set_shield(CancelNode& node, bool shield);

  // The id of the node whose cancellation reaches `task` (the outermost cancelled node above it
  // not cut off by a shield), or 0. Every cancel point asks: inline, one compare while no
  // entered scope is cancelled.
  uint64_t pending(const TaskRecord& task) const {
    return cancelled_entered_ == 0 ? 0 : walk_to_owner(task);
  }
  // The entered node with id `id` around `task` (the owner pending() named), or nullptr.
  static CancelNode* find_around(const TaskRecord& task, uint64_t id);
  // For each task blocked inside `node` (in it, or in a node below it not behind a shield) that
  // a cancellation now reaches and whose wait can be withdrawn: records the owner in
  // task.cancel_owner and calls wake(task).
  template <typename Wake>
  void deliver(CancelNode& node, Wake&& wake);

 private:
  void count_cancelled(const CancelNode& node, int delta);
  uint64_t walk_to_owner(const TaskRecord& task) const;

  uint64_t last_id_ = 0;
  // Entered nodes whose cancel() was called: while zero, pending() skips the walk.
  int64_t cancelled_entered_ = 0;
};

template <typename Wake>
void CancelTree::deliver(CancelNode& node, Wake&& wake) {
  node.tasks_.for_each([&](TaskRecord& task) {
    if (task.state != TaskState::kBlocked) return;  // sees it at its next cancel point
    const uint64_t owner = pending(task);
    if (owner == 0 || !task.blocker->abort()) return;
    task.cancel_owner = owner;
    wake(task);
  });
  node.children_.for_each([&](CancelNode& child) {
    if (!child.shield_) deliver(child, wake);
  });
}

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_CANCEL_TREE_H_

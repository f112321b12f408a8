#include "giambio/internal/cancel_tree.h"

#include <coroutine>
#include <vector>

#include "gtest/gtest.h"

namespace giambio::internal {
namespace {

// A task record with no coroutine: the tree only reads its scope, state and blocker.
class FakeTask final : public TaskRecord {
 public:
  explicit FakeTask(uint64_t id) : TaskRecord(id, "") {}
  std::coroutine_handle<> root() const override { return {}; }
  void on_exit() override {}
  void destroy_unfinished() override {}
  void abandon() override {}
};

class AlwaysAbort final : public Blocker {
 public:
  bool abort() noexcept override { return true; }
  const char* waiting_on() const noexcept override { return "test"; }
};

// Blocks `task` on `blocker` as the loop would.
void block(FakeTask& task, Blocker& blocker) {
  task.state = TaskState::kBlocked;
  task.blocker = &blocker;
}

std::vector<uint64_t> delivered(CancelTree& tree, CancelNode& node) {
  std::vector<uint64_t> woken;
  tree.deliver(node, [&](TaskRecord& task) {
    woken.push_back(task.id());
    task.state = TaskState::kReady;
  });
  return woken;
}

TEST(CancelTreeTest, TheOutermostCancelledScopeOwnsTheCancellation) {
  CancelTree tree;
  FakeTask task(1);
  CancelNode outer, inner;
  tree.enter(outer, task);
  tree.enter(inner, task);
  EXPECT_EQ(tree.pending(task), 0u);
  tree.cancel(inner);
  EXPECT_EQ(tree.pending(task), inner.id());
  tree.cancel(outer);
  EXPECT_EQ(tree.pending(task), outer.id());
  tree.exit(inner, task);
  tree.exit(outer, task);
  EXPECT_EQ(task.scope, nullptr);
  EXPECT_EQ(tree.pending(task), 0u);
}

TEST(CancelTreeTest, AShieldHidesOuterCancellationsUntilItComesDown) {
  CancelTree tree;
  FakeTask task(1);
  AlwaysAbort blocker;
  CancelNode outer, shielded;
  tree.enter(outer, task);
  CancelTree::set_shield(shielded, true);
  tree.enter(shielded, task);
  block(task, blocker);
  ASSERT_TRUE(tree.cancel(outer));
  EXPECT_TRUE(delivered(tree, outer).empty());
  EXPECT_EQ(tree.pending(task), 0u);
  ASSERT_TRUE(CancelTree::set_shield(shielded, false));
  EXPECT_EQ(delivered(tree, shielded), std::vector<uint64_t>{1});
  EXPECT_EQ(task.cancel_owner, outer.id());
  tree.exit(shielded, task);
  tree.exit(outer, task);
}

TEST(CancelTreeTest, DeliverReachesBlockedTasksInChildScopesOnly) {
  CancelTree tree;
  FakeTask parent(1), blocked_child(2), running_child(3);
  AlwaysAbort blocker;
  CancelNode pool, own2, own3;
  tree.enter(pool, parent);
  CancelTree::place(blocked_child, &pool);
  tree.enter(own2, blocked_child);
  CancelTree::place(running_child, &pool);
  tree.enter(own3, running_child);
  block(blocked_child, blocker);
  running_child.state = TaskState::kRunning;
  tree.cancel(pool);
  EXPECT_EQ(delivered(tree, pool), std::vector<uint64_t>{2});
  EXPECT_EQ(tree.pending(running_child), pool.id());
  tree.exit(own2, blocked_child);
  CancelTree::forget(blocked_child);
  tree.exit(own3, running_child);
  CancelTree::forget(running_child);
  tree.exit(pool, parent);
}

TEST(CancelTreeTest, AMovedScopeLeavesItsOldParentAndSeesTheNewOnesCancellation) {
  CancelTree tree;
  FakeTask starter(1), child(2);
  CancelNode target, temporary, own;
  tree.enter(target, starter);
  tree.enter(temporary, starter);
  CancelTree::place(child, &temporary);
  tree.enter(own, child);
  tree.move_under(own, target);
  tree.cancel(temporary);
  EXPECT_EQ(tree.pending(child), 0u) << "no longer inside temporary";
  tree.exit(temporary, starter);  // no scope inside it any more
  tree.cancel(target);
  EXPECT_EQ(tree.pending(child), target.id());
  tree.exit(own, child);
  CancelTree::forget(child);
  tree.exit(target, starter);
}

TEST(CancelTreeDeathTest, ExitingAScopeWithEnteredChildrenFailsACheck) {
  CancelTree tree;
  FakeTask starter(1), child(2);
  CancelNode outer, own;
  tree.enter(outer, starter);
  CancelTree::place(child, &outer);
  tree.enter(own, child);
  EXPECT_DEATH(tree.exit(outer, starter), "internal check failed.*exits while scopes inside it");
  tree.exit(own, child);
  CancelTree::forget(child);
  tree.exit(outer, starter);
}

TEST(CancelTreeDeathTest, ExitingOutOfOrderFailsACheck) {
  CancelTree tree;
  FakeTask task(1);
  CancelNode outer, inner;
  tree.enter(outer, task);
  tree.enter(inner, task);
  EXPECT_DEATH(tree.exit(outer, task), "which is not its innermost");
  tree.exit(inner, task);
  tree.exit(outer, task);
}

TEST(CancelTreeTest, DetachHandsTasksAndChildrenToTheParent) {
  CancelTree tree;
  FakeTask task(1), child(2);
  CancelNode outer, middle, own;
  tree.enter(outer, task);
  tree.enter(middle, task);
  CancelTree::place(child, &middle);
  tree.enter(own, child);
  tree.cancel(middle);
  tree.detach(middle);
  EXPECT_FALSE(middle.entered());
  EXPECT_EQ(task.scope, &outer);
  EXPECT_EQ(own.parent(), &outer);
  EXPECT_EQ(tree.pending(child), 0u) << "the detached scope's cancellation no longer counts";
  tree.exit(own, child);
  CancelTree::forget(child);
  tree.exit(outer, task);
}

}  // namespace
}  // namespace giambio::internal

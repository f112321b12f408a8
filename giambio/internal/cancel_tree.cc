#include "giambio/internal/cancel_tree.h"

namespace giambio::internal {

void CancelTree::count_cancelled(const CancelNode& node, int delta) {
  if (!node.cancel_called_) return;
  cancelled_entered_ += delta;
  GIAMBIO_CHECK(cancelled_entered_ >= 0, "cancelled scopes entered went negative at scope ",
                node.id_);
}

void CancelTree::place(TaskRecord& task, CancelNode* parent) {
  GIAMBIO_CHECK(!task.scope_node.linked() && task.scope == nullptr, "task ", task.id(),
                " is placed in the tree twice");
  task.scope = parent;
}

void CancelTree::enter(CancelNode& node, TaskRecord& task) {
  GIAMBIO_CHECK(!node.entered(), "scope ", node.id_, " entered while entered");
  node.entered_ = true;
  node.id_ = ++last_id_;
  node.parent_ = task.scope;
  if (task.scope_node.linked()) task.scope_node.unlink();
  node.tasks_.push_back(task);
  task.scope = &node;
  if (node.parent_ != nullptr) node.parent_->children_.push_back(node);
  count_cancelled(node, +1);
}

void CancelTree::exit(CancelNode& node, TaskRecord& task) {
  GIAMBIO_CHECK(node.entered_, "scope ", node.id_, " exits while not entered");
  GIAMBIO_CHECK(task.scope == &node, "task ", task.id(), " exits scope ", node.id_,
                " which is not its innermost (scopes exit in the order they were entered)");
  GIAMBIO_CHECK(node.children_.empty(), "scope ", node.id_,
                " exits while scopes inside it are still entered");
  count_cancelled(node, -1);
  node.tasks_.remove(task);
  task.scope = node.parent_;
  if (node.parent_ != nullptr) {
    node.parent_->tasks_.push_back(task);
    node.child_node_.unlink();
  }
  node.entered_ = false;
}

void CancelTree::move_under(CancelNode& node, CancelNode& new_parent) {
  GIAMBIO_CHECK(node.entered_ && new_parent.entered_, "scope ", node.id_, " moved under scope ",
                new_parent.id_, " while one of them is not entered");
  if (node.child_node_.linked()) node.child_node_.unlink();
  node.parent_ = &new_parent;
  new_parent.children_.push_back(node);
}

void CancelTree::detach(CancelNode& node) {
  if (!node.entered()) return;
  count_cancelled(node, -1);
  CancelNode* const parent = node.parent_;
  node.tasks_.for_each([&](TaskRecord& task) {
    task.scope_node.unlink();
    task.scope = parent;
    if (parent != nullptr) parent->tasks_.push_back(task);
  });
  node.children_.for_each([&](CancelNode& child) {
    child.child_node_.unlink();
    child.parent_ = parent;
    if (parent != nullptr) parent->children_.push_back(child);
  });
  if (node.child_node_.linked()) node.child_node_.unlink();
  node.entered_ = false;
}

void CancelTree::forget(TaskRecord& task) {
  if (task.scope_node.linked()) task.scope_node.unlink();
  task.scope = nullptr;
}

bool CancelTree::cancel(CancelNode& node) {
  GIAMBIO_CHECK(node.entered_, "scope ", node.id_, " cancelled through a tree it is not in");
  if (node.cancel_called_) return false;
  node.cancel_called_ = true;
  count_cancelled(node, +1);
  return true;
}

void CancelTree::cancel_before_entry(CancelNode& node) {
  GIAMBIO_CHECK(!node.entered_, "scope ", node.id_, " is entered: cancel it through its tree");
  node.cancel_called_ = true;
}

bool CancelTree::set_shield(CancelNode& node, bool shield) {
  if (node.shield_ == shield) return false;
  node.shield_ = shield;
  return !shield && node.entered();
}

CancelNode* CancelTree::find_around(const TaskRecord& task, uint64_t id) {
  for (CancelNode* node = task.scope; node != nullptr; node = node->parent_) {
    if (node->id_ == id) return node;
  }
  return nullptr;
}

uint64_t CancelTree::walk_to_owner(const TaskRecord& task) const {
  uint64_t owner = 0;
  for (const CancelNode* node = task.scope; node != nullptr; node = node->parent_) {
    if (node->cancel_called_) owner = node->id_;
    if (node->shield_) break;
  }
  return owner;
}

}  // namespace giambio::internal

// giambio/internal/intrusive_list.h: a doubly linked list whose nodes live inside the elements.
//
// The runtime keeps waiters, tasks and scopes in lists like this so that joining or leaving a
// list never allocates and removal from the middle is O(1) (a cancelled waiter leaves its queue
// at once). Iteration order is insertion order, which keeps wakeups FIFO and deterministic.
#ifndef GIAMBIO_INTERNAL_INTRUSIVE_LIST_H_
#define GIAMBIO_INTERNAL_INTRUSIVE_LIST_H_

#include <cstddef>

#include "giambio/check.h"

namespace giambio::internal {

class ListNode {
 public:
  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  ~ListNode() { GIAMBIO_CHECK(!linked(), "a list node destroyed while still in a list"); }

  bool linked() const { return next_ != nullptr; }
  void unlink() {
    GIAMBIO_CHECK(linked(), "unlinking a list node that is in no list");
    prev_->next_ = next_;
    next_->prev_ = prev_;
    prev_ = next_ = nullptr;
  }

 private:
  template <typename T, ListNode T::*>
  friend class IntrusiveList;
  ListNode* prev_ = nullptr;
  ListNode* next_ = nullptr;
};

// A list of T threaded through the member `Node` of each T.
template <typename T, ListNode T::*Node>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev_ = head_.next_ = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() {
    GIAMBIO_CHECK(empty(), "a list destroyed while not empty");
    head_.prev_ = head_.next_ = nullptr;
  }

  bool empty() const { return head_.next_ == &head_; }
  T* front() const { return empty() ? nullptr : owner(head_.next_); }

  void push_back(T& item) {
    ListNode& node = item.*Node;
    GIAMBIO_CHECK(!node.linked(), "pushing a list node that is already in a list");
    node.prev_ = head_.prev_;
    node.next_ = &head_;
    head_.prev_->next_ = &node;
    head_.prev_ = &node;
  }
  T* pop_front() {
    T* item = front();
    if (item != nullptr) (item->*Node).unlink();
    return item;
  }
  static void remove(T& item) { (item.*Node).unlink(); }
  // Moves every element of `other` to the back of this list, keeping their order.
  void splice_back(IntrusiveList& other) {
    while (T* item = other.pop_front()) push_back(*item);
  }

  // Calls fn(T&) for each element in order. fn may unlink the element it is given.
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (ListNode* node = head_.next_; node != &head_;) {
      ListNode* next = node->next_;
      fn(*owner(node));
      node = next;
    }
  }
  size_t size() const {
    size_t n = 0;
    for (const ListNode* node = head_.next_; node != &head_; node = node->next_) ++n;
    return n;
  }

 private:
  static T* owner(ListNode* node) {
    // The classic container_of: the offset of the node member inside T.
    const auto offset = reinterpret_cast<size_t>(&(static_cast<T*>(nullptr)->*Node));
    return reinterpret_cast<T*>(reinterpret_cast<char*>(node) - offset);
  }
  ListNode head_;
};

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_INTRUSIVE_LIST_H_

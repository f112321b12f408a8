// giambio/capacity_limiter.h: CapacityLimiter, a fair limit on how many borrowers use a resource.
//
//   giambio::CapacityLimiter connections(100);
//   co_await connections.acquire();          // the current task borrows one token
//   ... at most 100 tasks are here at once ...
//   connections.release();
//   connections.set_total_tokens(200);       // adjustable while in use; waiters go on at once
//
// Trio's CapacityLimiter: like a Semaphore, but each token is lent to a borrower, and a borrower
// holds at most one. acquire() borrows for the current task; acquire_on_behalf_of(b) for any
// object `b` (its address is the borrower's identity: a job handed to a worker thread, a
// connection), which must release through release_on_behalf_of(b). Borrowing twice, or
// releasing what was not borrowed, is a UsageError naming the borrower.
//
// Fair (FIFO): a released token goes straight to the borrower that has waited longest, and a new
// acquire waits behind the queue even when a token is free. acquire() is a checkpoint: a cancel
// point before it takes a token and a schedule point after; a task cancelled while waiting takes
// nothing, and one handed a token keeps it (as with Lock). Lowering the total below what is
// borrowed takes nothing back: new borrowers wait until enough tokens come back.
//
// Works the same in the simulator (no real-world calls).
#ifndef GIAMBIO_CAPACITY_LIMITER_H_
#define GIAMBIO_CAPACITY_LIMITER_H_

#include <coroutine>
#include <cstddef>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "giambio/parking_lot.h"

namespace giambio {

class CapacityLimiter {
 public:
  static constexpr size_t kUnbounded = std::numeric_limits<size_t>::max();
  using Borrower = const void*;

  // total_tokens >= 1 (kUnbounded: no limit); 0 is a UsageError.
  explicit CapacityLimiter(size_t total_tokens);
  CapacityLimiter(const CapacityLimiter&) = delete;
  CapacityLimiter& operator=(const CapacityLimiter&) = delete;

  // What acquire() returns: waits for a token and takes it.
  class Acquire {
   public:
    Acquire(CapacityLimiter& limiter, Borrower borrower);
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> caller) { return waiter_.await_suspend(caller); }
    void await_resume() { waiter_.await_resume(); }

   private:
    friend class CapacityLimiter;
    struct Slot {
      CapacityLimiter* limiter;
      Borrower borrower;  // nullptr: the task that awaits, filled in when it does
    };
    Slot slot_;
    ParkingLot::Waiter waiter_;
  };

  // Borrows a token for the current task / for `borrower` (not nullptr), waiting if none is free.
  Acquire acquire() { return Acquire(*this, nullptr); }
  Acquire acquire_on_behalf_of(Borrower borrower);
  // Borrows without waiting: false when no token is free or others wait for one.
  bool try_acquire();
  bool try_acquire_on_behalf_of(Borrower borrower);
  // Gives the token back; the longest waiter gets it.
  void release();
  void release_on_behalf_of(Borrower borrower);

  size_t total_tokens() const { return total_; }
  // Any value >= 1 or kUnbounded; raising it wakes as many waiters as it frees tokens for.
  void set_total_tokens(size_t total);
  size_t borrowed_tokens() const { return borrowers_.size(); }
  size_t available_tokens() const {
    return borrowers_.size() >= total_ ? 0 : total_ - borrowers_.size();
  }

  // A snapshot for debugging and tests (Trio's statistics()); borrowers in no particular order.
  struct Statistics {
    size_t borrowed_tokens = 0;
    size_t total_tokens = 0;
    std::vector<Borrower> borrowers;
    size_t tasks_waiting = 0;
  };
  Statistics statistics() const;

 private:
  static bool try_take(void* slot, internal::TaskRecord& task);
  bool take(Borrower borrower, const char* operation);
  void give_back(Borrower borrower, const char* operation);
  void hand_over();

  size_t total_;
  absl::flat_hash_set<Borrower> borrowers_;
  ParkingLot waiters_{"CapacityLimiter::acquire"};
};

}  // namespace giambio

#endif  // GIAMBIO_CAPACITY_LIMITER_H_

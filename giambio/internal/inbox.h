// giambio/internal/inbox.h: the one way into a loop from other threads (threads.h's LoopToken).
//
// Calls from any thread queue here under a mutex (one FIFO, so FIFO per calling thread too) and
// an eventfd wakes the loop, which waits for it through an ordinary readiness operation on its
// driver and runs the calls between tasks (Loop::run_once calls service()). From a task of
// another io_uring loop the wake-up is that driver's ring of this loop's doorbell instead
// (driver.h: MSG_RING, sent with the caller's next submission, no system call of its own). The
// operation is
// armed only while somebody could still call in (a token is alive or calls are queued), so a loop
// nobody can reach from outside still reports a deadlock; when the last token goes, the eventfd
// wakes the loop to notice. Calls that start tasks (LoopToken::run) make guests: top-level tasks
// that finish() cancels and waits for when the loop's main task has ended. After that, posts fail
// with FailedPrecondition; every call accepted before it still ran.
//
// A lane's inbox (Loop::add_lane, for threads.h's run_loops_interleaved) is the same queue for a
// loop that shares its thread with others: no eventfd, calls come from that thread only, and a
// task of the lane, serve_lane(), runs them as they come (so they run at schedule points, in the
// order the scheduler or a simulation's seed picks) and keeps the guests in a pool of its own.
#ifndef GIAMBIO_INTERNAL_INBOX_H_
#define GIAMBIO_INTERNAL_INBOX_H_

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "giambio/driver.h"
#include "giambio/parking_lot.h"
#include "giambio/task.h"
#include "giambio/task_handle.h"

namespace giambio {
class Loop;
class Pool;
}  // namespace giambio

namespace giambio::internal {

class Inbox {
 public:
  struct Call {
    std::function<void(Loop&)> run;          // on the loop's thread
    std::function<void(absl::Status)> fail;  // if it will never run (may be empty)
  };

  // A loop's own inbox: creates the eventfd.
  explicit Inbox(Loop& loop);
  // A lane's inbox.
  struct ForLane {};
  Inbox(Loop& loop, ForLane);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  Loop& loop() const { return loop_; }
  bool is_lane() const { return event_fd_ < 0; }

  // ---- Any thread (a lane's: its loop's thread only, else UsageError) ----
  // Queues `call`; FailedPrecondition "<operation>: the loop has ended" after close().
  absl::Status post(Call call, const char* operation);
  void add_token() { tokens_.fetch_add(1); }
  void drop_token();

  // ---- The loop's thread ----
  // Runs the queued calls (if the eventfd fired) and arms or withdraws the wait.
  void service();
  // Starts `task` as a guest of the loop; its handle stays valid on the loop's thread.
  TaskHandle<void> start_guest(Task<> task);
  // The loop's main task has ended: no more calls (those already accepted still run), guests
  // are cancelled and the loop runs until they have ended.
  void finish();
  // The loop is being torn down without finish() (a loop stepped by hand): queued calls are
  // failed (a run_soon call has nobody to tell: it is dropped), later posts refused.
  void close();

  // ---- A lane's inbox, on its loop's thread ----
  // The lane's task: runs the calls as they come, and their guests in a pool, until
  // finish_lane(); then the calls accepted before it, then cancels the guests and waits for them.
  Task<> serve_lane();
  // The lane's main task has ended: no more calls (those already accepted still run).
  void finish_lane();

 private:
  class Wait final : public Operation {
   public:
    Wait(Inbox& inbox, int fd) : Operation(OpKind::kWaitReadable, fd), inbox_(inbox) {}
    void complete(int64_t result) override;

   private:
    Inbox& inbox_;
  };
  void fail_queued(const absl::Status& status);
  // Wakes the loop through its doorbell if the calling thread runs a task of another loop whose
  // driver can ring it; false otherwise.
  bool ring_doorbell();
  void run_calls(std::deque<Call>& calls);

  Loop& loop_;
  int event_fd_ = -1;
  int doorbell_ = -1;  // the driver's (open_doorbell), or -1
  Wait wait_;
  bool armed_ = false;  // wait_ is with the driver
  bool fired_ = false;  // wait_ completed since the last service()
  bool rung_ = false;   // the doorbell rang since the last service()
  std::atomic<int> tokens_{0};
  std::mutex mutex_;
  std::deque<Call> calls_;                // guarded by mutex_
  bool closed_ = false;                   // guarded by mutex_
  std::vector<TaskHandle<void>> guests_;  // a loop's own inbox: guests not yet seen done
  size_t guests_seen_running_ = 16;
  // A lane's: the pool its guests run in while serve_lane() runs, and what wakes it.
  Pool* guest_pool_ = nullptr;
  ParkingLot arrived_{"interleaved loop: waiting for calls"};
};

}  // namespace giambio::internal

#endif  // GIAMBIO_INTERNAL_INBOX_H_

#include "giambio/internal/inbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "giambio/check.h"
#include "giambio/errors.h"
#include "giambio/loop.h"
#include "giambio/pool.h"

namespace giambio::internal {
namespace {

int make_event_fd() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  GIAMBIO_CHECK(fd >= 0, "eventfd for the loop's inbox: errno ", errno);
  return fd;
}

void wake(int fd) {
  const uint64_t one = 1;
  // EAGAIN only when the counter is full, which means the loop has a wake-up waiting already.
  if (::write(fd, &one, sizeof(one)) < 0) return;
}

}  // namespace

Inbox::Inbox(Loop& loop) : loop_(loop), event_fd_(make_event_fd()), wait_(*this, event_fd_) {
  doorbell_ = loop_.driver().open_doorbell([this] { rung_ = true; });
}

Inbox::Inbox(Loop& loop, ForLane) : loop_(loop), wait_(*this, -1) {}

Inbox::~Inbox() {
  GIAMBIO_CHECK(!armed_, "the inbox's wait outlived the loop's driver");
  if (event_fd_ >= 0) ::close(event_fd_);
  if (doorbell_ >= 0) ::close(doorbell_);
}

void Inbox::Wait::complete(int64_t result) {
  inbox_.armed_ = false;
  if (result >= 0) inbox_.fired_ = true;
}

absl::Status Inbox::post(Call call, const char* operation) {
  if (is_lane() && !loop_.runs_here()) {
    throw UsageError(
        absl::StrCat(operation,
                     ": called from another thread, but the loop is one of "
                     "run_loops_interleaved's, which take calls from their own thread"));
  }
  bool was_empty = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) {
      return absl::FailedPreconditionError(absl::StrCat(operation, ": the loop has ended"));
    }
    was_empty = calls_.empty();
    calls_.push_back(std::move(call));
  }
  if (is_lane()) {
    arrived_.unpark_all();
  } else if (was_empty && !ring_doorbell()) {
    wake(event_fd_);
  }
  return absl::OkStatus();
}

bool Inbox::ring_doorbell() {
  if (doorbell_ < 0) return false;
  // Only from a task of another loop: its turn ends in a poll, which sends the ring.
  Loop* here = Loop::current_or_null();
  if (here == nullptr || here == &loop_ || here->running_task() == nullptr) return false;
  return here->driver().ring_doorbell(doorbell_, event_fd_);
}

void Inbox::drop_token() {
  // The last one: the loop may now be unreachable from outside, and should look again. (A lane
  // has nothing to look at: the loop's own deadlock detection covers it.)
  if (tokens_.fetch_sub(1) == 1 && !is_lane()) wake(event_fd_);
}

void Inbox::service() {
  GIAMBIO_CHECK(!is_lane(), "Inbox::service on a lane's inbox (serve_lane runs its calls)");
  if (fired_ || rung_) {
    uint64_t count = 0;
    // EAGAIN: already drained. A doorbell leaves the eventfd alone: nothing to read.
    if (fired_ && ::read(event_fd_, &count, sizeof(count)) < 0) count = 0;
    fired_ = false;
    rung_ = false;
    std::deque<Call> calls;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls.swap(calls_);
    }
    run_calls(calls);
  }
  bool wanted = tokens_.load() > 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wanted = (wanted || !calls_.empty()) && !closed_;
  }
  if (wanted && !armed_) {
    armed_ = true;
    loop_.driver().submit(wait_);  // may complete at once (armed_ false again, fired_ true)
  } else if (!wanted && armed_) {
    loop_.driver().cancel(wait_);
  }
}

void Inbox::run_calls(std::deque<Call>& calls) {
  for (Call& call : calls) {
    try {
      call.run(loop_);
    } catch (...) {
      std::fprintf(stderr, "giambio: a call posted to the loop (LoopToken::run_soon) threw: %s\n",
                   describe(std::current_exception()).c_str());
    }
  }
}

TaskHandle<void> Inbox::start_guest(Task<> task) {
  if (is_lane()) {
    GIAMBIO_CHECK(guest_pool_ != nullptr, "a lane's call ran outside serve_lane");
    return guest_pool_->spawn(std::move(task), "guest");
  }
  // Forget the guests that have ended once the list has doubled, so a long-lived loop that
  // takes many calls keeps only those still running.
  if (guests_.size() >= 2 * guests_seen_running_) {
    std::erase_if(guests_, [](const TaskHandle<void>& guest) { return guest.done(); });
    guests_seen_running_ = std::max<size_t>(guests_.size(), 16);
  }
  guests_.push_back(loop_.start(std::move(task), "from_thread"));
  return guests_.back();
}

Task<> Inbox::serve_lane() {
  GIAMBIO_CHECK(is_lane(), "Inbox::serve_lane on a loop's own inbox");
  co_await with_pool([this](Pool& guests) -> Task<> {
    guest_pool_ = &guests;
    while (true) {
      std::deque<Call> calls;
      bool closed = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        calls.swap(calls_);
        closed = closed_;
      }
      if (!calls.empty()) {
        run_calls(calls);
      } else if (closed) {
        break;
      } else {
        co_await arrived_.park();
      }
    }
    guests.cancel("the loop's main task has ended");
  });
  guest_pool_ = nullptr;
}

void Inbox::finish_lane() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  arrived_.unpark_all();
}

void Inbox::fail_queued(const absl::Status& status) {
  std::deque<Call> calls;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    calls.swap(calls_);
  }
  for (Call& call : calls) {
    if (call.fail) call.fail(status);
  }
}

void Inbox::close() {
  fail_queued(absl::FailedPreconditionError("the loop ended before the call ran"));
}

void Inbox::finish() {
  // Calls accepted before this point still run (a guest they start is cancelled below at once);
  // later posts are refused.
  std::deque<Call> accepted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    accepted.swap(calls_);
  }
  run_calls(accepted);
  for (TaskHandle<void>& guest : guests_) guest.cancel("the loop's main task has ended");
  for (TaskHandle<void>& guest : guests_) loop_.run_until_done(guest);
  guests_.clear();
  if (armed_) loop_.driver().cancel(wait_);
  while (armed_) loop_.driver().poll(absl::InfiniteFuture());  // io_uring withdraws async
}

}  // namespace giambio::internal

#include "giambio/threads.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "giambio/internal/inbox.h"
#include "giambio/pool.h"

namespace giambio {
namespace internal {
namespace {

// Threads for to_thread: started when every thread is busy, kept 10 s when idle (Trio's thread
// cache). Their number is not bounded here: the CapacityLimiter of each call bounds it.
class ThreadCache {
 public:
  void start(std::function<void()> work) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(work));
    if (jobs_.size() <= idle_) {
      work_available_.notify_one();
      return;
    }
    // Born with every signal blocked, so signals (signals.h) reach the loop's thread only.
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    std::thread([this] { serve(); }).detach();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }

 private:
  void serve() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      ++idle_;
      const bool got = work_available_.wait_for(lock, std::chrono::seconds(10),
                                                [this] { return !jobs_.empty(); });
      --idle_;
      if (!got) return;
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // what it holds goes here, on this thread, before the next one
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;
};

}  // namespace

void start_on_thread(std::function<void()> work) {
  touch_real_world("to_thread");
  static ThreadCache* const cache = new ThreadCache();  // lives as long as the process
  cache->start(std::move(work));
}

bool threads_allowed(Loop& loop) { return loop.driver().threads_allowed(); }

std::shared_ptr<Inbox> inbox_of(Loop& loop) { return loop.inbox(); }

absl::Status post_to(Inbox& inbox, std::function<void()> fn) {
  return inbox.post(Inbox::Call{[fn = std::move(fn)](Loop&) { fn(); }, nullptr},
                    "LoopToken::run_soon");
}

}  // namespace internal

LoopToken::LoopToken(std::shared_ptr<internal::Inbox> inbox) : inbox_(std::move(inbox)) {
  inbox_->add_token();
}
LoopToken::LoopToken(const LoopToken& other) : inbox_(other.inbox_) { inbox_->add_token(); }
LoopToken& LoopToken::operator=(const LoopToken& other) {
  if (this != &other) {
    other.inbox_->add_token();
    inbox_->drop_token();
    inbox_ = other.inbox_;
  }
  return *this;
}
LoopToken::~LoopToken() { inbox_->drop_token(); }

absl::Status LoopToken::run_soon(std::function<void()> fn) const {
  return internal::post_to(*inbox_, std::move(fn));
}

void LoopToken::check_not_loop_thread() const {
  if (Loop* loop = Loop::current_or_null(); loop != nullptr && loop->inbox_if_made() == inbox_) {
    throw UsageError(
        "LoopToken::run: called on the loop's own thread, where it would wait for itself (await "
        "the task instead)");
  }
}

void LoopToken::post_guest(std::function<Task<>()> make,
                           std::function<void(absl::Status)> failed) const {
  internal::Inbox* inbox = inbox_.get();
  absl::Status posted = inbox_->post(
      internal::Inbox::Call{
          [inbox, make](Loop&) { inbox->start_guest(internal::invoke_owned(make)); },
          [failed](absl::Status why) {
            failed(absl::FailedPreconditionError(absl::StrCat("LoopToken::run: ", why.message())));
          }},
      "LoopToken::run");
  if (!posted.ok()) failed(posted);
}

LoopToken current_loop_token() {
  Loop& loop = Loop::current("current_loop_token");
  if (!loop.driver().threads_allowed()) {
    touch_real_world("current_loop_token");  // in a simulation: the tripwire, naming the seed
    throw UsageError(absl::StrCat("current_loop_token: the ", loop.driver().name(),
                                  " driver runs no threads, so nothing could call in"));
  }
  LoopToken token(loop.inbox());
  (void)loop.inbox();  // arms the wait now that a token exists
  return token;
}

CapacityLimiter& default_thread_limiter() {
  Loop& loop = Loop::current("default_thread_limiter");
  // One per loop: keyed by the loop's inbox, which lives exactly as long as the loop.
  thread_local std::weak_ptr<internal::Inbox> owner;
  thread_local std::unique_ptr<CapacityLimiter> limiter;
  std::shared_ptr<internal::Inbox> inbox = loop.inbox();
  if (limiter == nullptr || owner.lock() != inbox) {
    limiter = std::make_unique<CapacityLimiter>(40);
    owner = inbox;
  }
  return *limiter;
}

}  // namespace giambio

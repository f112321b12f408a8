#include "giambio/threads.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "giambio/event.h"
#include "giambio/internal/inbox.h"
#include "giambio/pool.h"
#include "giambio/run.h"

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
  Loop* loop = Loop::current_or_null();
  if (inbox_->is_lane() || (loop != nullptr && loop->inbox_if_made() == inbox_)) {
    throw UsageError(
        "LoopToken::run: called on the loop's own thread (or for one of run_loops_interleaved's "
        "loops, which all share it), where it would wait for itself (await the task, or "
        "submit_to)");
  }
}

void LoopToken::post_guest(std::function<Task<>()> make,
                           std::function<void(absl::Status)> failed) const {
  post_guest_with_handle(std::move(make), nullptr, std::move(failed));
}

void LoopToken::post_guest_with_handle(std::function<Task<>()> make,
                                       std::function<void(TaskHandle<void>)> started,
                                       std::function<void(absl::Status)> failed) const {
  internal::Inbox* inbox = inbox_.get();
  absl::Status posted = inbox_->post(
      internal::Inbox::Call{
          [inbox, make, started](Loop&) {
            TaskHandle<void> guest = inbox->start_guest(internal::invoke_owned(make));
            if (started) started(std::move(guest));
          },
          [failed](absl::Status why) {
            failed(absl::FailedPreconditionError(absl::StrCat("LoopToken::run: ", why.message())));
          }},
      "LoopToken::run");
  if (!posted.ok()) failed(posted);
}

LoopToken current_loop_token() {
  Loop& loop = Loop::current("current_loop_token");
  const internal::TaskRecord* task = loop.running_task();
  const bool in_lane = task != nullptr && task->lane != 0;  // run_loops_interleaved's
  if (!in_lane && !loop.driver().threads_allowed()) {
    touch_real_world("current_loop_token");  // in a simulation: the tripwire, naming the seed
    throw UsageError(absl::StrCat("current_loop_token: the ", loop.driver().name(),
                                  " driver runs no threads, so nothing could call in (inside "
                                  "run_loops_interleaved it names the task's loop)"));
  }
  LoopToken token(loop.inbox());
  (void)loop.inbox();  // arms the wait now that a token exists
  return token;
}

namespace internal {

// What the loops of one run_loops or run_loops_interleaved call share: their tokens (complete
// before any main starts), their errors, and a way to cancel each one's main from another loop
// (scopes_[i] and all_ended_[i] are touched on loop i only, through its token).
class LoopGroupRun {
 public:
  LoopGroupRun(size_t count, LoopsMain main)
      : main_(std::move(main)),
        tokens_(count),
        scopes_(count, nullptr),
        all_ended_(count, nullptr),
        running_(count) {}

  // Threads: loop i's token, from its own thread. Waits until every loop has one (true), or
  // one of them could not start (false: its error is the call's).
  bool join(size_t i, LoopToken token) {
    std::unique_lock<std::mutex> lock(mutex_);
    tokens_[i].emplace(std::move(token));
    if (std::all_of(tokens_.begin(), tokens_.end(), [](const auto& t) { return t.has_value(); })) {
      for (auto& each : tokens_) group_.tokens_.push_back(*each);
      started_ = true;
      changed_.notify_all();
    }
    // Before any main runs, every loop can be reached (a short wait, at start only).
    changed_.wait(lock, [&] { return started_ || start_failed_; });
    return started_;
  }
  // Lanes: every token at once, before any lane runs.
  void set_lanes(const std::vector<std::shared_ptr<Inbox>>& inboxes) {
    for (const auto& inbox : inboxes) group_.tokens_.push_back(LoopToken(inbox));
    started_ = true;
  }
  // Loop i ended by an error of its own (its driver, a deadlock), not of its main.
  void loop_failed(size_t i, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    errors_.push_back(std::move(error));
    if (!tokens_[i].has_value() && !started_) {  // it never joined: the others stop waiting
      start_failed_ = true;
      changed_.notify_all();
    }
  }

  // Loop i's part once the group is complete: main(group, i) in a cancel scope; if it fails,
  // the others are cancelled; then it serves the others until every main has ended.
  Task<> loop_main(size_t i) {
    Event all_ended;
    CancelScope scope;
    struct Forget {  // however this ends, no other loop reaches these any more
      LoopGroupRun* run;
      size_t i;
      ~Forget() {
        run->scopes_[i] = nullptr;
        run->all_ended_[i] = nullptr;
      }
    } forget{this, i};
    all_ended_[i] = &all_ended;
    scopes_[i] = &scope;
    std::exception_ptr error;
    try {
      Task<> body = main_(group_, i);
      co_await scope.run(std::move(body));
    } catch (...) {
      error = std::current_exception();
    }
    scopes_[i] = nullptr;
    if (error) {
      const std::string why = absl::StrCat("loop ", i, " failed: ", describe(error));
      {
        std::lock_guard<std::mutex> lock(mutex_);
        errors_.push_back(std::move(error));
      }
      for (size_t j = 0; j < group_.size(); ++j) {
        if (j == i) continue;
        (void)group_[j].run_soon([this, j, why] {
          if (scopes_[j] != nullptr) scopes_[j]->cancel(why);
        });
      }
    }
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last = --running_ == 0;
    }
    if (last) {
      for (size_t j = 0; j < group_.size(); ++j) {
        (void)group_[j].run_soon([this, j] {
          if (all_ended_[j] != nullptr) all_ended_[j]->set();
        });
      }
    }
    co_await all_ended.wait();
  }

  // After every loop has ended: the error, or a MultiError if several failed on their own.
  void rethrow() {
    group_.tokens_.clear();
    if (errors_.size() == 1) std::rethrow_exception(errors_.front());
    if (errors_.size() > 1) throw MultiError(std::move(errors_));
  }

 private:
  LoopsMain main_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::optional<LoopToken>> tokens_;  // threads: as they join
  LoopGroup group_;
  bool started_ = false;
  bool start_failed_ = false;
  std::vector<CancelScope*> scopes_;
  std::vector<Event*> all_ended_;
  size_t running_;                          // mains still running
  std::vector<std::exception_ptr> errors_;  // in the order they happened
};

}  // namespace internal

void run_loops(const LoopsOptions& options, LoopsMain main) {
  if (options.count == 0) throw UsageError("run_loops: count 0 (at least one loop)");
  touch_real_world("run_loops");
  const size_t n = options.count;
  internal::LoopGroupRun group(n, std::move(main));
  auto loop_main = [&group](size_t i) -> Task<> {
    if (group.join(i, current_loop_token())) co_await group.loop_main(i);
  };
  auto run_one = [&](size_t i) {
    if (options.pin_to_cores) {
      cpu_set_t cores;
      CPU_ZERO(&cores);
      CPU_SET(i % std::max(1u, std::thread::hardware_concurrency()), &cores);
      pthread_setaffinity_np(pthread_self(), sizeof(cores), &cores);
    }
    RunOptions run_options;
    run_options.driver = options.driver;
    try {
      run(loop_main(i), std::move(run_options));
    } catch (...) {  // the loop itself failed (a deadlock, a driver that cannot start)
      group.loop_failed(i, std::current_exception());
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) {
    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);  // signals stay with the calling thread
    threads.emplace_back(run_one, i);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  run_one(0);
  for (std::thread& thread : threads) thread.join();
  group.rethrow();
}

Task<> run_loops_interleaved(const LoopsOptions& options, LoopsMain main) {
  Loop& loop = Loop::current("run_loops_interleaved");
  if (options.count == 0) throw UsageError("run_loops_interleaved: count 0 (at least one loop)");
  if (options.driver != DriverKind::kAuto || options.pin_to_cores) {
    throw UsageError(
        "run_loops_interleaved: the loops share this task's loop, its driver and its thread, so "
        "'driver' and 'pin_to_cores' do not apply (leave them unset)");
  }
  if (loop.driver().threads_allowed()) {
    throw UsageError(absl::StrCat("run_loops_interleaved: the ", loop.driver().name(),
                                  " driver runs threads: use run_loops, which gives each loop a "
                                  "thread of its own"));
  }
  const size_t n = options.count;
  internal::LoopGroupRun group(n, std::move(main));
  std::vector<std::shared_ptr<internal::Inbox>> inboxes;
  std::vector<uint8_t> lanes;
  struct Release {  // however this ends: calls still queued fail, the lanes are free again
    Loop& loop;
    std::vector<std::shared_ptr<internal::Inbox>>& inboxes;
    std::vector<uint8_t>& lanes;
    ~Release() {
      for (auto& inbox : inboxes) inbox->close();
      for (uint8_t lane : lanes) loop.remove_lane(lane);
    }
  } release{loop, inboxes, lanes};
  for (size_t i = 0; i < n; ++i) {
    inboxes.push_back(std::make_shared<internal::Inbox>(loop, internal::Inbox::ForLane{}));
    lanes.push_back(loop.add_lane(inboxes.back()));
  }
  group.set_lanes(inboxes);
  auto lane_main = [&](size_t i) -> Task<> {
    loop.set_running_lane(lanes[i]);  // what it spawns from here on is the lane's
    internal::Inbox& inbox = *inboxes[i];
    co_await with_pool([&](Pool& lane) -> Task<> {
      lane.spawn(inbox.serve_lane(), "interleaved loop's calls");
      co_await group.loop_main(i);
      inbox.finish_lane();
    });
  };
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (size_t i = 0; i < n; ++i) pool.spawn(lane_main(i), absl::StrCat("loop ", i));
    co_return;
  });
  group.rethrow();
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

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
  if (Loop* loop = Loop::current_or_null(); loop != nullptr && loop->inbox_if_made() == inbox_) {
    throw UsageError(
        "LoopToken::run: called on the loop's own thread, where it would wait for itself (await "
        "the task instead)");
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
  if (!loop.driver().threads_allowed()) {
    touch_real_world("current_loop_token");  // in a simulation: the tripwire, naming the seed
    throw UsageError(absl::StrCat("current_loop_token: the ", loop.driver().name(),
                                  " driver runs no threads, so nothing could call in"));
  }
  LoopToken token(loop.inbox());
  (void)loop.inbox();  // arms the wait now that a token exists
  return token;
}

void run_loops(const LoopsOptions& options,
               std::function<Task<>(const LoopGroup& group, size_t index)> main) {
  if (options.count == 0) throw UsageError("run_loops: count 0 (at least one loop)");
  touch_real_world("run_loops");
  const size_t n = options.count;
  // What the loops share: their tokens (complete before any main starts), their errors, and a
  // way to cancel each one's main from another loop (touched on that loop's thread only).
  struct Shared {
    std::mutex mutex;
    std::condition_variable all_ready;
    std::vector<std::optional<LoopToken>> tokens;
    LoopGroup group;
    bool started = false;
    std::vector<std::exception_ptr> errors;  // in the order they happened
    size_t mains_running = 0;
    std::vector<CancelScope*> scopes;  // loop i's thread only
    std::vector<Event*> all_ended;     // loop i's thread only
  } shared;
  shared.tokens.resize(n);
  shared.scopes.resize(n, nullptr);
  shared.all_ended.resize(n, nullptr);
  shared.mains_running = n;

  auto cancel_others = [&shared, n](size_t failed, const std::string& why) {
    for (size_t j = 0; j < n; ++j) {
      if (j == failed) continue;
      (void)shared.group[j].run_soon([&shared, j, why] {
        if (shared.scopes[j] != nullptr) shared.scopes[j]->cancel(why);
      });
    }
  };
  auto loop_main = [&](size_t i) -> Task<> {
    {
      std::unique_lock<std::mutex> lock(shared.mutex);
      shared.tokens[i].emplace(current_loop_token());
      if (std::all_of(shared.tokens.begin(), shared.tokens.end(),
                      [](const auto& t) { return t.has_value(); })) {
        for (auto& token : shared.tokens) shared.group.tokens_.push_back(*token);
        shared.started = true;
        shared.all_ready.notify_all();
      }
      // Before any main runs, every loop can be reached (a short wait, at start only).
      shared.all_ready.wait(lock, [&] { return shared.started; });
    }
    // Every loop serves the others (submit_to) until every main has ended.
    Event all_ended;
    shared.all_ended[i] = &all_ended;
    CancelScope scope;
    shared.scopes[i] = &scope;
    std::exception_ptr error;
    try {
      Task<> body = main(shared.group, i);
      co_await scope.run(std::move(body));
    } catch (...) {
      error = std::current_exception();
    }
    shared.scopes[i] = nullptr;
    if (error) {
      const std::string why = absl::StrCat("loop ", i, " failed: ", describe(error));
      {
        std::lock_guard<std::mutex> lock(shared.mutex);
        shared.errors.push_back(std::move(error));
      }
      cancel_others(i, why);
    }
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(shared.mutex);
      last = --shared.mains_running == 0;
    }
    if (last) {
      for (size_t j = 0; j < n; ++j) {
        (void)shared.group[j].run_soon([&shared, j] { shared.all_ended[j]->set(); });
      }
    }
    co_await all_ended.wait();
    shared.all_ended[i] = nullptr;
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
      std::lock_guard<std::mutex> lock(shared.mutex);
      shared.errors.push_back(std::current_exception());
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
  shared.group.tokens_.clear();
  if (shared.errors.size() == 1) std::rethrow_exception(shared.errors.front());
  if (shared.errors.size() > 1) throw MultiError(std::move(shared.errors));
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

// giambio/first_of.h: first_of, racing several tasks for the first success.
//
//   std::vector<giambio::Task<absl::StatusOr<Reply>>> attempts;
//   for (const SocketAddress& replica : replicas) attempts.push_back(ask(replica, request));
//   giambio::First<absl::StatusOr<Reply>> first = co_await giambio::first_of(std::move(attempts));
//   if (!first.winner) return first.status();      // every attempt failed: all of them named
//   Reply reply = **first.value;                    // the first to succeed
//
// first_of runs every task concurrently in a pool of its own. The first task to *succeed* wins:
// the others are cancelled (with the reason "first_of: task N won"), first_of waits for them to
// end, and returns the winner's index and value. A task fails when it throws (anything but the
// Cancelled that first_of itself causes) or, for a task returning absl::Status or
// absl::StatusOr<U>, when it returns a non-OK status; a failure does not end the race. Every
// failure is kept, in the order it happened, before and after the winner: nothing is lost
// (hedged requests and happy eyeballs need exactly this: an attempt that fails is expected).
// When every task fails there is no winner and status() lists them all.
//
// Compared with Curio's TaskGroup(wait=any) and asyncio's FIRST_COMPLETED, which stop at the
// first task to finish however it finished, this stops at the first success (docs/trio.md).
// A cancellation from outside reaches every task and propagates as usual; no task is left
// running when first_of returns. An empty list is a UsageError. Works the same in the simulator.
#ifndef GIAMBIO_FIRST_OF_H_
#define GIAMBIO_FIRST_OF_H_

#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "giambio/errors.h"
#include "giambio/pool.h"
#include "giambio/task.h"

namespace giambio {

// One task of first_of that failed: with a status or with an exception.
struct Failure {
  size_t index = 0;  // the task's place in the list given to first_of
  absl::Status status;
  std::exception_ptr exception;
  // "task 1: connect(10.0.0.2:80): Connection refused"
  std::string describe() const;
};

template <typename T>
struct First {
  struct NoValue {};
  // The index of the task that succeeded first; empty when every task failed.
  std::optional<size_t> winner;
  // Its value (absent for Task<void>).
  [[no_unique_address]] std::conditional_t<std::is_void_v<T>, NoValue, std::optional<T>> value{};
  std::vector<Failure> failures;

  // OK with a winner; otherwise the first failure's code (Unknown for an exception) and every
  // failure in the message.
  absl::Status status() const;
};

namespace internal {

template <typename T>
struct IsStatusLike : std::false_type {};
template <>
struct IsStatusLike<absl::Status> : std::true_type {};
template <typename U>
struct IsStatusLike<absl::StatusOr<U>> : std::true_type {};

inline const absl::Status& status_of(const absl::Status& s) { return s; }
template <typename U>
const absl::Status& status_of(const absl::StatusOr<U>& s) {
  return s.status();
}

absl::Status all_failed(const std::vector<Failure>& failures, size_t tasks);

template <typename T>
Task<> first_of_attempt(Task<T> task, size_t index, First<T>& first, Pool pool) {
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
    } else {
      value.emplace(co_await std::move(task));
    }
  } catch (const Cancelled&) {
    throw;
  } catch (...) {
    first.failures.push_back(Failure{index, absl::OkStatus(), std::current_exception()});
    co_return;
  }
  if constexpr (IsStatusLike<T>::value) {
    if (!status_of(*value).ok()) {
      first.failures.push_back(Failure{index, status_of(*value), nullptr});
      co_return;
    }
  }
  if (first.winner) co_return;  // a later success, finished before its cancellation arrived
  first.winner = index;
  if constexpr (!std::is_void_v<T>) first.value = std::move(value);
  pool.cancel(absl::StrCat("first_of: task ", index, " won"));
}

}  // namespace internal

template <typename T>
Task<First<T>> first_of(std::vector<Task<T>> tasks) {
  if (tasks.empty()) throw UsageError("first_of: no tasks to race");
  First<T> first;
  co_await with_pool([&](Pool& pool) -> Task<> {
    for (size_t i = 0; i < tasks.size(); ++i) {
      pool.spawn(internal::first_of_attempt(std::move(tasks[i]), i, first, pool),
                 absl::StrCat("first_of[", i, "]"));
    }
    co_return;
  });
  co_return std::move(first);
}

template <typename T>
absl::Status First<T>::status() const {
  if (winner) return absl::OkStatus();
  return internal::all_failed(failures, failures.size());
}

}  // namespace giambio

#endif  // GIAMBIO_FIRST_OF_H_

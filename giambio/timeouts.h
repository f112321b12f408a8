// giambio/timeouts.h: giambio's with_timeout and skip_after, built on cancel scopes.
//
//   absl::StatusOr<Reply> r = co_await giambio::with_timeout(absl::Seconds(2), ask(peer));
//   if (absl::IsDeadlineExceeded(r.status())) ...            // too slow
//
//   std::optional<Reply> r = co_await giambio::skip_after(absl::Seconds(2), ask(peer));
//   if (!r) ...                                              // skipped, silently
//
// Both run `body` in a new cancel scope whose deadline is `timeout` from now. Everything inside
// is covered: code awaited inline and every task of every pool opened inside (with_timeout(d,
// with_pool(...)) times out the block and all its children together).
//
// with_timeout reports the deadline as a value, as giambio reports every operating error:
//   body returns       with_timeout returns
//   void               absl::Status
//   absl::Status       absl::Status             (the body's own status, or DeadlineExceeded)
//   absl::StatusOr<U>  absl::StatusOr<U>        (likewise)
//   any other T        absl::StatusOr<T>
// The DeadlineExceeded message names the operation and the timeout: "with_timeout(2s): ...".
//
// skip_after returns std::optional<T> (empty when skipped), or for a void body a bool that is
// true when the body completed.
//
// A negative timeout is a UsageError. Cancellations of outer scopes pass through unchanged.
//
// The scope, when the caller wants to reach it (Trio's `with fail_after(d) as scope`): pass a
// CancelScope that was never entered as the last argument. The timeout becomes its relative
// deadline; configure anything else first (set_shield(true) for a shielded timeout), and read,
// move or cancel it while the body runs (from the body or another task). Afterwards
// cancelled_caught() says whether it fired. If the scope was cancelled by something other than
// its deadline (scope.cancel()), with_timeout reports Cancelled naming the reason instead of
// DeadlineExceeded:
//
//   CancelScope scope;
//   scope.set_shield(true);            // outer cancellations wait for the flush
//   absl::Status s = co_await giambio::with_timeout(absl::Seconds(2), flush(log), scope);
#ifndef GIAMBIO_TIMEOUTS_H_
#define GIAMBIO_TIMEOUTS_H_

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "giambio/cancel_scope.h"
#include "giambio/task.h"

namespace giambio {
namespace internal {

template <typename T>
struct TimeoutResultOf {
  using type = absl::StatusOr<T>;
};
template <>
struct TimeoutResultOf<void> {
  using type = absl::Status;
};
template <>
struct TimeoutResultOf<absl::Status> {
  using type = absl::Status;
};
template <typename U>
struct TimeoutResultOf<absl::StatusOr<U>> {
  using type = absl::StatusOr<U>;
};

// What a caught cancellation of with_timeout's scope reports: DeadlineExceeded when the deadline
// fired, Cancelled naming the reason when something else cancelled the scope.
absl::Status timeout_cancelled(const char* operation, absl::Duration timeout,
                               const CancelReason* reason);
// Throws UsageError "operation(-1s): the timeout must not be negative".
void check_timeout(const char* operation, absl::Duration timeout);

}  // namespace internal

template <typename T>
using TimeoutResult = typename internal::TimeoutResultOf<T>::type;

namespace internal {

// The two functions below, in the caller's scope or (scope == nullptr) in one of their own.
template <typename T>
Task<TimeoutResult<T>> with_timeout_in(absl::Duration timeout, Task<T> body, CancelScope* given) {
  check_timeout("with_timeout", timeout);
  CancelScope own;
  CancelScope& scope = given != nullptr ? *given : own;
  scope.set_relative_deadline(timeout);
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  if constexpr (std::is_void_v<T>) {
    co_await scope.run(std::move(body));
  } else {
    value = co_await scope.run(std::move(body));
  }
  if (scope.cancelled_caught()) {
    co_return timeout_cancelled("with_timeout", timeout, scope.cancel_reason());
  }
  if constexpr (std::is_void_v<T>) {
    co_return absl::OkStatus();
  } else {
    co_return std::move(*value);
  }
}

template <typename T>
Task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> skip_after_in(
    absl::Duration timeout, Task<T> body, CancelScope* given) {
  check_timeout("skip_after", timeout);
  CancelScope own;
  CancelScope& scope = given != nullptr ? *given : own;
  scope.set_relative_deadline(timeout);
  if constexpr (std::is_void_v<T>) {
    co_await scope.run(std::move(body));
    co_return !scope.cancelled_caught();
  } else {
    co_return co_await scope.run(std::move(body));
  }
}

}  // namespace internal

template <typename T>
Task<TimeoutResult<T>> with_timeout(absl::Duration timeout, Task<T> body) {
  return internal::with_timeout_in(timeout, std::move(body), nullptr);
}
template <typename T>
Task<TimeoutResult<T>> with_timeout(absl::Duration timeout, Task<T> body, CancelScope& scope) {
  return internal::with_timeout_in(timeout, std::move(body), &scope);
}

template <typename T>
Task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> skip_after(
    absl::Duration timeout, Task<T> body) {
  return internal::skip_after_in(timeout, std::move(body), nullptr);
}
template <typename T>
Task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> skip_after(
    absl::Duration timeout, Task<T> body, CancelScope& scope) {
  return internal::skip_after_in(timeout, std::move(body), &scope);
}

// The same for a body that converts to a Task (a stream's read() or write_all()), with or
// without a scope.
template <ConvertsToTask C, typename... Scope>
auto with_timeout(absl::Duration timeout, C body, Scope&... scope) {
  return with_timeout(timeout, Task<typename C::result_type>(std::move(body)), scope...);
}
template <ConvertsToTask C, typename... Scope>
auto skip_after(absl::Duration timeout, C body, Scope&... scope) {
  return skip_after(timeout, Task<typename C::result_type>(std::move(body)), scope...);
}

}  // namespace giambio

#endif  // GIAMBIO_TIMEOUTS_H_

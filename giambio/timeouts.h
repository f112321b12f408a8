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

absl::Status deadline_exceeded(const char* operation, absl::Duration timeout);
// Throws UsageError "operation(-1s): the timeout must not be negative".
void check_timeout(const char* operation, absl::Duration timeout);

}  // namespace internal

template <typename T>
using TimeoutResult = typename internal::TimeoutResultOf<T>::type;

template <typename T>
Task<TimeoutResult<T>> with_timeout(absl::Duration timeout, Task<T> body) {
  internal::check_timeout("with_timeout", timeout);
  CancelScope scope;
  scope.set_relative_deadline(timeout);
  if constexpr (std::is_void_v<T>) {
    co_await scope.run(std::move(body));
    if (scope.cancelled_caught()) co_return internal::deadline_exceeded("with_timeout", timeout);
    co_return absl::OkStatus();
  } else {
    std::optional<T> value = co_await scope.run(std::move(body));
    if (scope.cancelled_caught()) co_return internal::deadline_exceeded("with_timeout", timeout);
    co_return std::move(*value);
  }
}

template <typename T>
Task<std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>> skip_after(
    absl::Duration timeout, Task<T> body) {
  internal::check_timeout("skip_after", timeout);
  CancelScope scope;
  scope.set_relative_deadline(timeout);
  if constexpr (std::is_void_v<T>) {
    co_await scope.run(std::move(body));
    co_return !scope.cancelled_caught();
  } else {
    co_return co_await scope.run(std::move(body));
  }
}

}  // namespace giambio

#endif  // GIAMBIO_TIMEOUTS_H_

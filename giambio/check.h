// giambio/check.h: GIAMBIO_CHECK, an invariant check that is always on.
//
//   GIAMBIO_CHECK(in_flight_ > 0, "completion with nothing in flight (fd ", fd, ")");
//
// A failed check means giambio's own state is corrupt (a bug in giambio, or memory overwritten
// by someone else): it prints the condition, the message, the file and line, and the context
// of the thread (a simulation names its seed and how to replay it), then aborts. It is not for
// the user's mistakes, which are UsageError (errors.h) and leave the program running.
//
// Checks stay on in optimized builds (no NDEBUG switch): the condition costs one predictable
// branch, and the message's arguments are only evaluated when the check fails.
#ifndef GIAMBIO_CHECK_H_
#define GIAMBIO_CHECK_H_

#include <string>
#include <string_view>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

namespace giambio {

// What a failed check on this thread prints after its message; sim::World::run installs
// "simulation seed=S faults{...}" for its run, so a failure names the seed that replays it.
// Installed for a scope and restored on its end. `context` must outlive the object.
class CheckContext {
 public:
  explicit CheckContext(std::string_view context);
  ~CheckContext();
  CheckContext(const CheckContext&) = delete;
  CheckContext& operator=(const CheckContext&) = delete;

  // The innermost context installed on this thread, or "" if none.
  static std::string_view current();

 private:
  std::string_view context_;
  const CheckContext* previous_;
};

namespace internal {
[[noreturn]] void check_failed(const char* condition, const char* file, int line,
                               const std::string& message);
}  // namespace internal

}  // namespace giambio

// The failure path is a cold, never-inlined lambda, so a check adds one compare and branch to
// the function it guards and does not bloat it or stop it from being inlined.
#define GIAMBIO_CHECK(condition, ...)                                     \
  do {                                                                    \
    if (ABSL_PREDICT_FALSE(!(condition))) {                               \
      [&]() ABSL_ATTRIBUTE_COLD ABSL_ATTRIBUTE_NOINLINE {                 \
        ::giambio::internal::check_failed(#condition, __FILE__, __LINE__, \
                                          ::absl::StrCat(__VA_ARGS__));   \
      }();                                                                \
    }                                                                     \
  } while (false)

#endif  // GIAMBIO_CHECK_H_

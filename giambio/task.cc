#include "giambio/task.h"

namespace giambio::internal {

// Set by the loop while it runs a task (Loop::run_task): where awaiting coroutines name the next
// one to resume.
constinit thread_local std::coroutine_handle<>* trampoline_slot = nullptr;

}  // namespace giambio::internal

#include "giambio/buggify.h"

#include <utility>

namespace giambio {
namespace internal {

constinit thread_local BuggifyHook* buggify_hook = nullptr;

}  // namespace internal

BuggifyHook* set_buggify_hook(BuggifyHook* hook) {
  return std::exchange(internal::buggify_hook, hook);
}

}  // namespace giambio

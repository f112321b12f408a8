#include "giambio/check.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace giambio {
namespace {

thread_local const CheckContext* innermost = nullptr;

}  // namespace

CheckContext::CheckContext(std::string_view context)
    : context_(context), previous_(std::exchange(innermost, this)) {}

CheckContext::~CheckContext() { innermost = previous_; }

std::string_view CheckContext::current() {
  return innermost == nullptr ? std::string_view() : innermost->context_;
}

namespace internal {

void check_failed(const char* condition, const char* file, int line, const std::string& message) {
  const std::string_view context = CheckContext::current();
  std::fprintf(stderr, "giambio: internal check failed at %s:%d: %s%s%s%s%.*s\n", file, line,
               condition, message.empty() ? "" : ": ", message.c_str(), context.empty() ? "" : "; ",
               static_cast<int>(context.size()), context.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace internal
}  // namespace giambio

// Fuzz target for sim/trace_reader: any bytes give a trace or an InvalidArgument, never a crash,
// a hang or unbounded recursion; a trace read back compares identical to itself.
//
//   tools/fuzz trace_reader 60      # libFuzzer with clang, 60 seconds
//   bazel test //sim:trace_reader_fuzz_test   # the corpus and fixed mutations, any compiler
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sim/trace_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<giambio::sim::ChromeTrace> trace = giambio::sim::read_chrome_trace(text);
  if (!trace.ok()) {
    if (trace.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (giambio::sim::first_divergence(*trace, *trace).has_value()) std::abort();
  (void)giambio::sim::describe_divergence(*trace, *trace, std::nullopt);
  return 0;
}

// tools/trace_diff.cc: where two simulation traces of the same scenario first diverge.
//
//   bazel run --config=opt //tools:simulate -- --scenario=kv --seed=3 --trace_out=a.json
//   bazel run --config=opt //tools:simulate -- --scenario=kv --seed=3 --bug --trace_out=b.json
//   bazel run //tools:trace_diff -- /tmp/a.json /tmp/b.json
//
// Prints "identical (...)" and exits 0, or the last common event and the first differing one in
// each trace (virtual time, host, task, event) and exits 1. Unreadable files, malformed JSON or
// bad arguments exit 2 with a message naming the file and the byte offset.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "examples/user_path.h"
#include "sim/trace_reader.h"

namespace {

constexpr char kUsage[] =
    "usage: trace_diff A.json B.json\n"
    "  compares two Chrome trace-event files written by `simulate --trace_out` and prints the\n"
    "  first event where they differ (exit 1), or \"identical\" (exit 0); errors exit 2\n";

absl::StatusOr<giambio::sim::ChromeTrace> load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return absl::DataLossError(absl::StrCat(path, ": read failed"));
  absl::StatusOr<giambio::sim::ChromeTrace> trace = giambio::sim::read_chrome_trace(text.str());
  if (!trace.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", trace.status().message()));
  }
  return trace;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 3) {
    std::fprintf(stderr, "trace_diff: expected two trace files, got %d arguments\n%s", argc - 1,
                 kUsage);
    return 2;
  }
  giambio::sim::ChromeTrace traces[2];
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<giambio::sim::ChromeTrace> trace =
        load(giambio::examples::user_path(argv[i + 1]));
    if (!trace.ok()) {
      std::fprintf(stderr, "trace_diff: %s\n", std::string(trace.status().message()).c_str());
      return 2;
    }
    traces[i] = *std::move(trace);
  }
  const auto divergence = giambio::sim::first_divergence(traces[0], traces[1]);
  std::fputs(giambio::sim::describe_divergence(traces[0], traces[1], divergence).c_str(), stdout);
  return divergence ? 1 : 0;
}
